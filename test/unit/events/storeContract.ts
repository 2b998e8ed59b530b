/**
 * The behaviour every EventStore must have, run against the in-memory store (unit) and the Redis
 * Streams store (integration, real redis-server).
 */
import { expect, it } from 'vitest';
import type { EventDraft, EventStore, RetentionPolicy } from '../../../src/events/EventStore';
import type { RoomEvent } from '../../../src/protocol/signaling';
import { waitFor } from '../../../loadtest/core/waitFor';

const RETAIN: RetentionPolicy = { maxEvents: 1000, maxAgeMs: 3_600_000 };

/** A draft stamped now. */
export function draft(room: string, type: string, payload: unknown, identity = 'alice', now = Date.now()): EventDraft {
  return { room, type, payload, identity, serverTime: now, mediaTime: now };
}

/** Declares the contract tests; `store()` returns the store under test, `room()` a fresh room name. */
export function storeContract(store: () => EventStore, room: () => string): void {
  it('numbers events 1, 2, 3… per room, independently per room, and reads them back in order', async () => {
    const s = store();
    const a = room();
    const b = room();
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await s.append({ room: a, draft: draft(a, 'n', { i }), idempotencyTtlMs: 60_000, retention: RETAIN });
      expect(r.status).toBe('appended');
      if (r.status === 'appended') seqs.push(r.event.seq);
    }
    const rb = await s.append({ room: b, draft: draft(b, 'n', 'other'), idempotencyTtlMs: 60_000, retention: RETAIN });
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(rb.status === 'appended' && rb.event.seq).toBe(1);
    const page = await s.read(a, 2, 10);
    expect(page.events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(page.events.map((e) => (e.payload as { i: number }).i)).toEqual([2, 3, 4]);
    expect(page).toMatchObject({ lastSeq: 5, firstSeq: 1 });
    expect((await s.read(a, 0, 2)).events.map((e) => e.seq)).toEqual([1, 2]);
    expect((await s.read(room(), 0, 10)).events).toEqual([]);
  });

  it('keeps payloads exactly (unicode, big numbers, nesting, a | in strings)', async () => {
    const s = store();
    const r = room();
    const payload = { text: 'héllo | wörld "quoted" \n 🎉', big: 12345678901234567, tiny: 1e-7, nested: [1, { a: null }], neg: -0.5 };
    await s.append({ room: r, draft: draft(r, 'chat', payload), idempotencyTtlMs: 60_000, retention: RETAIN });
    expect((await s.read(r, 0, 1)).events[0]!.payload).toEqual(payload);
  });

  it('applies an idempotency key once and answers retries with the first event', async () => {
    const s = store();
    const r = room();
    const first = await s.append({ room: r, draft: draft(r, 'bid', { amount: 10 }), idempotencyKey: 'alice:k1', idempotencyTtlMs: 60_000, retention: RETAIN });
    const retry = await s.append({ room: r, draft: draft(r, 'bid', { amount: 999 }), idempotencyKey: 'alice:k1', idempotencyTtlMs: 60_000, retention: RETAIN });
    expect(first.status).toBe('appended');
    expect(retry).toEqual({ status: 'duplicate', event: (first as { event: RoomEvent }).event });
    expect(await s.findByIdempotencyKey(r, 'alice:k1')).toEqual((first as { event: RoomEvent }).event);
    expect(await s.findByIdempotencyKey(r, 'alice:k2')).toBeUndefined();
    expect((await s.read(r, 0, 10)).events).toHaveLength(1);
  });

  it('appends concurrently without losing or repeating a number, and applies concurrent retries once', async () => {
    const s = store();
    const r = room();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        s.append({ room: r, draft: draft(r, 'n', i), idempotencyKey: `k${i % 40}`, idempotencyTtlMs: 60_000, retention: RETAIN }),
      ),
    );
    expect(results.filter((x) => x.status === 'appended')).toHaveLength(40);
    const page = await s.read(r, 0, 100);
    expect(page.events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('refuses an append whose expected last sequence number is stale', async () => {
    const s = store();
    const r = room();
    await s.append({ room: r, draft: draft(r, 'n', 1), idempotencyTtlMs: 60_000, retention: RETAIN });
    expect(await s.append({ room: r, draft: draft(r, 'n', 2), ifLastSeq: 0, idempotencyTtlMs: 60_000, retention: RETAIN })).toEqual({
      status: 'conflict',
      lastSeq: 1,
    });
    expect((await s.append({ room: r, draft: draft(r, 'n', 2), ifLastSeq: 1, idempotencyTtlMs: 60_000, retention: RETAIN })).status).toBe('appended');
  });

  it('keeps at most maxEvents per room and drops events older than maxAgeMs, numbering on', async () => {
    const s = store();
    const r = room();
    for (let i = 0; i < 8; i++)
      await s.append({ room: r, draft: draft(r, 'n', i), idempotencyTtlMs: 60_000, retention: { maxEvents: 5, maxAgeMs: 3_600_000 } });
    const page = await s.read(r, 0, 100);
    expect(page.events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(page).toMatchObject({ firstSeq: 4, lastSeq: 8 });

    const old = room();
    const now = Date.now();
    for (let i = 0; i < 3; i++)
      await s.append({ room: old, draft: draft(old, 'n', i, 'a', now - 120_000), idempotencyTtlMs: 60_000, retention: { maxEvents: 100, maxAgeMs: 60_000 } });
    await s.append({ room: old, draft: draft(old, 'n', 'fresh', 'a', now), idempotencyTtlMs: 60_000, retention: { maxEvents: 100, maxAgeMs: 60_000 } });
    const aged = await s.read(old, 0, 100);
    expect(aged.events.map((e) => e.seq)).toEqual([4]);
    expect(aged.lastSeq).toBe(4);
  });

  it('tells watchers about every append of their room only', async () => {
    const s = store();
    const r = room();
    const seen: number[] = [];
    const off = s.watch(r, { onEvent: (e) => seen.push(e.seq) });
    const otherSeen: RoomEvent[] = [];
    const offOther = s.watch(room(), { onEvent: (e) => otherSeen.push(e) });
    // Give a pub/sub subscription time to be in place before publishing.
    await waitFor(
      async () => {
        await s.append({ room: r, draft: draft(r, 'probe', null), idempotencyTtlMs: 60_000, retention: RETAIN });
        return seen.length > 0;
      },
      { what: 'watch to be live' },
    );
    const last = await s.append({ room: r, draft: draft(r, 'n', 'x'), idempotencyTtlMs: 60_000, retention: RETAIN });
    const lastSeq = last.status === 'appended' ? last.event.seq : -1;
    await waitFor(() => seen.includes(lastSeq), { what: 'appended event seen' });
    // Once the watch is live, every append is seen once and in order.
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen[0]! + i));
    expect(seen.at(-1)).toBe(lastSeq);
    off();
    offOther();
    expect(otherSeen).toEqual([]);
  });
}
