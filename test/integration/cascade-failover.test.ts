/**
 * Cascade failure handling with real processes: the origin is a node process (region r1)
 * publishing the synthetic source; B and C (region r2) are in-process nodes with counting viewers;
 * all share one real redis-server. The origin is killed with SIGKILL or frozen with SIGSTOP, and
 * Redis is restarted. Figures are printed as `CASCADE_FIGURE {...}` lines.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { spawnNode, type NodeProcess } from '../../loadtest/core/nodeProcess';
import { TestViewer } from '../../loadtest/core/cascadeViewer';
import { waitFor } from '../../loadtest/core/waitFor';
import type { SubsecNode } from '../../src/SubsecNode';
import type { ConfigInput } from '../../src/config/schema';
import { SyntheticSource } from '../../src/synthetic/SyntheticSource';
import { createLogger } from '../../src/core/logger';

const PREFIX = 'failover:';
const TUNING = { coordinator: 'redis' as const, lingerMs: 300, reconcileMs: 1000 };
const SOURCE = { width: 320, height: 180, fps: 15, bitrateKbps: 300 };

let redis: TestRedis;
let b: SubsecNode;
let c: SubsecNode;
const procs: NodeProcess[] = [];
const publishers: SyntheticSource[] = [];
const viewers: TestViewer[] = [];

/** A node process in region r1 publishing the synthetic source into `room`. */
function origin(id: string, room: string): Promise<NodeProcess> {
  const config: ConfigInput = {
    node: { id, region: 'r1' },
    http: { host: '127.0.0.1', port: 0, demo: false },
    sfu: { workers: 1 },
    synthetic: { enabled: true, room, ...SOURCE },
    redis: { url: redis.url, keyPrefix: PREFIX },
    cascade: TUNING,
    drainTimeoutMs: 0,
    logLevel: 'info',
  };
  return spawnNode(config).then((p) => {
    procs.push(p);
    return p;
  });
}

/** The publisher "reconnects" to `node` and publishes the same stream (identity `synthetic`) there. */
async function republish(node: SubsecNode, room: string): Promise<void> {
  const source = new SyntheticSource({ room, identity: 'synthetic', listenIp: '127.0.0.1', ...SOURCE }, node.rooms, createLogger('test-publisher'));
  publishers.push(source);
  await source.start();
}

async function viewer(node: SubsecNode, room: string): Promise<TestViewer> {
  const v = await TestViewer.join(await node.rooms.getOrCreate(room));
  viewers.push(v);
  return v;
}

/** Resolves once video RTP from producers consumed after `since` reaches `v`. */
function videoSince(v: TestViewer, since: number, timeoutMs = 10_000): Promise<number> {
  return waitFor(() => v.firstPacketSince(since, 'video'), { timeoutMs, what: 'video RTP' });
}

function figure(name: string, values: Record<string, number>): void {
  process.stdout.write(`CASCADE_FIGURE ${JSON.stringify({ name, ...values })}\n`);
}

