/**
 * Relay chaining and fan-out with moq-dev's own client on both ends: an @moq/net publisher's
 * broadcast on relay A reaches @moq/net subscribers on relay B, which finds A through the
 * shared RelayDirectory and holds one upstream subscription for all of its subscribers. B dials A
 * over QUIC (WebTransport over HTTP/3, A's certificate pinned) and falls back to WebSocket when A
 * has no HTTP/3 listener.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups, testFrame, type TestPublisher } from '../../loadtest/core/moqClient';
import { startRelay, token } from '../helpers/relay';
import { waitFor } from '../../loadtest/core/waitFor';
import { InMemoryRelayDirectory } from '../../relay/RelayDirectory';
import type { RelayServer } from '../../relay/RelayServer';

let a: RelayServer;
let b: RelayServer;
let publisher: Moq.Connection.Established;
let pub: TestPublisher;
const directory = new InMemoryRelayDirectory();

beforeAll(async () => {
  a = await startRelay({ upstreamLingerMs: 100 }, directory, 'A');
  b = await startRelay({ upstreamLingerMs: 100 }, directory, 'B');
  publisher = await connectMoq(a.addresses, token('chain', { canPublish: true, canSubscribe: false, identity: 'cam' }), { root: 'chain' });
  pub = publishTestBroadcast(publisher, 'cam', { intervalMs: 40, framesPerGroup: 4 });
  await waitFor(() => a.origin.get('chain/cam'), { what: 'announcement on A' });
  await waitFor(async () => (await directory.lookup('chain/cam')).includes(a.addresses.url), { what: 'directory entry' });
}, 30_000);

afterAll(async () => {
  pub?.stop();
  publisher?.close();
  await Promise.all([a?.close(), b?.close()]);
});

describe('relay chaining', () => {
  it('delivers a publisher on relay A to subscribers on relay B, in order, through one upstream subscription', async () => {
    const subTok = token('chain', { canSubscribe: true, identity: 'viewer' });
    const viewers = await Promise.all([connectMoq(b.addresses, subTok), connectMoq(b.addresses, subTok), connectMoq(b.addresses, subTok, { root: 'chain' })]);
    try {
      const subs = viewers.map((c, i) =>
        c
          .consume(Moq.Path.from(i === 2 ? 'cam' : 'chain/cam'))
          .track('video')
          .subscribe({ priority: 10 }),
      );
      const results = await Promise.all(subs.map((s) => readGroups(s, (g) => g.length >= 8, 20_000)));
      for (const groups of results) {
        const seqs = groups.map((g) => g.sequence);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        for (const g of groups.slice(0, -1)) {
          expect(g.frames.map((f) => testFrame(f).index)).toEqual([0, 1, 2, 3]);
          expect(g.frames.every((f) => testFrame(f).group === g.sequence)).toBe(true);
        }
      }
      // Three subscribers on B, one subscription from B to A, one from A to the publisher.
      expect(b.stats.subscriptions).toBe(3);
      expect(b.stats.upstreamSubscriptions).toBe(1);
      expect(a.stats.subscriptions).toBe(1);
      expect(a.stats.upstreamSubscriptions).toBe(1);
      expect(pub.requested).toEqual(['video']);
      // B's one upstream session to A runs over QUIC (WebTransport over HTTP/3).
      expect(b.stats.sessionsTotalByTransport).toMatchObject({ 'upstream-h3': 1 });
      expect(b.stats.sessionsTotalByTransport['upstream-websocket']).toBeUndefined();
      expect(a.stats.sessionsByTransport['webtransport-h3']).toBe(1);
      for (const s of subs) s.close();
      // The shared upstream subscription closes a linger after the last subscriber leaves.
      await waitFor(() => b.stats.upstreamSubscriptions === 0 && a.stats.subscriptions === 0, { what: 'upstream unsubscribe', timeoutMs: 10_000 });
    } finally {
      for (const v of viewers) v.close();
    }
  }, 40_000);

  it('answers a subscribe for a broadcast no relay has with NOT_FOUND, and keeps the session', async () => {
    const viewer = await connectMoq(b.addresses, token('chain', { canSubscribe: true }));
    try {
      const missing = viewer.consume(Moq.Path.from('chain/nobody')).track('video').subscribe({ priority: 1 });
      await expect(readGroups(missing, () => true, 10_000)).rejects.toThrow();
      // Same session still works.
      const ok = viewer.consume(Moq.Path.from('chain/cam')).track('video').subscribe({ priority: 1 });
      expect((await readGroups(ok, (g) => g.length >= 2, 10_000)).length).toBeGreaterThanOrEqual(2);
    } finally {
      viewer.close();
    }
  }, 30_000);

  it('falls back to WebSocket for an upstream relay without HTTP/3', async () => {
    const wsOnly = await startRelay({ upstreamLingerMs: 100, http3: { enabled: false } }, undefined, 'C');
    const downstream = await startRelay({ upstreamLingerMs: 100, upstreams: [{ prefix: 'chain', url: wsOnly.addresses.url }] }, undefined, 'D');
    const pubConn = await connectMoq(wsOnly.addresses, token('chain', { canPublish: true, canSubscribe: false, identity: 'cam2' }), { root: 'chain' });
    const p2 = publishTestBroadcast(pubConn, 'cam2', { intervalMs: 40, framesPerGroup: 2 });
    const viewer = await connectMoq(downstream.addresses, token('chain', { canSubscribe: true }), { root: 'chain' });
    try {
      await waitFor(() => wsOnly.origin.get('chain/cam2'), { what: 'announcement on C' });
      const groups = await readGroups(viewer.consume(Moq.Path.from('cam2')).track('video').subscribe({ priority: 10 }), (g) => g.length >= 3, 20_000);
      expect(groups.length).toBeGreaterThanOrEqual(3);
      expect(downstream.stats.sessionsTotalByTransport).toMatchObject({ 'upstream-websocket': 1 });
      expect(downstream.stats.sessionsTotalByTransport['upstream-h3']).toBeUndefined();
    } finally {
      viewer.close();
      p2.stop();
      pubConn.close();
      await Promise.all([wsOnly.close(), downstream.close()]);
    }
  }, 40_000);
});
