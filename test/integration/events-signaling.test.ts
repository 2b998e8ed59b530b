/**
 * Room events over the signaling WebSocket of a real node: grants, validation errors, ordered
 * fan-out, replay after a sequence number, and exactly-once bids under forced disconnects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';

let node: SubsecNode;
beforeAll(async () => {
  node = await startNode({ events: { rateLimit: { perSecond: 200, burst: 200 }, rooms: [{ match: 'ev-flood', rateLimit: { perSecond: 5, burst: 10 } }] } });
});
afterAll(() => node?.close());

const token = (identity: string, room: string, grants: Record<string, unknown> = {}) =>
  node.tokens.issue({ room, identity, canPublish: false, canSubscribe: true, canPublishData: true, ...grants });

async function joined(identity: string, room: string, grants: Record<string, unknown> = {}): Promise<SignalingTestClient> {
  const c = await SignalingTestClient.connect(node.url);
  await c.call('join', { protocol: 1, token: token(identity, room, grants) });
  return c;
}

const pushed = (c: SignalingTestClient) => c.notifications.filter((n) => n.notification === 'roomEvent').map((n) => n.data);

describe('room events over signaling', () => {
  it('needs a join first, the data grant to send, and answers bad params with typed errors', async () => {
    const anon = await SignalingTestClient.connect(node.url);
    expect((await anon.request('sendEvent', { type: 'chat' })).error?.code).toBe('UNAUTHENTICATED');
    anon.close();
    const viewer = await joined('viewer', 'ev-grants', { canPublishData: false });
    expect((await viewer.request('sendEvent', { type: 'chat', payload: 'hi' })).error?.code).toBe('FORBIDDEN');
    expect((await viewer.request('getEvents', { afterSeq: 0 })).ok).toBe(true);
    const c = await joined('alice', 'ev-grants');
    expect((await c.request('sendEvent', { type: '9 bad' })).error?.code).toBe('INVALID_MESSAGE');
    expect((await c.request('sendEvent', { type: 'chat', extra: 1 })).error?.code).toBe('INVALID_MESSAGE');
    expect((await c.request('sendEvent', { type: 'chat', idempotencyKey: '' })).error?.code).toBe('INVALID_MESSAGE');
    expect((await c.request('getEvents', { afterSeq: -1 })).error?.code).toBe('INVALID_MESSAGE');
    expect((await c.request('sendEvent', { type: 'chat', payload: 'x'.repeat(5000) })).error?.code).toBe('PAYLOAD_TOO_LARGE');
    // Nothing above broke the socket.
    expect((await c.call('sendEvent', { type: 'chat', payload: 'still here' })).event.seq).toBe(1);
    viewer.close();
    c.close();
  });

  it('pushes every event to every subscriber in the same order, with replay after a sequence number', async () => {
    const room = 'ev-order';
    const senders = await Promise.all(['a', 'b', 'c'].map((id) => joined(id, room)));
    const early = await joined('early', room);
    expect(await early.call('subscribeEvents', {})).toEqual({ lastSeq: 0, firstSeq: 0 });
    await Promise.all(senders.map((s, i) => Promise.all(Array.from({ length: 20 }, (_, k) => s.call('sendEvent', { type: 'n', payload: { from: i, k } })))));
    const late = await joined('late', room);
    const state = await late.call('subscribeEvents', { afterSeq: 30 });
    expect(state.lastSeq).toBe(60);
    await senders[0]!.call('sendEvent', { type: 'n', payload: 'last' });
    await waitFor(() => pushed(early).length === 61 && pushed(late).length === 31, { what: 'all pushes' });
    const order = pushed(early).map((e) => e.seq);
    expect(order).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    expect(pushed(late)).toEqual(pushed(early).slice(30));
    for (const e of pushed(early)) expect(e).toMatchObject({ room, type: 'n', serverTime: expect.any(Number), mediaTime: expect.any(Number) });
    // Per sender, events keep the order they were sent in.
    for (let i = 0; i < 3; i++) {
      const ks = pushed(early)
        .filter((e) => e.payload.from === i)
        .map((e) => e.payload.k);
      expect(ks).toEqual([...ks].sort((x, y) => x - y));
    }
    const page = await late.call('getEvents', { afterSeq: 55, limit: 3 });
    expect(page).toMatchObject({ lastSeq: 61, firstSeq: 1, more: true });
    expect(page.events.map((e: { seq: number }) => e.seq)).toEqual([56, 57, 58]);
    await late.call('unsubscribeEvents', {});
    await senders[1]!.call('sendEvent', { type: 'n', payload: 'after unsubscribe' });
    await waitFor(() => pushed(early).length === 62, { what: 'push to the remaining subscriber' });
    expect(pushed(late)).toHaveLength(31);
    for (const c of [...senders, early, late]) c.close();
  });

  it('applies each bid exactly once when sockets die mid-request and bids are retried on new sockets', async () => {
    const room = 'ev-exactly-once';
    const watcher = await joined('watcher', room);
    await watcher.call('subscribeEvents', {});
    const bids = 40;
    let killedBeforeAnswer = 0;
    let duplicates = 0;
    for (let i = 0; i < bids; i++) {
      const key = `bid-${i}`;
      let c = await joined('bidder', room);
      // Send, then kill the socket at once: the node may or may not have applied the bid.
      c.ws.send(JSON.stringify({ id: 'bid', method: 'sendEvent', params: { type: 'bid', payload: { amount: i }, idempotencyKey: key } }));
      if (i % 2 === 0) c.ws.terminate();
      else await new Promise((r) => setTimeout(r, i % 4)).then(() => c.ws.terminate());
      if (!c.replies.some((r) => r.id === 'bid')) killedBeforeAnswer++;
      // Retry until answered (the SDK does this after reconnecting).
      for (let attempt = 0; ; attempt++) {
        c = await joined('bidder', room);
        const r = await c.request('sendEvent', { type: 'bid', payload: { amount: i }, idempotencyKey: key });
        c.close();
        if (r.ok) {
          expect(r.data.event.payload).toEqual({ amount: i });
          if (r.data.duplicate) duplicates++;
          break;
        }
        if (attempt > 3) throw new Error(`bid ${i} failed: ${r.error?.code}`);
      }
    }
    expect(killedBeforeAnswer).toBeGreaterThan(0);
    // Some killed sends had been applied: their retries were answered as duplicates.
    expect(duplicates).toBeGreaterThan(0);
    await waitFor(() => pushed(watcher).length >= bids, { what: 'bids pushed' });
    const log = (await watcher.call('getEvents', { afterSeq: 0, limit: 1000 })).events;
    expect(log.map((e: { payload: { amount: number } }) => e.payload.amount)).toEqual(Array.from({ length: bids }, (_, i) => i));
    expect(pushed(watcher).map((e) => e.seq)).toEqual(log.map((e: { seq: number }) => e.seq));
    watcher.close();
  });

  it('rate-limits a flood from one identity without affecting others', async () => {
    const room = 'ev-flood';
    const flooder = await joined('flooder', room);
    const calm = await joined('calm', room);
    const replies = await Promise.all(Array.from({ length: 50 }, () => flooder.request('sendEvent', { type: 'spam' })));
    const limited = replies.filter((r) => r.error?.code === 'RATE_LIMITED').length;
    expect(limited).toBeGreaterThanOrEqual(35);
    expect(limited).toBeLessThanOrEqual(40);
    expect((await calm.call('sendEvent', { type: 'chat', payload: 'hello' })).event.identity).toBe('calm');
    flooder.close();
    calm.close();
  });

  it('enforces the auction rules in auction-* rooms, with the reason in the error', async () => {
    const room = 'auction-sig';
    const ann = await joined('ann', room, { canPublish: true });
    const bob = await joined('bob', room);
    await ann.call('sendEvent', { type: 'lot.open', payload: { lotId: 'l1', title: 'Lamp', startPrice: 50, increment: 10, durationSec: 120 } });
    const low = await bob.request('sendEvent', { type: 'bid', payload: { lotId: 'l1', amount: 20 } });
    expect(low.error).toEqual({ code: 'EVENT_REJECTED', message: 'bid must be at least 50' });
    expect((await bob.call('sendEvent', { type: 'bid', payload: { lotId: 'l1', amount: 50 } })).event.payload).toMatchObject({ amount: 50 });
    ann.close();
    bob.close();
  });
});

describe('room events disabled', () => {
  it('answers NOT_FOUND', async () => {
    const off = await startNode({ events: { enabled: false } });
    try {
      const c = await SignalingTestClient.connect(off.url);
      await c.call('join', { protocol: 1, token: off.tokens.issue({ room: 'r', identity: 'x', canPublishData: true }) });
      expect((await c.request('sendEvent', { type: 'chat' })).error?.code).toBe('NOT_FOUND');
      c.close();
    } finally {
      await off.close();
    }
  });
});
