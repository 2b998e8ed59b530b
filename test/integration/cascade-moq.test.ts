/**
 * MoQ across the cascade: node A bridges its synthetic stream into its relay, which registers the
 * broadcast in the Redis relay directory; a MoQ viewer on node B's relay gets it through B's relay
 * chaining to A's (B has no SFU viewer of the room, so nothing is piped at the SFU level).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, readGroups } from '../../loadtest/core/moqClient';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { waitFor } from '../../loadtest/core/waitFor';
import type { SubsecNode } from '../../src/SubsecNode';

let redis: TestRedis;
let a: SubsecNode;
let b: SubsecNode;

describe('MoQ relays chained through the Redis relay directory', () => {
  beforeAll(async () => {
    redis = await startRedis();
    const common = (id: string) => ({
      node: { id, region: 'r1' },
      redis: { url: redis.url, keyPrefix: 'moq:' },
      cascade: { coordinator: 'redis' as const },
      moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
    });
    a = await startNode({ ...common('moq-a'), synthetic: { enabled: true, room: 'tv', width: 320, height: 180, fps: 15, bitrateKbps: 300 } });
    b = await startNode(common('moq-b'));
    await waitFor(async () => (await b.moqRelay!.directory.lookup('tv/synthetic')).includes(a.moqRelay!.addresses.url), {
      what: 'directory entry',
      timeoutMs: 20_000,
    });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.stop();
  });

  it('delivers a broadcast of node A to a MoQ viewer on node B', async () => {
    const conn = await connectMoq(b.moqRelay!.addresses, b.tokens.issue({ room: 'tv', identity: 'moq-viewer', canSubscribe: true }));
    try {
      const video = conn.consume(Moq.Path.from('tv/synthetic')).track('video').subscribe({ priority: 10 });
      const groups = await readGroups(video, (g) => g.length >= 2 && g.at(-1)!.frames.length > 0, 20_000);
      expect(groups.length).toBeGreaterThanOrEqual(2);
      expect(b.cascade.manager.pulls()).toEqual([]);
      video.close();
    } finally {
      conn.close();
    }
  });

  it('forgets the registrations of a node that left', async () => {
    await a.close();
    await waitFor(async () => !(await b.moqRelay!.directory.lookup('tv/synthetic')).includes(a.moqRelay!.addresses.url), {
      what: 'entry dropped',
      timeoutMs: 5_000,
    });
  });
});
