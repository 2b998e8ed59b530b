/**
 * Bad input at the relay: malformed and oversized messages, unknown stream types and versions,
 * subscribes to nothing, oversized frames and abrupt disconnects end the offending session (or
 * stream) with the registry's code, while a live @moq/net session on the same relay keeps
 * receiving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups, within, type TestPublisher } from '../../loadtest/core/moqClient';
import { bytes, closeCodeOf, rawSession, startRelay, token } from '../helpers/relay';
import { waitFor } from '../../loadtest/core/waitFor';
import { SessionCode, StreamCode } from '../../relay/errors';
import type { RelayServer } from '../../relay/RelayServer';
import { ControlStream } from '../../relay/wire/messages';
import { encodeControl } from '../../relay/wire/ietf';

let relay: RelayServer;
let publisher: Moq.Connection.Established;
let pub: TestPublisher;
let watcher: Moq.Connection.Established;
let watched: Moq.Track.Subscriber;
let received = 0;

beforeAll(async () => {
  relay = await startRelay({ maxMessageBytes: 4096, maxFrameBytes: 2048 });
  publisher = await connectMoq(relay.addresses, token('p', { canPublish: true }));
  pub = publishTestBroadcast(publisher, 'p/live', { intervalMs: 30 });
  await waitFor(() => relay.origin.get('p/live'), { what: 'announce' });
  // A healthy session that must be unaffected by everything below.
  watcher = await connectMoq(relay.addresses, token('p'));
  watched = watcher.consume(Moq.Path.from('p/live')).track('video').subscribe({ priority: 1 });
  void readGroups(
    watched,
    () => false,
    120_000,
    () => received++,
  ).catch(() => undefined);
  await waitFor(() => received > 3, { what: 'watcher frames' });
}, 30_000);

afterAll(async () => {
  pub?.stop();
  watched?.close();
  publisher?.close();
  watcher?.close();
  await relay?.close();
});

/** Asserts the healthy session still receives frames. */
async function stillHealthy(): Promise<void> {
  const before = received;
  await waitFor(() => received > before + 3, { what: 'frames on the healthy session' });
}

const LITE04 = ['qmux-01.moq-lite-04'];

async function openBidi(t: Awaited<ReturnType<typeof rawSession>>, ...parts: Array<number | bigint | Uint8Array>) {
  const s = await t.createBidirectionalStream();
  const w = s.writable.getWriter();
  await w.write(bytes(...parts));
  return { stream: s, writer: w, reader: s.readable.getReader() };
}

