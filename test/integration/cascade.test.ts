/**
 * Cascade with in-process nodes sharing one real redis-server: A (region r1) publishes the
 * synthetic source; B and C (region r2) have viewers. Media crosses real PipeTransports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { TestViewer } from '../../loadtest/core/cascadeViewer';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import type { SubsecNode } from '../../src/SubsecNode';
import type { ConfigInput } from '../../src/config/schema';

let redis: TestRedis;
let a: SubsecNode;
let b: SubsecNode;
let c: SubsecNode;
const ROOM = 'live';

/** Overrides of a cascade node on the test Redis. */
export function cascadeNode(id: string, region: string, redisUrl: string, extra: ConfigInput = {}): ConfigInput {
  return {
    node: { id, region },
    redis: { url: redisUrl, keyPrefix: 'test:' },
    cascade: { coordinator: 'redis', lingerMs: 300, reconcileMs: 1000 },
    logLevel: 'warn',
    ...extra,
  };
}

const servedBy = (n: SubsecNode) => n.cascade.manager.server.list();
const pullsOf = (n: SubsecNode) => n.cascade.manager.pulls();

describe('cascade across in-process nodes sharing a real Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
    a = await startNode(cascadeNode('a', 'r1', redis.url, { synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 300 } }));
    b = await startNode(cascadeNode('b', 'r2', redis.url));
    c = await startNode(cascadeNode('c', 'r2', redis.url));
    await waitFor(() => [a, b, c].every((n) => n.cascade.coordinator.liveNodes().length === 3), { what: 'all nodes registered' });
    await waitFor(async () => (await b.cascade.coordinator.streams(ROOM)).some((l) => l.nodeId === 'a'), { what: 'A is origin of the synthetic stream' });
  });

  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close(), c?.close()]);
    await redis?.stop();
  });

  it('delivers a stream published on A to a viewer on B through one pipe', async () => {
    const v1 = await TestViewer.join(await b.rooms.getOrCreate(ROOM));
    await waitFor(() => v1.packets() > 30, { what: 'RTP at the viewer on B', timeoutMs: 10_000 });
    expect(pullsOf(b)).toEqual([expect.objectContaining({ room: ROOM, identity: 'synthetic', origin: 'a', parent: 'a', depth: 1, state: 'up' })]);
    expect(pullsOf(b)[0]!.producers).toHaveLength(2);
    expect(servedBy(a)).toEqual([expect.objectContaining({ downstream: 'b', identity: 'synthetic', producers: 2 })]);
    // The remote producers keep the origin's ids.
    const originIds = a.rooms
      .get(ROOM)!
      .producersOf('synthetic')
      .map((p) => p.id)
      .sort();
    expect(v1.producerIds.sort()).toEqual(originIds);
  });

  it('shares the pipe between all viewers on B', async () => {
    const v2 = await TestViewer.join(await b.rooms.getOrCreate(ROOM));
    await waitFor(() => v2.packets() > 30, { what: 'RTP at the second viewer on B' });
    expect(pullsOf(b)).toHaveLength(1);
    expect(servedBy(a)).toHaveLength(1);
    expect(b.rooms.get(ROOM)!.participants.filter((p) => p.kind === 'internal')).toHaveLength(3);
  });

  it('chains A→B→C: C in the same region as B pulls from B, not from A', async () => {
    const v3 = await TestViewer.join(await c.rooms.getOrCreate(ROOM));
    await waitFor(() => v3.packets() > 30, { what: 'RTP at the viewer on C' });
    expect(pullsOf(c)).toEqual([expect.objectContaining({ origin: 'a', parent: 'b', depth: 2, state: 'up' })]);
    expect(servedBy(a).map((s) => s.downstream)).toEqual(['b']);
    expect(servedBy(b).map((s) => s.downstream)).toEqual(['c']);
  });

  it('lists the remote publisher and its producers in an SDK join on B', async () => {
    const token = b.tokens.issue({ room: ROOM, identity: 'sdk-viewer', canPublish: false, canSubscribe: true });
    const client = await SignalingTestClient.connect(b.url);
    try {
      const joined = await client.call('join', { protocol: 1, token });
      const remote = joined.producers.filter((p: { identity: string }) => p.identity === 'synthetic');
      expect(remote.map((p: { kind: string }) => p.kind).sort()).toEqual(['audio', 'video']);
      expect(joined.peers.map((p: { identity: string }) => p.identity)).toContain('synthetic');
    } finally {
      client.close();
    }
  });

  it('lists every node of the cascade at /v1/nodes', async () => {
    const res = await fetch(`${a.url}/v1/nodes`, { headers: { authorization: `Bearer ${a.config.auth.adminKey}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { nodes: Array<{ id: string; region: string; self: boolean }> };
    expect(body.nodes.map((n) => n.id).sort()).toEqual(['a', 'b', 'c']);
    expect(body.nodes.find((n) => n.id === 'a')!.self).toBe(true);
    expect(body.nodes.find((n) => n.id === 'c')).toMatchObject({ region: 'r2', self: false });
  });

  it('exports cascade metrics', async () => {
    const text = await (await fetch(`${b.url}/metrics`)).text();
    expect(text).toMatch(/subsec_cascade_nodes\{node="b"\} 3/);
    expect(text).toMatch(/subsec_cascade_pulls\{state="up",node="b"\} 1/);
    expect(text).toMatch(/subsec_cascade_pipes_served\{node="b"\} 1/);
    expect(text).toMatch(/subsec_cascade_coordinator_connected\{node="b"\} 1/);
    expect(text).toMatch(/subsec_cascade_pull_setup_seconds_count\{node="b"\} 1/);
    expect(await (await fetch(`${a.url}/metrics`)).text()).toMatch(/subsec_cascade_origin_streams\{node="a"\} 1/);
  });

  it('tears pipes down hop by hop when the last viewers leave', async () => {
    const viewersOn = (n: SubsecNode) => n.rooms.get(ROOM)!.participants.filter((p): p is TestViewer => p instanceof TestViewer);
    for (const v of viewersOn(c)) await v.leave();
    await waitFor(() => pullsOf(c).length === 0 && servedBy(b).length === 0, { what: 'C→B pipe closed' });
    expect(pullsOf(b)).toHaveLength(1);
    for (const v of viewersOn(b)) await v.leave();
    await waitFor(() => pullsOf(b).length === 0 && servedBy(a).length === 0, { what: 'B→A pipe closed' });
  });
});
