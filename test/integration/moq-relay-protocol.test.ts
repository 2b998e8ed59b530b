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
    await openBidi(t, ControlStream.CLIENT_COMPAT, 3, 1, 0xff0dad02, 0);
    expect(await within(closeCodeOf(t), 5_000, 'close')).toBe(SessionCode.VERSION_NEGOTIATION_FAILED);
    expect(relay.stats.sessionsRefused).toBeGreaterThan(refused);
  });

  it('refuses at the upgrade a client offering only versions it does not speak', async () => {
    await expect(rawSession(`${relay.addresses.url}/?jwt=${token('p')}`, ['qmux-01.moq-transport-17'])).rejects.toMatchObject({ status: 400 });
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
