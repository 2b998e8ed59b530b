import { afterEach, describe, expect, it } from 'vitest';
import { RoomEventLog } from '../../../src/events/RoomEventLog';
import { InMemoryEventStore } from '../../../src/events/InMemoryEventStore';
import { eventsConfigSchema } from '../../../src/events/eventsConfig';
import { AuctionRules } from '../../../src/events/rules/AuctionRules';
import { createLogger } from '../../../src/core/logger';
import { waitFor } from '../../../loadtest/core/waitFor';

const auctioneer = { canPublish: true, canSubscribe: true, canPublishData: true };
const bidder = { canPublish: false, canSubscribe: true, canPublishData: true };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function make(options: Partial<{ antiSnipingMs: number; extensionMs: number }> = {}) {
  const store = new InMemoryEventStore();
  const events = new RoomEventLog({ store, config: eventsConfigSchema.parse({ rateLimit: { perSecond: 100, burst: 100 } }), log: createLogger('test') });
  const rules = new AuctionRules({ rooms: ['auction-*'], antiSnipingMs: 10_000, extensionMs: 10_000, maxLotSec: 3600, ...options });
  events.addHook(rules);
  cleanup.push(
    () => events.close(),
    () => store.close(),
  );
  const send = (identity: string, type: string, payload: unknown, grants = bidder) => events.send({ room: 'auction-1', identity, grants, type, payload });
  return { events, rules, send };
}

describe('AuctionRules', () => {
  it('lets only a publisher open a lot, validates it and stamps its end on the server clock', async () => {
    const { send } = make();
    await expect(send('eve', 'lot.open', { lotId: 'l1', startPrice: 10, increment: 5, durationSec: 60 })).rejects.toMatchObject({
      code: 'EVENT_REJECTED',
      message: 'only the auctioneer may open a lot',
    });
    await expect(send('ann', 'lot.open', { lotId: 'l1', startPrice: 10, increment: 0, durationSec: 60 }, auctioneer)).rejects.toMatchObject({
      message: 'increment must be a positive number',
    });
    await expect(send('ann', 'lot.open', { lotId: 'bad id', startPrice: 10, increment: 1, durationSec: 60 }, auctioneer)).rejects.toMatchObject({
      code: 'EVENT_REJECTED',
    });
    const { event } = await send(
      'ann',
      'lot.open',
      { lotId: 'l1', title: 'Vase', startPrice: 10, increment: 5, durationSec: 60, extra: 'dropped' },
      auctioneer,
    );
    expect(event.payload).toEqual({ lotId: 'l1', title: 'Vase', startPrice: 10, increment: 5, endsAt: event.serverTime + 60_000 });
    await expect(send('ann', 'lot.open', { lotId: 'l1', startPrice: 1, increment: 1, durationSec: 60 }, auctioneer)).rejects.toMatchObject({
      message: 'lot l1 was already opened',
    });
  });

  it('accepts only bids at or above the start price, then the high bid plus the increment', async () => {
    const { send, rules } = make();
    await send('ann', 'lot.open', { lotId: 'l1', startPrice: 10, increment: 5, durationSec: 60 }, auctioneer);
    await expect(send('bob', 'bid', { lotId: 'l1', amount: 9 })).rejects.toMatchObject({ message: 'bid must be at least 10' });
    await send('bob', 'bid', { lotId: 'l1', amount: 10 });
    await expect(send('cat', 'bid', { lotId: 'l1', amount: 14 })).rejects.toMatchObject({ message: 'bid must be at least 15' });
    const { event } = await send('cat', 'bid', { lotId: 'l1', amount: 15, note: 'x' });
    expect(event.payload).toEqual({ lotId: 'l1', amount: 15, endsAt: rules.lot('auction-1', 'l1')!.endsAt });
    expect(rules.lot('auction-1', 'l1')!.high).toEqual({ amount: 15, identity: 'cat', seq: event.seq });
    await expect(send('ann', 'bid', { lotId: 'l1', amount: 100 }, auctioneer)).rejects.toMatchObject({ message: 'the auctioneer cannot bid' });
    await expect(send('bob', 'bid', { lotId: 'nope', amount: 100 })).rejects.toMatchObject({ message: 'no lot nope' });
  });

  it('extends a lot when a bid lands in the anti-sniping window, and closes it at the (extended) end with the winner', async () => {
    const { send, events, rules } = make({ antiSnipingMs: 1500, extensionMs: 1500 });
    const opened = await send('ann', 'lot.open', { lotId: 'l1', startPrice: 1, increment: 1, durationSec: 1 }, auctioneer);
    const endsAt = (opened.event.payload as { endsAt: number }).endsAt;
    const { event: bid } = await send('bob', 'bid', { lotId: 'l1', amount: 2 });
    expect(bid.payload).toMatchObject({ extended: true });
    expect((bid.payload as { endsAt: number }).endsAt).toBeGreaterThan(endsAt);
    await waitFor(() => rules.lot('auction-1', 'l1')!.closed, { timeoutMs: 5000, what: 'lot closed by the server' });
    const all = (await events.read('auction-1', 0, 10)).events;
    const closed = all.find((e) => e.type === 'lot.closed')!;
    expect(closed).toMatchObject({ identity: 'server', payload: { lotId: 'l1', winner: 'bob', amount: 2, winningSeq: bid.seq, early: false } });
    expect(closed.serverTime).toBeGreaterThanOrEqual((bid.payload as { endsAt: number }).endsAt);
    expect(all.filter((e) => e.type === 'lot.closed')).toHaveLength(1);
    await expect(send('cat', 'bid', { lotId: 'l1', amount: 10 })).rejects.toMatchObject({ message: 'lot l1 has ended' });
  });

  it('lets the auctioneer close early (sold) and nobody else', async () => {
    const { send } = make();
    await send('ann', 'lot.open', { lotId: 'l1', startPrice: 1, increment: 1, durationSec: 60 }, auctioneer);
    await expect(send('bob', 'lot.closed', { lotId: 'l1' })).rejects.toMatchObject({ message: 'only the auctioneer may close a lot' });
    const { event } = await send('ann', 'lot.closed', { lotId: 'l1' }, auctioneer);
    expect(event.payload).toEqual({ lotId: 'l1', winner: null, amount: null, early: true });
    await expect(send('ann', 'lot.closed', { lotId: 'l1' }, auctioneer)).rejects.toMatchObject({ message: 'lot l1 is already closed' });
  });

  it('leaves other rooms and other event types alone', async () => {
    const { events, send } = make();
    // In an auction room a bid like this is refused (no lot, not an object) ...
    await expect(send('x', 'bid', 'anything')).rejects.toMatchObject({ code: 'EVENT_REJECTED' });
    // ... in a room the rules do not cover it goes through untouched, as does another type in an auction room.
    const party = await events.send({ room: 'party', identity: 'x', grants: bidder, type: 'bid', payload: 'anything' });
    expect(party.event).toMatchObject({ room: 'party', type: 'bid', identity: 'x', payload: 'anything' });
    const chat = await events.send({ room: 'auction-1', identity: 'x', grants: bidder, type: 'chat', payload: 'hello' });
    expect(chat.event).toMatchObject({ room: 'auction-1', type: 'chat', identity: 'x', payload: 'hello' });
  });
});
