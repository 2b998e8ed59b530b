/**
 * IETF moq-transport (draft-16, ALPN `moqt-16`) at the relay, with moq-dev's @moq/net as the
 * subscriber over WebSocket (QMux): version negotiation, SUBSCRIBE → SUBSCRIBE_OK and the
 * relay's groups as subgroup streams, PUBLISH_DONE when the track ends, REQUEST_ERROR for a
 * missing broadcast and for what the relay does not support, and protocol violations closing the
 * session (raw sessions, so the codes on the wire are checked).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups, testFrame, within, type TestPublisher } from '../../loadtest/core/moqClient';
import { closeCodeOf, rawSession, startRelay, token } from '../helpers/relay';
import { SessionCode } from '../../relay/errors';
import { Encoder } from '../../relay/wire/Encoder';
import { encodeControl, encodeKeyValues, IetfMessage, IetfSessionCode, readControl, RequestErrorCode } from '../../relay/wire/ietf';
import { StreamReader } from '../../relay/wire/StreamReader';
import { waitFor } from '../../loadtest/core/waitFor';
import type { RelayServer } from '../../relay/RelayServer';

let relay: RelayServer;
let publisher: Moq.Connection.Established;
let pub: TestPublisher;

beforeAll(async () => {
  relay = await startRelay();
  publisher = await connectMoq(relay.addresses, token('ietf', { canPublish: true }), { versions: ['moq-lite-05'] });
  pub = publishTestBroadcast(publisher, 'ietf/cam', { intervalMs: 40, framesPerGroup: 3 });
  await waitFor(() => relay.origin.get('ietf/cam'), { what: 'announce' });
}, 30_000);

afterAll(async () => {
  pub?.stop();
  publisher?.close();
  await relay?.close();
});

describe('IETF moq-transport draft-16', () => {
  it('negotiates moqt-16 and delivers a moq-lite publisher’s groups to a moq-transport subscriber', async () => {
    const conn = await connectMoq(relay.addresses, token('ietf'), { versions: ['moqt-16'] });
    try {
      expect(conn.version).toBe('moq-transport-16');
      expect(relay.sessionList().filter((s) => s.version === 'moqt-16')).toHaveLength(1);
      const sub = conn.consume(Moq.Path.from('ietf/cam')).track('video').subscribe({ priority: 1 });
      const groups = await readGroups(sub, (g) => g.length >= 4, 10_000);
      for (const g of groups.slice(0, -1)) {
        expect(g.frames.map((f) => testFrame(f).index)).toEqual([0, 1, 2]);
        expect(g.frames.every((f) => testFrame(f).group === g.sequence)).toBe(true);
      }
      expect(relay.stats.subscriptions).toBeGreaterThanOrEqual(1);
      sub.close();
    } finally {
      conn.close();
    }
  }, 20_000);
});

/** A raw moqt-16 session that sent CLIENT_SETUP and read SERVER_SETUP; `send` writes control messages. */
async function rawIetf(jwt: string) {
  const t = await rawSession(`${relay.addresses.url}/?jwt=${jwt}`, ['qmux-01.moqt-16']);
  const control = await t.createBidirectionalStream();
  const writer = control.writable.getWriter();
  const reader = new StreamReader(control.readable);
  const send = (bytes: Uint8Array) => writer.write(bytes);
  await send(encodeControl(IetfMessage.CLIENT_SETUP, (e) => encodeKeyValues(e, { varints: new Map([[2n, 100n]]) })));
  const setup = await within(readControl(reader, 65_535), 5_000, 'SERVER_SETUP');
  return { t, send, reader, setup: setup! };
}

/** SUBSCRIBE (draft-16) for `namespace` / `track` with request id `id`. */
function subscribe(id: number, namespace: string[], track: string): Uint8Array {
  return encodeControl(IetfMessage.SUBSCRIBE, (e) => {
    e.varint(id).varint(namespace.length);
    for (const p of namespace) e.string(p);
    e.string(track);
    encodeKeyValues(e, { varints: new Map([[0x20n, 10n]]) });
  });
}