describe('relay bad input', () => {
  it('closes a session that sends a malformed SUBSCRIBE with PROTOCOL_VIOLATION', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    const violations = relay.stats.protocolViolations;
    // Size 3, then a varint that claims 8 bytes: the message body is truncated.
    await openBidi(t, ControlStream.SUBSCRIBE, 3, new Uint8Array([0xc0, 0, 0]));
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
    expect(relay.stats.protocolViolations).toBe(violations + 1);
    await stillHealthy();
  });

  it('closes a session that announces an oversized message before reading its body', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    await openBidi(t, ControlStream.ANNOUNCE, 1_000_000);
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
    await stillHealthy();
  });

  it('closes a session that opens an unknown stream type', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    await openBidi(t, 0x3f);
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
  });

  it('closes a version-less session that starts a pre-ALPN SETUP with VERSION_NEGOTIATION_FAILED', async () => {
    const refused = relay.stats.sessionsRefused;
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, ['qmux-01']);
    // A pre-ALPN CLIENT_SETUP as @moq/net writes it (16-bit length) listing only moq-lite-02 and -01.
    const setup = encodeControl(ControlStream.CLIENT_COMPAT, (e) => e.varint(2).varint(0xff0dad02).varint(0xff0dad01).varint(0));
    await openBidi(t, setup);
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.VERSION_NEGOTIATION_FAILED);
    expect(relay.stats.sessionsRefused).toBeGreaterThan(refused);
  });

  it('refuses at the upgrade a client offering only versions it does not speak', async () => {
    await expect(rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, ['qmux-01.moqt-17'])).rejects.toMatchObject({ status: 400 });
  });

  it('resets a subscribe to a missing broadcast with NOT_FOUND and keeps the session', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    const name = new TextEncoder().encode('p/nothing');
    const track = new TextEncoder().encode('video');
    const body = bytes(0, name.byteLength, name, track.byteLength, track, 1, 0, 0, 0, 0);
    const { reader } = await openBidi(t, ControlStream.SUBSCRIBE, body.byteLength, body);
    const err = await within(
      reader.read().then(
        () => undefined,
        (e: unknown) => e,
      ),
      5_000,
      'reset',
    );
    expect((err as { streamErrorCode?: number }).streamErrorCode).toBe(StreamCode.NOT_FOUND);
    // Still open: a valid subscribe on the same session is answered.
    const live = new TextEncoder().encode('p/live');
    const ok = bytes(1, live.byteLength, live, track.byteLength, track, 1, 0, 0, 0, 0);
    const second = await openBidi(t, ControlStream.SUBSCRIBE, ok.byteLength, ok);
    const { value } = await within(second.reader.read(), 5_000, 'SUBSCRIBE_OK');
    expect(value![0]).toBe(0); // response type OK
    t.close();
  });

  it('resets a group whose frame exceeds the frame limit, keeping the publisher session', async () => {
    const big = await connectMoq(relay.addresses, token('p', { canPublish: true }));
    const bigPub = publishTestBroadcast(big, 'p/big', { intervalMs: 50, frameBytes: 4096 });
    try {
      await waitFor(() => relay.origin.get('p/big'), { what: 'announce' });
      const viewer = watcher.consume(Moq.Path.from('p/big')).track('video').subscribe({ priority: 1 });
      let frames = 0;
      void readGroups(
        viewer,
        () => false,
        20_000,
        () => frames++,
      ).catch(() => undefined);
      const rejected = relay.stats.framesRejected;
      await waitFor(() => relay.stats.framesRejected >= rejected + 3, { what: 'oversized groups refused' });
      expect(frames).toBe(0);
      expect(relay.origin.get('p/big')).toBeDefined();
      viewer.close();
    } finally {
      bigPub.stop();
      big.close();
    }
    await stillHealthy();
  });

  it('withdraws the broadcasts of a publisher that disconnects abruptly and finishes their subscriptions', async () => {
    const gone = await connectMoq(relay.addresses, token('p', { canPublish: true }));
    const goner = publishTestBroadcast(gone, 'p/gone', { intervalMs: 30 });
    await waitFor(() => relay.origin.get('p/gone'), { what: 'announce' });
    // A raw subscriber, so the test sees exactly what the relay puts on the subscribe stream.
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    const name = new TextEncoder().encode('p/gone');
    const track = new TextEncoder().encode('video');
    const body = bytes(0, name.byteLength, name, track.byteLength, track, 1, 0, 0, 0, 0);
    const { reader } = await openBidi(t, ControlStream.SUBSCRIBE, body.byteLength, body);
    let groups = 0;
    void (async () => {
      const incoming = t.incomingUnidirectionalStreams.getReader();
      for (;;) {
        const { value, done } = await incoming.read().catch(() => ({ value: undefined, done: true as const }));
        if (done || !value) return;
        groups++;
        void value.cancel().catch(() => undefined);
      }
    })();
    expect((await within(reader.read(), 5_000, 'SUBSCRIBE_OK')).value![0]).toBe(0);
    await waitFor(() => groups > 2, { what: 'groups from the doomed publisher' });
    const subscriptions = relay.stats.subscriptions;
    // Drop the publisher's transport without any handshake.
    gone.close();
    goner.stop();
    await waitFor(() => !relay.origin.get('p/gone'), { what: 'withdrawal' });
    // The relay finishes the subscribe stream: the track ended.
    expect((await within(reader.read(), 5_000, 'FIN')).done).toBe(true);
    expect(relay.stats.subscriptions).toBe(subscriptions - 1);
    t.close();
    await stillHealthy();
  });
});

