/**
 * Bounded chaos: for a fixed number of rounds, a seeded random choice of origin-process kills
 * (the publisher comes back on a fresh node process), Redis restarts, or both at once; after each
 * round the stream must be watchable again on B and C (in-process, region r2) and the directory
 * must name exactly the live origin. Seed: CASCADE_CHAOS_SEED (printed), rounds: CASCADE_CHAOS_ROUNDS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { spawnNode, type NodeProcess } from '../../loadtest/core/nodeProcess';
import { TestViewer } from '../../loadtest/core/cascadeViewer';
import { waitFor } from '../../loadtest/core/waitFor';
import type { SubsecNode } from '../../src/SubsecNode';

const ROOM = 'chaos';
const SEED = Number(process.env.CASCADE_CHAOS_SEED ?? 20261124);
const ROUNDS = Number(process.env.CASCADE_CHAOS_ROUNDS ?? 4);
const ACTIONS = ['kill-origin', 'restart-redis', 'kill-origin-during-outage'] as const;

/** mulberry32: a small seeded PRNG so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let redis: TestRedis;
let b: SubsecNode;
let c: SubsecNode;
let origin: NodeProcess | undefined;
let originId = '';
let generation = 0;

function spawnOrigin(): Promise<NodeProcess> {
  originId = `origin-${++generation}`;
  return spawnNode({
    node: { id: originId, region: 'r1' },
    http: { host: '127.0.0.1', port: 0, demo: false },
    sfu: { workers: 1 },
    synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 300 },
    redis: { url: redis.url, keyPrefix: 'chaos:', connectTimeoutMs: 10_000 },
    cascade: { coordinator: 'redis', lingerMs: 300, reconcileMs: 1000 },
    drainTimeoutMs: 0,
    logLevel: 'warn',
  });
}

describe('cascade chaos (bounded)', () => {
  beforeAll(async () => {
    redis = await startRedis();
    const common = {
      redis: { url: redis.url, keyPrefix: 'chaos:' },
      cascade: { coordinator: 'redis' as const, lingerMs: 300, reconcileMs: 1000 },
      logLevel: 'warn' as const,
    };
    b = await startNode({ ...common, node: { id: 'b', region: 'r2' } });
    c = await startNode({ ...common, node: { id: 'c', region: 'r2' } });
  });

  afterAll(async () => {
    if (origin) {
      origin.kill('SIGKILL');
      await origin.exited;
    }
    await Promise.allSettled([b?.close(), c?.close()]);
    await redis?.stop();
  });

  it(`keeps every live stream watchable through ${ROUNDS} rounds of kills and Redis restarts (seed ${SEED})`, async () => {
    process.stdout.write(`cascade chaos seed ${SEED}, ${ROUNDS} rounds\n`);
    const random = prng(SEED);
    origin = await spawnOrigin();
    const vb = await TestViewer.join(await b.rooms.getOrCreate(ROOM));
    await waitFor(() => vb.packets() > 30, { what: 'RTP on B', timeoutMs: 20_000 });
    const vc = await TestViewer.join(await c.rooms.getOrCreate(ROOM));
    await waitFor(() => vc.packets() > 30, { what: 'RTP on C', timeoutMs: 10_000 });
    const log: string[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const action = ACTIONS[Math.floor(random() * ACTIONS.length)]!;
        const pauseMs = Math.floor(random() * 1500);
        const startedAt = Date.now();
        if (action === 'restart-redis') {
          await redis.stop();
          await new Promise((r) => setTimeout(r, pauseMs));
          await redis.start();
        } else {
          const outage = action === 'kill-origin-during-outage';
          if (outage) await redis.stop();
          origin.kill('SIGKILL');
          await origin.exited;
          const next = spawnOrigin();
          if (outage) {
            await new Promise((r) => setTimeout(r, pauseMs));
            await redis.start();
          }
          origin = await next;
        }
        // Watchable again: fresh video on both viewers, the directory names the live origin once, pulls follow it.
        await waitFor(
          async () => {
            const since = action === 'restart-redis' ? Date.now() - 500 : startedAt;
            const fresh = (v: TestViewer) =>
              action === 'restart-redis' ? (v.lastPacketAt() ?? 0) >= since : v.firstPacketSince(startedAt, 'video') !== undefined;
            if (!fresh(vb) || !fresh(vc)) return false;
            const lease = await c.cascade.coordinator.lookup(ROOM, 'synthetic');
            const streams = await c.cascade.coordinator.streams(ROOM);
            const pulls = [...b.cascade.manager.pulls(), ...c.cascade.manager.pulls()];
            return (
              lease?.nodeId === originId &&
              streams.length === 1 &&
              pulls.length === 2 &&
              pulls.every((p) => p.origin === originId && p.epoch === lease.epoch && p.state === 'up')
            );
          },
          { what: `round ${round} (${action}) recovery`, timeoutMs: 20_000 },
        );
        log.push(`${round}:${action}:${Date.now() - startedAt}ms`);
      }
    } finally {
      process.stdout.write(`cascade chaos rounds ${log.join(' ')}\n`);
      await vb.leave();
      await vc.leave();
    }
    expect(log).toHaveLength(ROUNDS);
  }, 240_000);
});