describe('IETF moq-transport draft-14 (pre-ALPN CLIENT_SETUP)', () => {
  it("negotiates draft-14 from @moq/net's version list and delivers the groups", async () => {
    const conn = await connectMoq(relay.addresses, token('ietf'), { versions: ['moql'] });
    try {
      expect(conn.version).toBe('moq-transport-14');
      expect(relay.sessionList().filter((s) => s.version === 'moq-transport-14')).toHaveLength(1);
      const sub = conn.consume(Moq.Path.from('ietf/cam')).track('video').subscribe({ priority: 1 });
      const groups = await readGroups(sub, (g) => g.length >= 3, 10_000);
      for (const g of groups.slice(0, -1)) expect(g.frames.map((f) => testFrame(f).index)).toEqual([0, 1, 2]);
      sub.close();
    } finally {
      conn.close();
    }
  }, 20_000);

  it('answers on the wire: SERVER_SETUP names draft-14, SUBSCRIBE_ERROR TRACK_DOES_NOT_EXIST, SUBSCRIBE_OK', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('ietf')}`, ['qmux-01']);
    const control = await t.createBidirectionalStream();
    const writer = control.writable.getWriter();
    const reader = new StreamReader(control.readable);
    await writer.write(
      encodeControl(IetfMessage.CLIENT_SETUP, (e) => {
        e.varint(2).varint(0xff0dad02).varint(0xff00000e);
        encodeKeyValues(e, { varints: new Map([[2n, 10n]]) }, 14);
      }),
    );
    const setup = (await within(readControl(reader, 65_535), 5_000, 'SERVER_SETUP'))!;
    expect(setup.type).toBe(IetfMessage.SERVER_SETUP);
    expect(setup.body.varint()).toBe(0xff00000e);
    // draft-14 SUBSCRIBE: priority, group order, forward, filter (2 = largest object), parameters.
    const sub14 = (id: number, ns: string[]) =>
      encodeControl(IetfMessage.SUBSCRIBE, (e) => {
        e.varint(id).varint(ns.length);
        for (const p of ns) e.string(p);
        e.string('video').u8(10).u8(2).bool(true).varint(2).varint(0);
      });
    await writer.write(sub14(0, ['ietf', 'nothing']));
    const err = (await within(readControl(reader, 65_535), 5_000, 'SUBSCRIBE_ERROR'))!;
    expect(err.type).toBe(0x05);
    expect([err.body.varint(), err.body.varint()]).toEqual([0, 0x4]);
    expect((await within(readControl(reader, 65_535), 5_000, 'MAX_REQUEST_ID'))!.type).toBe(IetfMessage.MAX_REQUEST_ID);
    await writer.write(sub14(2, ['ietf', 'cam']));
    const ok = (await within(readControl(reader, 65_535), 5_000, 'SUBSCRIBE_OK'))!;
    expect(ok.type).toBe(IetfMessage.SUBSCRIBE_OK);
    // request id, alias, expires 0, group order 2, content exists 0, no parameters
    expect([ok.body.varint(), ok.body.varint(), ok.body.varint(), ok.body.u8(), ok.body.u8(), ok.body.varint()]).toEqual([2, 0, 0, 2, 0, 0]);
    t.close();
  });

  it('closes a pre-ALPN session whose CLIENT_SETUP lists no version it speaks with VERSION_NEGOTIATION_FAILED', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('ietf')}`, ['qmux-01']);
    const control = await t.createBidirectionalStream();
    await control.writable.getWriter().write(encodeControl(IetfMessage.CLIENT_SETUP, (e) => e.varint(1).varint(0xff000011).varint(0)));
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.VERSION_NEGOTIATION_FAILED);
  });
});

describe('IETF moq-transport track end and unsubscribe', () => {
  it('ends the subscriber’s track (PUBLISH_DONE) when the publisher leaves, and frees the subscription on UNSUBSCRIBE', async () => {
    const leaving = await connectMoq(relay.addresses, token('ietf', { canPublish: true }), { versions: ['moq-lite-04'] });
    const leaver = publishTestBroadcast(leaving, 'ietf/brief', { intervalMs: 40 });
    await waitFor(() => relay.origin.get('ietf/brief'), { what: 'announce' });
    const conn = await connectMoq(relay.addresses, token('ietf'), { versions: ['moqt-16'] });
    try {
      const before = relay.stats.subscriptions;
      const sub = conn.consume(Moq.Path.from('ietf/brief')).track('video').subscribe({ priority: 1 });
      await readGroups(sub, (g) => g.length >= 2, 10_000);
      expect(relay.stats.subscriptions).toBe(before + 1);
      leaver.stop();
      leaving.close();
      // The track ends at the relay; PUBLISH_DONE ends it for the subscriber: no more groups.
      const end = await within(
        (async () => {
          for (;;) {
            const g = await sub.recvGroup().catch(() => undefined);
            if (!g) return 'ended';
          }
        })(),
        10_000,
        'track end',
      );
      expect(end).toBe('ended');
      await waitFor(() => relay.stats.subscriptions === before, { what: 'subscription freed' });
      // UNSUBSCRIBE: a live subscription closed by the subscriber is freed at the relay.
      const live = conn.consume(Moq.Path.from('ietf/cam')).track('video').subscribe({ priority: 1 });
      await readGroups(live, (g) => g.length >= 1, 10_000);
      expect(relay.stats.subscriptions).toBe(before + 1);
      live.close();
      await waitFor(() => relay.stats.subscriptions === before, { what: 'unsubscribe' });
    } finally {
      leaver.stop();
      leaving.close();
      conn.close();
    }
  }, 30_000);
});