describe('relay bad input on moq-lite-05 and -06', () => {
  const LITE05 = ['qmux-01.moq-lite-05'];
  const LITE06 = ['qmux-01.moq-lite-06-wip'];

  async function openUni(t: Awaited<ReturnType<typeof rawSession>>, ...parts: Array<number | bigint | Uint8Array>) {
    const w = (await t.createUnidirectionalStream()).getWriter();
    await w.write(bytes(...parts));
    await w.close();
  }

  it('closes a lite-05 session that sends a second SETUP with PROTOCOL_VIOLATION', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE05);
    await openUni(t, 1, 1, 0); // SETUP, no parameters
    await openUni(t, 1, 1, 0);
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
    await stillHealthy();
  });

  it('closes a lite-04 session that opens lite-05 streams (SETUP, TRACK) with PROTOCOL_VIOLATION', async () => {
    const a = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    await openUni(a, 1, 1, 0);
    expect(await within(closeCodeOf(a), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
    const b = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE04);
    await openBidi(b, ControlStream.TRACK, 0);
    expect(await within(closeCodeOf(b), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
  });

  it('answers TRACK with TRACK_INFO, resets one for a missing broadcast with NOT_FOUND and keeps the session', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, LITE05);
    const track = new TextEncoder().encode('video');
    const missing = new TextEncoder().encode('p/nothing');
    const bad = await openBidi(t, ControlStream.TRACK, missing.byteLength + track.byteLength + 2, missing.byteLength, missing, track.byteLength, track);
    const err = await within(
      bad.reader.read().then(
        () => undefined,
        (e: unknown) => e,
      ),
      5_000,
      'reset',
    );
    expect((err as { streamErrorCode?: number }).streamErrorCode).toBe(StreamCode.NOT_FOUND);
    const live = new TextEncoder().encode('p/live');
    const ok = await openBidi(t, ControlStream.TRACK, live.byteLength + track.byteLength + 2, live.byteLength, live, track.byteLength, track);
    const { value } = await within(ok.reader.read(), 5_000, 'TRACK_INFO');
    // size, priority, ordered, latencyMax (varint), timescale: the @moq/net publisher's 1000 (ms) as a 2-byte varint.
    const info = value!;
    expect(info[0]).toBe(info.byteLength - 1);
    expect([info.at(-2)! & 0x3f, info.at(-1)!]).toEqual([1000 >> 8, 1000 & 0xff]);
    expect((await within(ok.reader.read(), 5_000, 'FIN')).done).toBe(true);
    t.close();
  });

  it('closes a lite-06 publisher that ends an announce id it never started with PROTOCOL_VIOLATION', async () => {
    const t = await rawSession(`${relay.addresses.url}/?jwt=${token('p', { canPublish: true })}`, LITE06);
    const incoming = t.incomingBidirectionalStreams.getReader();
    const { value: stream } = await within(incoming.read(), 5_000, "the relay's announce request");
    const r = stream!.readable.getReader();
    const request: number[] = [];
    while (request.length < 3) request.push(...(await within(r.read(), 5_000, 'ANNOUNCE_REQUEST')).value!);
    // Stream type ANNOUNCE, then a lite-06 request: just the (empty) prefix, no exclude hop.
    expect(request).toEqual([ControlStream.ANNOUNCE, 1, 0]);
    const w = stream!.writable.getWriter();
    await w.write(bytes(2, 0, 0)); // ANNOUNCE_OK: no origin, no initial announcements
    await w.write(bytes(1, 1, 7)); // ANNOUNCE END of id 7
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.PROTOCOL_VIOLATION);
    await stillHealthy();
  });
});
