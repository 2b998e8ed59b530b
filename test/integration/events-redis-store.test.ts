/** RedisEventStore against a real redis-server: the store contract, pub/sub across clients, key layout. */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventStore } from '../../src/events/RedisEventStore';
import { createLogger } from '../../src/core/logger';
import { startEventsRedis, type EventsRedis } from '../../loadtest/core/redisForEvents';
import { waitFor } from '../../loadtest/core/waitFor';
import { draft, storeContract } from '../unit/events/storeContract';

let redis: EventsRedis;
let store: RedisEventStore;
let other: RedisEventStore;
let n = 0;
const log = createLogger('test');

function makeStore(prefix = 'test:'): RedisEventStore {
  const opts = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
  return new RedisEventStore({ client: new Redis(redis.url, opts), subscriber: new Redis(redis.url, opts), keyPrefix: prefix, log });
}

beforeAll(async () => {
  redis = await startEventsRedis();
  store = makeStore();
  other = makeStore();
  await store.start();
  await other.start();
});

afterAll(async () => {
  await store?.close();
  await other?.close();
  await redis?.stop();
});

describe('RedisEventStore', () => {
  storeContract(
    () => store,
    () => `room-${++n}`,
  );

  it('delivers appends made through another connection (another node) to watchers', async () => {
    const room = `shared-${++n}`;
    const seen: number[] = [];
    store.watch(room, { onEvent: (e) => seen.push(e.seq) });
    await waitFor(
      async () => {
        await other.append({ room, draft: draft(room, 'probe', null), idempotencyTtlMs: 1000, retention: { maxEvents: 10, maxAgeMs: 60_000 } });
        return seen.length > 0;
      },
      { what: 'cross-connection delivery' },
    );
    const dup = await other.append({
      room,
      draft: draft(room, 'x', 1),
      idempotencyKey: 'bob:k',
      idempotencyTtlMs: 60_000,
      retention: { maxEvents: 10, maxAgeMs: 60_000 },
    });
    const again = await store.append({
      room,
      draft: draft(room, 'x', 2),
      idempotencyKey: 'bob:k',
      idempotencyTtlMs: 60_000,
      retention: { maxEvents: 10, maxAgeMs: 60_000 },
    });
    expect(again.status).toBe('duplicate');
    expect(again.status === 'duplicate' && again.event.seq).toBe(dup.status === 'appended' ? dup.event.seq : -1);
  });

  it('keeps every key of a room under its hash tag and the prefix', async () => {
    const room = 'tag check/é';
    await store.append({ room, draft: draft(room, 'x', 1), idempotencyKey: 'a:k', idempotencyTtlMs: 60_000, retention: { maxEvents: 10, maxAgeMs: 60_000 } });
    const probe = new Redis(redis.url);
    const keys = await probe.keys('test:*tag*');
    await probe.quit();
    expect(keys.sort()).toEqual([
      `test:{r:${encodeURIComponent(room)}}:ev:idem:a%3Ak`,
      `test:{r:${encodeURIComponent(room)}}:ev:log`,
      `test:{r:${encodeURIComponent(room)}}:ev:seq`,
    ]);
  });

  it('answers INTERNAL "event store unavailable" when Redis is gone, and tells watchers to resync when it is back', async () => {
    const lone = await startEventsRedis();
    const opts = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 };
    const s = new RedisEventStore({ client: new Redis(lone.url, opts), subscriber: new Redis(lone.url, opts), keyPrefix: 'x:', log });
    await s.start();
    let resyncs = 0;
    s.watch('r', { onEvent: () => undefined, onResync: () => resyncs++ });
    // The first subscriber 'ready' may still be on its way: count from a settled state.
    await new Promise((r) => setImmediate(r));
    const settled = resyncs;
    await lone.stop();
    await expect(
      s.append({ room: 'r', draft: draft('r', 'x', 1), idempotencyTtlMs: 1000, retention: { maxEvents: 10, maxAgeMs: 60_000 } }),
    ).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'event store unavailable',
    });
    // Redis comes back on the same port: the notifications in between are lost, so the watcher is
    // told to re-read once the subscriber connection is ready again.
    const revived = spawn('redis-server', ['--port', String(lone.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const revivedExited = new Promise<void>((r) => revived.once('exit', () => r()));
    try {
      await waitFor(() => resyncs > settled, { timeoutMs: 15_000, what: 'a resync after Redis came back' });
      const appended = await waitFor(
        () => s.append({ room: 'r', draft: draft('r', 'x', 2), idempotencyTtlMs: 1000, retention: { maxEvents: 10, maxAgeMs: 60_000 } }),
        { timeoutMs: 10_000, what: 'appends again' },
      );
      expect(appended.status).toBe('appended');
    } finally {
      await s.close();
      revived.kill('SIGKILL');
      await revivedExited;
    }
  }, 30_000);
});
