/**
 * The demo auctioneer on a real node (mediasoup, ffmpeg, the auction rules), on a fast clock: it
 * starts when a visitor joins, publishes its synthetic camera, opens lots one after another (each
 * closed before the next), a demo bidder bids and is judged like anyone; a person who opens a lot
 * takes over (the demo's open lot is closed early, its camera leaves) until they leave; the demo
 * stops once the room has had no visitors for a while.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { RoomEvent } from '../../src/protocol/signaling';
import { DemoAuctioneer } from '../../src/demo/DemoAuctioneer';
import { DEMO_AUCTIONEER, DEMO_BIDDERS } from '../../src/demo/demoRooms';
import { createLogger } from '../../src/core/logger';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { SignalingTestClient } from '../helpers/SignalingTestClient';

const ROOM = 'auction-it-demo';
let node: SubsecNode;
let demo: DemoAuctioneer;
const clients: SignalingTestClient[] = [];

beforeAll(async () => {
  node = await startNode({ events: { auction: { antiSnipingMs: 400, extensionMs: 400 } } });
  demo = new DemoAuctioneer({
    room: ROOM,
    rooms: node.rooms,
    events: node.events!.log,
    camera: { width: 320, height: 180, fps: 15, bitrateKbps: 200, listenIp: '127.0.0.1' },
    idleMs: 300,
    lotSec: 2,
    pauseMs: 300,
    bidEveryMs: 300,
    quietBeforeEndMs: 400,
    log: createLogger('demo-auction-test'),
  });
  demo.start();
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  demo?.close();
  await node?.close();
});

async function events(): Promise<RoomEvent[]> {
  return (await node.events!.log.read(ROOM, 0, 1000)).events;
}

async function joinAs(identity: string, canPublish: boolean): Promise<SignalingTestClient> {
  const client = await SignalingTestClient.connect(node.url);
  clients.push(client);
  await client.call('join', { protocol: 1, token: node.tokens.issue({ room: ROOM, identity, canPublish, canSubscribe: true, canPublishData: true }) });
  return client;
}

const lotOf = (e: RoomEvent): string => (e.payload as { lotId: string }).lotId;

describe('demo auctioneer', () => {
  it('runs lots with demo bids for a visitor, yields to a person who opens a lot, and stops when the room empties', async () => {
    expect(demo.running).toBe(false);
    const visitor = await joinAs('visitor', false);
    await waitFor(() => demo.running, { what: 'the demo on' });
    await waitFor(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf(DEMO_AUCTIONEER)
          .some((p) => p.kind === 'video'),
      { timeoutMs: 15_000, what: 'the demo camera' },
    );

    // Two lots in a row, the first closed before the second opened, and demo bids in between.
    const log = await waitFor(
      async () => {
        const all = await events();
        return all.filter((e) => e.type === 'lot.open').length >= 2 ? all : undefined;
      },
      { timeoutMs: 20_000, what: 'two demo lots' },
    );
    const [first, second] = log.filter((e) => e.type === 'lot.open');
    expect(first!.identity).toBe(DEMO_AUCTIONEER);
    const firstClosed = log.find((e) => e.type === 'lot.closed' && lotOf(e) === lotOf(first!));
    expect(firstClosed).toBeDefined();
    expect(firstClosed!.seq).toBeLessThan(second!.seq);
    const bids = log.filter((e) => e.type === 'bid');
    expect(bids.length).toBeGreaterThan(0);
    for (const bid of bids) expect(DEMO_BIDDERS).toContain(bid.identity);
    // Each bid is at least the rules' minimum: the demo bids like anyone, through the same judge.
    const amounts = bids.filter((b) => lotOf(b) === lotOf(first!)).map((b) => (b.payload as { amount: number }).amount);
    for (let i = 1; i < amounts.length; i++) expect(amounts[i]!).toBeGreaterThan(amounts[i - 1]!);

    // A person opens a lot: the demo closes its own lot early and leaves the stage.
    const person = await joinAs('ann', true);
    await person.call('sendEvent', { type: 'lot.open', payload: { lotId: 'ann-1', title: 'Globe', startPrice: 10, increment: 1, durationSec: 60 } });
    await waitFor(() => !demo.running, { what: 'the demo off' });
    await waitFor(() => (node.rooms.get(ROOM)?.producersOf(DEMO_AUCTIONEER).length ?? 0) === 0, { timeoutMs: 10_000, what: 'the demo camera gone' });
    const after = await events();
    const demoLots = after.filter((e) => e.type === 'lot.open' && e.identity === DEMO_AUCTIONEER).map(lotOf);
    const closed = new Set(after.filter((e) => e.type === 'lot.closed').map(lotOf));
    expect(demoLots.every((lotId) => closed.has(lotId))).toBe(true);

    // The person leaves: the demo comes back for the visitor still there.
    person.close();
    await waitFor(() => demo.running, { timeoutMs: 10_000, what: 'the demo back' });
    await waitFor(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf(DEMO_AUCTIONEER)
          .some((p) => p.kind === 'video'),
      { timeoutMs: 15_000, what: 'the demo camera back' },
    );

    // The visitor leaves too: after idleMs the demo stops, so its camera leaves and the room empties.
    visitor.close();
    await waitFor(() => !demo.running, { timeoutMs: 10_000, what: 'the demo off with nobody there' });
    await waitFor(() => !node.rooms.get(ROOM) || node.rooms.get(ROOM)!.participants.length === 0, { timeoutMs: 10_000, what: 'the room empty' });
  }, 60_000);
});