// Each test spawns node processes (tsx compiles the tree on a cold start): allow for a loaded 2-core box.
describe('cascade failover with node processes and a real Redis', { timeout: 90_000 }, () => {
  beforeAll(async () => {
    redis = await startRedis();
    const common = { redis: { url: redis.url, keyPrefix: PREFIX }, cascade: TUNING, logLevel: 'warn' as const };
    b = await startNode({ ...common, node: { id: 'b', region: 'r2' } });
    c = await startNode({ ...common, node: { id: 'c', region: 'r2' } });
  });

  afterEach(async () => {
    for (const p of publishers.splice(0)) p.close();
    await Promise.allSettled(viewers.splice(0).map((v) => v.leave()));
    for (const p of procs.splice(0)) {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
      await p.exited;
    }
  });

  afterAll(async () => {
    await Promise.allSettled([b?.close(), c?.close()]);
    await redis?.stop();
  });

  it('tells viewers on B and C within 3 s that the origin died, and resumes them when the stream is republished', async () => {
    const room = 'kill-detect';
    const a = await origin('a1', room);
    const vb = await viewer(b, room);
    const vc = await viewer(c, room);
    await waitFor(() => vb.packets() > 30 && vc.packets() > 30, { what: 'RTP on B and C', timeoutMs: 15_000 });

    const killedAt = Date.now();
    a.kill('SIGKILL');
    const lostB = await waitFor(() => vb.notification('originLost', killedAt), { timeoutMs: 5_000, what: 'originLost on B' });
    const lostC = await waitFor(() => vc.notification('originLost', killedAt), { timeoutMs: 5_000, what: 'originLost on C' });
    expect(lostB.data).toEqual({ identity: 'synthetic', nodeId: 'a1' });
    expect(lostC.data).toEqual({ identity: 'synthetic', nodeId: 'a1' });
    const detectMs = Math.max(lostB.at, lostC.at) - killedAt;
    expect(detectMs).toBeLessThanOrEqual(3_000);
    expect(c.cascade.manager.pulls()).toHaveLength(0);

    const republishedAt = Date.now();
    await republish(b, room);
    const again = await videoSince(vc, republishedAt);
    figure('kill-detect', { detectMs, republishToVideoAtCMs: again - republishedAt, killToVideoAtCMs: again - killedAt });
  });

  it('gets frames to C again within 5 s when the publisher republishes on B right after the origin is killed', async () => {
    const room = 'kill-republish';
    const a = await origin('a2', room);
    const vb = await viewer(b, room);
    await waitFor(() => vb.packets() > 30, { what: 'RTP on B', timeoutMs: 15_000 });
    const vc = await viewer(c, room);
    await waitFor(() => vc.packets() > 30, { what: 'RTP on C' });
    expect(c.cascade.manager.pulls()).toEqual([expect.objectContaining({ origin: 'a2', parent: 'b' })]);

    const killedAt = Date.now();
    a.kill('SIGKILL');
    await republish(b, room);
    const atB = await videoSince(vb, killedAt);
    const atC = await videoSince(vc, killedAt);
    figure('kill-republish', { killToVideoAtBMs: atB - killedAt, killToVideoAtCMs: atC - killedAt });
    expect(atC - killedAt).toBeLessThanOrEqual(5_000);
    expect(c.cascade.manager.pulls()).toEqual([expect.objectContaining({ origin: 'b', parent: 'b', state: 'up' })]);
  });

  it('keeps serving through a Redis restart; nodes re-register and the directory is restored without tearing pipes down', async () => {
    const room = 'redis-restart';
    const a = await origin('a3', room);
    const vb = await viewer(b, room);
    const vc = await viewer(c, room);
    await waitFor(() => vb.packets() > 30 && vc.packets() > 30, { what: 'RTP on B and C', timeoutMs: 15_000 });
    const lease = await b.cascade.coordinator.lookup(room, 'synthetic');
    // Nodes killed by earlier tests must already be declared dead, so that any nodeDown seen
    // below would be a false alarm caused by the restart.
    const onlyLive = (n: SubsecNode) =>
      n.cascade.coordinator
        .liveNodes()
        .map((r) => r.id)
        .sort()
        .join() === 'a3,b,c';
    await waitFor(() => onlyLive(b) && onlyLive(c), { what: 'earlier origins declared dead', timeoutMs: 10_000 });
    const pullsBefore = [b, c].map((n) => n.cascade.manager.pulls().map((p) => p.pipeId));
    const downs: string[] = [];
    const onDown = (id: string) => downs.push(id);
    b.cascade.coordinator.on('nodeDown', onDown);
    c.cascade.coordinator.on('nodeDown', onDown);
    try {
      await redis.stop();
      await waitFor(() => !b.cascade.coordinator.connected && !c.cascade.coordinator.connected, { what: 'nodes notice the outage' });
      const during = [vb.packets(), vc.packets()];
      await waitFor(() => vb.packets() > during[0]! + 40 && vc.packets() > during[1]! + 40, { what: 'media during the outage', timeoutMs: 5_000 });

      const restartedAt = Date.now();
      await redis.start();
      await waitFor(() => b.cascade.coordinator.connected && c.cascade.coordinator.connected, { what: 'reconnection', timeoutMs: 5_000 });
      const reconnectedAt = Date.now();
      await waitFor(
        async () => {
          const ids = b.cascade.coordinator.liveNodes().map((n) => n.id);
          const restored = await b.cascade.coordinator.lookup(room, 'synthetic');
          return ['a3', 'b', 'c'].every((id) => ids.includes(id)) && restored?.nodeId === 'a3' && restored.epoch === lease!.epoch;
        },
        { what: 'registry and directory restored', timeoutMs: 5_000 },
      );
      figure('redis-restart', { restartToRestoredMs: Date.now() - restartedAt });
      // A node can be declared dead once the reconnect grace (TTL + one heartbeat) is over, at the
      // next sweep (one heartbeat later). Two more sweeps past that, still nobody was declared dead
      // and no pipe was replaced.
      const { nodeTtlMs, heartbeatMs } = b.config.cascade;
      const quietUntil = reconnectedAt + nodeTtlMs + 2 * heartbeatMs + 2 * heartbeatMs;
      await new Promise((r) => setTimeout(r, Math.max(0, quietUntil - Date.now())));
      expect(downs).toEqual([]);
      expect([b, c].map((n) => n.cascade.manager.pulls().map((p) => p.pipeId))).toEqual(pullsBefore);
      const after = [vb.packets(), vc.packets()];
      await waitFor(() => vb.packets() > after[0]! + 30 && vc.packets() > after[1]! + 30, { what: 'media after the restart' });
      expect(a.child.exitCode).toBeNull();

      // New pipes are set up through the restarted Redis.
      const late = await viewer(c, room);
      await waitFor(() => late.packets() > 30, { what: 'RTP at a late viewer' });
    } finally {
      b.cascade.coordinator.off('nodeDown', onDown);
      c.cascade.coordinator.off('nodeDown', onDown);
    }
  });

  it('split brain: a frozen origin that wakes up to a newer claim steps down instead of competing', async () => {
    const room = 'split-brain';
    const a = await origin('a4', room);
    const vc = await viewer(c, room);
    await waitFor(() => vc.packets() > 30, { what: 'RTP on C', timeoutMs: 15_000 });
    const first = await c.cascade.coordinator.lookup(room, 'synthetic');
    expect(first?.nodeId).toBe('a4');

    const frozenAt = Date.now();
    a.kill('SIGSTOP');
    await waitFor(() => vc.notification('originLost', frozenAt), { timeoutMs: 5_000, what: 'originLost on C' });
    await republish(b, room);
    await videoSince(vc, frozenAt);
    const second = await c.cascade.coordinator.lookup(room, 'synthetic');
    expect(second).toMatchObject({ nodeId: 'b' });
    expect(second!.epoch).toBeGreaterThan(first!.epoch);

    const wokeAt = Date.now();
    a.kill('SIGCONT');
    await waitFor(() => /stepped down as origin/.test(a.output()), { timeoutMs: 5_000, what: 'a4 stepping down' });
    const stepDownMs = Date.now() - wokeAt;
    await waitFor(() => c.cascade.coordinator.node('a4'), { what: 'a4 registered again', timeoutMs: 5_000 });
    // Two more heartbeats (a4's chances to renew or reclaim), plus one as margin, later the
    // directory still names B, with the same epoch, and C never switched.
    await new Promise((r) => setTimeout(r, 3 * c.config.cascade.heartbeatMs));
    expect(await c.cascade.coordinator.lookup(room, 'synthetic')).toMatchObject({ nodeId: 'b', epoch: second!.epoch });
    expect(c.cascade.manager.pulls()).toEqual([expect.objectContaining({ origin: 'b', epoch: second!.epoch, state: 'up' })]);
    figure('split-brain', { wakeToStepDownMs: stepDownMs });
  });
});