describe('IETF moq-transport draft-16 on the wire', () => {
  it('answers CLIENT_SETUP with SERVER_SETUP granting request ids', async () => {
    const { t, setup } = await rawIetf(token('ietf'));
    expect(setup.type).toBe(IetfMessage.SERVER_SETUP);
    const count = setup.body.varint();
    expect(count).toBe(2);
    expect(setup.body.varintBig()).toBe(2n); // MAX_REQUEST_ID (first key, delta from 0)
    expect(setup.body.varintBig()).toBeGreaterThan(0n);
    t.close();
  });

  it('answers SUBSCRIBE for a missing broadcast with REQUEST_ERROR DOES_NOT_EXIST and a live one with SUBSCRIBE_OK', async () => {
    const { t, send, reader } = await rawIetf(token('ietf'));
    await send(subscribe(0, ['ietf', 'nothing'], 'video'));
    const err = (await within(readControl(reader, 65_535), 5_000, 'REQUEST_ERROR'))!;
    expect(err.type).toBe(IetfMessage.REQUEST_ERROR);
    expect([err.body.varint(), err.body.varint()]).toEqual([0, RequestErrorCode.DOES_NOT_EXIST]);
    // The slot comes back, then a subscribe to the live broadcast is accepted.
    const max = (await within(readControl(reader, 65_535), 5_000, 'MAX_REQUEST_ID'))!;
    expect(max.type).toBe(IetfMessage.MAX_REQUEST_ID);
    await send(subscribe(2, ['ietf', 'cam'], 'video'));
    const ok = (await within(readControl(reader, 65_535), 5_000, 'SUBSCRIBE_OK'))!;
    expect(ok.type).toBe(IetfMessage.SUBSCRIBE_OK);
    expect(ok.body.varint()).toBe(2);
    // Objects arrive on subgroup streams: type 0x10, alias, group, priority, then object id delta 0 and the size.
    const uni = await within(t.incomingUnidirectionalStreams.getReader().read(), 5_000, 'subgroup stream');
    const data = new StreamReader(uni.value!);
    expect(await data.varint()).toBe(0x10);
    await data.varint(); // alias
    await data.varint(); // group
    await data.bytes(1); // publisher priority
    expect(await data.varint()).toBe(0);
    expect(await data.varint()).toBe(16);
    t.close();
  });

  it('refuses PUBLISH_NAMESPACE with REQUEST_ERROR NOT_SUPPORTED and keeps the session', async () => {
    const { t, send, reader } = await rawIetf(token('ietf', { canPublish: true }));
    const name = new TextEncoder().encode('x');
    await send(encodeControl(IetfMessage.PUBLISH_NAMESPACE, (e) => e.varint(0).varint(1).lengthPrefixed(name).varint(0)));
    const err = (await within(readControl(reader, 65_535), 5_000, 'REQUEST_ERROR'))!;
    expect(err.type).toBe(IetfMessage.REQUEST_ERROR);
    expect([err.body.varint(), err.body.varint()]).toEqual([0, RequestErrorCode.NOT_SUPPORTED]);
    expect(relay.sessionList().some((s) => s.version === 'moqt-16')).toBe(true);
    t.close();
  });

  it('closes a session whose first message is not CLIENT_SETUP with PROTOCOL_VIOLATION', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('ietf')}`, ['qmux-01.moqt-16']);
    const control = await t.createBidirectionalStream();
    await control.writable.getWriter().write(subscribe(0, ['ietf', 'cam'], 'video'));
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
  });

  it('closes a session that skips a request id with INVALID_REQUEST_ID', async () => {
    const { t, send } = await rawIetf(token('ietf'));
    await send(subscribe(4, ['ietf', 'cam'], 'video'));
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(IetfSessionCode.INVALID_REQUEST_ID);
  });

  it('closes a session that sends an unknown control message with PROTOCOL_VIOLATION', async () => {
    const { t, send } = await rawIetf(token('ietf'));
    await send(encodeControl(0x3e, (e: Encoder) => e.varint(0)));
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
  });
});
