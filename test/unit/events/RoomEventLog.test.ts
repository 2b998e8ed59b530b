import { afterEach, describe, expect, it } from 'vitest';
import { RoomEventLog } from '../../../src/events/RoomEventLog';
import { InMemoryEventStore } from '../../../src/events/InMemoryEventStore';
import { eventsConfigSchema, type EventsConfig } from '../../../src/events/eventsConfig';
import { EventRejectedError, roomMatches, type EventHook } from '../../../src/events/EventHook';
import { createLogger } from '../../../src/core/logger';
import type { RoomEvent } from '../../../src/protocol/signaling';
import { waitFor } from '../../../loadtest/core/waitFor';

const log = createLogger('test');
const grants = { canPublish: false, canSubscribe: true, canPublishData: true };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function make(config: Partial<EventsConfig> = {}, store = new InMemoryEventStore()): RoomEventLog {
  const events = new RoomEventLog({ store, config: eventsConfigSchema.parse(config), log });
  cleanup.push(
    () => events.close(),
    () => store.close(),
  );
  return events;
}

function sink() {
  const got: RoomEvent[] = [];
  const frames: string[] = [];
  return { got, frames, push: (e: RoomEvent, f: string) => (got.push(e), frames.push(f)) };
}

describe('RoomEventLog', () => {
  it('numbers events per room and stamps server wall clock, media time, sender and main stream', async () => {
    const events = make();
    const before = Date.now();
    const a = await events.send({ room: 'r', type: 'chat', payload: { text: 'hi' }, identity: 'alice', peerId: 'p1', grants });
    const b = await events.send({ room: 'r', type: 'chat', identity: 'bob', grants });
    expect(a.duplicate).toBe(false);
    expect(a.event).toMatchObject({ seq: 1, room: 'r', type: 'chat', payload: { text: 'hi' }, identity: 'alice', peerId: 'p1' });
    expect(b.event).toMatchObject({ seq: 2, payload: null, identity: 'bob' });
    expect(a.event.serverTime).toBeGreaterThanOrEqual(before);
    expect(a.event.mediaTime).toBe(a.event.serverTime);
  });

  it('applies a retried send once: same event back, no second append, no rate-limit token, no re-validation', async () => {
    const events = make({ rateLimit: { perSecond: 0.001, burst: 1 } });
    let judged = 0;
    events.addHook({ name: 'count', validate: () => void judged++ });
    const first = await events.send({ room: 'r', type: 'bid', payload: { amount: 5 }, identity: 'alice', grants, idempotencyKey: 'k1' });
    const retry = await events.send({ room: 'r', type: 'bid', payload: { amount: 5 }, identity: 'alice', grants, idempotencyKey: 'k1' });
    expect(retry).toEqual({ event: first.event, duplicate: true });
    expect(first.event.idempotencyKey).toBe('k1');
    expect(judged).toBe(1);
    // Keys are per identity: bob's k1 is another event (and bob has his own bucket).
    const bob = await events.send({ room: 'r', type: 'bid', payload: { amount: 6 }, identity: 'bob', grants, idempotencyKey: 'k1' });
    expect(bob.event.seq).toBe(2);
    expect((await events.read('r', 0, 10)).events).toHaveLength(2);
  });

  it('refuses oversized payloads, bad types and non-JSON payloads with clear errors', async () => {
    const events = make({ maxPayloadBytes: 64 });
    await expect(events.send({ room: 'r', type: 'chat', payload: 'x'.repeat(100), identity: 'a', grants })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'event payload exceeds 64 bytes',
    });
    await expect(events.send({ room: 'r', type: '1bad type', identity: 'a', grants })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(events.send({ room: 'r', type: 'x', payload: () => 1, identity: 'a', grants })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await events.send({ room: 'r', type: 'chat', payload: 'ok', identity: 'a', grants })).event.seq).toBe(1);
  });

  it('rate-limits per identity per room with a token bucket; server events are not limited', async () => {
    const events = make({ rateLimit: { perSecond: 1, burst: 3 } });
    for (let i = 0; i < 3; i++) await events.send({ room: 'r', type: 'x', identity: 'alice', grants });
    await expect(events.send({ room: 'r', type: 'x', identity: 'alice', grants })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/retry in \d+ ms/),
    });
    await events.send({ room: 'r', type: 'x', identity: 'bob', grants });
    await events.send({ room: 'other', type: 'x', identity: 'alice', grants });
    for (let i = 0; i < 10; i++) await events.publish('r', 'tick', i);
  });

  it('applies per-room overrides, first match wins', async () => {
    const events = make({
      maxPayloadBytes: 1000,
      rooms: [
        { match: 'tiny-*', maxPayloadBytes: 20 },
        { match: '*', maxPayloadBytes: 500 },
      ],
    });
    await expect(events.send({ room: 'tiny-1', type: 'x', payload: 'x'.repeat(30), identity: 'a', grants })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    await expect(events.send({ room: 'big', type: 'x', payload: 'x'.repeat(600), identity: 'a', grants })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await events.send({ room: 'big', type: 'x', payload: 'x'.repeat(400), identity: 'a', grants });
    expect(roomMatches('auction-*', 'auction-7')).toBe(true);
    expect(roomMatches('auction-*', 'xauction-7')).toBe(false);
    expect(roomMatches('a.b', 'aXb')).toBe(false);
  });

  it('lets hooks reject with a reason, rewrite payloads, and fail safely', async () => {
    const events = make();
    events.addHook({
      name: 'no-shouting',
      rooms: ['chat-*'],
      validate: (ctx) => (String(ctx.payload).toUpperCase() === ctx.payload ? { reject: 'no shouting' } : undefined),
    });
    events.addHook({ name: 'trim', validate: (ctx) => (typeof ctx.payload === 'string' ? { payload: ctx.payload.trim() } : undefined) });
    events.addHook({
      name: 'thrower',
      validate: (ctx) => {
        if (ctx.type === 'boom') throw new Error('bug in hook');
        if (ctx.type === 'nope') throw new EventRejectedError('not today');
      },
    });
    await expect(events.send({ room: 'chat-1', type: 'chat', payload: 'HELLO', identity: 'a', grants })).rejects.toMatchObject({
      code: 'EVENT_REJECTED',
      message: 'no shouting',
    });
    expect((await events.send({ room: 'other', type: 'chat', payload: 'HELLO', identity: 'a', grants })).event.seq).toBe(1);
    expect((await events.send({ room: 'chat-1', type: 'chat', payload: '  hi  ', identity: 'a', grants })).event.payload).toBe('hi');
    await expect(events.send({ room: 'r', type: 'boom', identity: 'a', grants })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'event validation failed',
    });
    await expect(events.send({ room: 'r', type: 'nope', identity: 'a', grants })).rejects.toMatchObject({ code: 'EVENT_REJECTED', message: 'not today' });
    // Rejections consume no sequence number.
    expect((await events.send({ room: 'chat-1', type: 'chat', payload: 'ok', identity: 'a', grants })).event.seq).toBe(2);
  });

  it('keeps a stateful rule under concurrency: only strictly higher bids are accepted, in order', async () => {
    const events = make({ rateLimit: { perSecond: 1000, burst: 1000 } });
    let high = 0;
    events.addHook({
      name: 'higher',
      validate: (ctx) => ((ctx.payload as number) > high ? undefined : { reject: `must beat ${high}` }),
      onEvent: (e) => void (high = e.payload as number),
    });
    const amounts = Array.from({ length: 60 }, (_, i) => (i * 37) % 61);
    const results = await Promise.allSettled(amounts.map((a, i) => events.send({ room: 'r', type: 'bid', payload: a, identity: `u${i % 7}`, grants })));
    const accepted = (await events.read('r', 0, 100)).events.map((e) => e.payload as number);
    expect(accepted.length).toBe(results.filter((r) => r.status === 'fulfilled').length);
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]!).toBeGreaterThan(accepted[i - 1]!);
  });

  it('two logs on one shared store (two nodes) keep a stateful rule through optimistic retries', async () => {
    const store = new InMemoryEventStore();
    const a = make({ rateLimit: { perSecond: 1000, burst: 1000 } }, store);
    const b = make({ rateLimit: { perSecond: 1000, burst: 1000 } }, store);
    for (const events of [a, b]) {
      let high = 0;
      events.addHook({
        name: 'higher',
        validate: (ctx) => ((ctx.payload as number) > high ? undefined : { reject: 'low' }),
        onEvent: (e) => void (high = e.payload as number),
      });
    }
    const sends = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).send({ room: 'r', type: 'bid', payload: (i * 13) % 41, identity: `u${i}`, grants }));
    await Promise.allSettled(sends);
    const accepted = (await a.read('r', 0, 100)).events.map((e) => e.payload as number);
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]!).toBeGreaterThan(accepted[i - 1]!);
  });

  it('gives hooks the retained history in order when it starts following a room', async () => {
    const store = new InMemoryEventStore();
    const first = make({}, store);
    for (let i = 0; i < 5; i++) await first.send({ room: 'r', type: 'n', payload: i, identity: 'a', grants });
    const second = make({}, store);
    const seen: number[] = [];
    second.addHook({ name: 'watch', onEvent: (e) => void seen.push(e.seq) });
    second.recent('r'); // start following
    await waitFor(() => seen.length === 5, { what: 'history replayed to the hook' });
    await first.send({ room: 'r', type: 'n', payload: 5, identity: 'a', grants });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('subscribes with replay after a sequence number, then live, each event once and in order', async () => {
    const events = make();
    for (let i = 0; i < 5; i++) await events.send({ room: 'r', type: 'n', payload: i, identity: 'a', grants });
    const s = sink();
    const state = await events.subscribe('r', s, 2);
    expect(state).toEqual({ lastSeq: 5, firstSeq: 1 });
    await events.send({ room: 'r', type: 'n', payload: 5, identity: 'a', grants });
    expect(s.got.map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    expect(JSON.parse(s.frames[0]!)).toEqual({ notification: 'roomEvent', data: s.got[0] });
    const fresh = sink();
    await events.subscribe('r', fresh, undefined);
    await events.send({ room: 'r', type: 'n', payload: 6, identity: 'a', grants });
    expect(fresh.got.map((e) => e.seq)).toEqual([7]);
    events.unsubscribe('r', fresh);
    await events.send({ room: 'r', type: 'n', payload: 7, identity: 'a', grants });
    expect(fresh.got).toHaveLength(1);
    expect(s.got.map((e) => e.seq)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('moves caught-up sinks that can onto a topic: one publish per event, in order, left on unsubscribe', async () => {
    const events = make();
    const published: Array<[string, string]> = [];
    events.useTopicPublisher((topic, frame) => published.push([topic, frame]));
    await events.send({ room: 'r', type: 'n', payload: 0, identity: 'a', grants });
    const joined: string[] = [];
    const left: string[] = [];
    const pushed: number[] = [];
    const topical = {
      push: (e: RoomEvent) => pushed.push(e.seq),
      joinTopic: (t: string) => (joined.push(t), true),
      leaveTopic: (t: string) => void left.push(t),
    };
    const plain = sink();
    await events.subscribe('r', topical, 0);
    await events.subscribe('r', plain, 0);
    for (let i = 1; i <= 3; i++) await events.send({ room: 'r', type: 'n', payload: i, identity: 'a', grants });
    // The backlog was pushed; live events went through the topic, once each.
    expect(pushed).toEqual([1]);
    expect(joined).toEqual(['ev:r']);
    expect(published.map(([t, f]) => [t, JSON.parse(f).data.seq])).toEqual([
      ['ev:r', 2],
      ['ev:r', 3],
      ['ev:r', 4],
    ]);
    expect(plain.got.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    events.unsubscribe('r', topical);
    expect(left).toEqual(['ev:r']);
    events.unsubscribe('r', plain);
    await events.send({ room: 'r', type: 'n', identity: 'a', grants });
    expect(published).toHaveLength(3);
  });

  it('replays everything to a client ahead of the log (a forgotten log restarted at 1)', async () => {
    const events = make();
    await events.send({ room: 'r', type: 'n', identity: 'a', grants });
    const s = sink();
    expect(await events.subscribe('r', s, 40)).toMatchObject({ lastSeq: 1 });
    expect(s.got.map((e) => e.seq)).toEqual([1]);
  });

  it('refuses a replay above maxReplayEvents (CONFLICT) and pages reads under a frame size', async () => {
    const events = make({ maxReplayEvents: 10, rateLimit: { perSecond: 1000, burst: 1000 } });
    for (let i = 0; i < 30; i++) await events.send({ room: 'r', type: 'n', payload: 'y'.repeat(3000), identity: 'a', grants });
    const s = sink();
    await expect(events.subscribe('r', s, 0)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(s.got).toEqual([]);
    const page = await events.read('r', 0, 500);
    expect(page.events.length).toBeGreaterThan(0);
    expect(page.events.length).toBeLessThan(30);
    expect(page.more).toBe(true);
    let cursor = 0;
    const all: number[] = [];
    for (let p = await events.read('r', cursor, 500); ; p = await events.read('r', cursor, 500)) {
      all.push(...p.events.map((e) => e.seq));
      cursor = all.at(-1)!;
      if (!p.more) break;
    }
    expect(all).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await events.subscribe('r', s, 25)).toEqual({ lastSeq: 30, firstSeq: 1 });
    expect(s.got.map((e) => e.seq)).toEqual([26, 27, 28, 29, 30]);
  });

  it('clamps a client-given media time into [now - maxClientMediaLagMs, now]', async () => {
    const events = make({ maxClientMediaLagMs: 5000 });
    const now = Date.now();
    const watched = (await events.send({ room: 'r', type: 'x', identity: 'a', grants, mediaTime: now - 2000 })).event;
    expect(watched.mediaTime).toBe(now - 2000);
    const ancient = (await events.send({ room: 'r', type: 'x', identity: 'a', grants, mediaTime: 1 })).event;
    expect(ancient.mediaTime).toBeGreaterThanOrEqual(ancient.serverTime - 5000);
    const future = (await events.send({ room: 'r', type: 'x', identity: 'a', grants, mediaTime: now + 60_000 })).event;
    expect(future.mediaTime).toBe(future.serverTime);
  });

  it('is unusable after close', async () => {
    const events = make();
    events.close();
    await expect(events.send({ room: 'r', type: 'x', identity: 'a', grants })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    const hook: EventHook = { name: 'h' };
    expect(typeof events.addHook(hook)).toBe('function');
  });
});
