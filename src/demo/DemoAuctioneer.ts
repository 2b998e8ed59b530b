/**
 * The auction demo that runs by itself: while people are in the demo auction room and no human
 * auctioneer is, the node plays the auctioneer — a synthetic source (test pattern with the clock
 * code) as its camera, lots opened in a loop through the events API (the same `lot.open` the
 * auction page sends, judged by the same auction rules), and now and then a demo bidder bids, so a
 * newcomer sees video and a live lot within seconds and can bid against someone. A person who
 * publishes video in the room, or opens a lot, takes over: the demo closes its open lot early and
 * leaves; it comes back once they are gone. It stops when the room has no visitors left.
 */
import type { Logger } from '../core/logger';
import type { RoomEvent } from '../protocol/signaling';
import type { RoomEventLog } from '../events/RoomEventLog';
import type { EventSink } from '../events/RoomFeed';
import type { Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import { SyntheticSource, type SyntheticSourceOptions } from '../synthetic/SyntheticSource';
import { DEMO_AUCTIONEER, DEMO_BIDDERS } from './demoRooms';

/** Options of {@link DemoAuctioneer}. */
export interface DemoAuctioneerOptions {
  room: string;
  rooms: RoomManager;
  events: RoomEventLog;
  /** The camera: the synthetic source's picture settings (room and identity are the demo's). */
  camera: Omit<SyntheticSourceOptions, 'room' | 'identity'>;
  /** The demo stops once the room has had no visitors for this long (ms): a reload does not restart it. */
  idleMs: number;
  /** Lot length (s). */
  lotSec: number;
  /** Pause between a lot's close and the next one (ms). */
  pauseMs: number;
  /** Mean time between demo bids (ms); a bid never lands inside `quietBeforeEndMs` of the end. */
  bidEveryMs: number;
  /** No demo bid this close to a lot's end (the anti-sniping window, so lots do end). */
  quietBeforeEndMs: number;
  log: Logger;
  /** Randomness (tests pin it). */
  random?: () => number;
}

/** The demo's lots: titles and prices. */
const LOTS = [
  { title: 'Brass telescope, 1890s', startPrice: 120, increment: 10 },
  { title: 'Signed first-edition novel', startPrice: 80, increment: 5 },
  { title: 'Mid-century desk lamp', startPrice: 45, increment: 5 },
  { title: 'Mechanical pocket watch', startPrice: 150, increment: 10 },
  { title: 'Hand-painted tea set', startPrice: 60, increment: 5 },
  { title: 'Vintage film camera', startPrice: 95, increment: 5 },
];

const GRANTS = { canPublish: true, canSubscribe: true, canPublishData: true };

/** What the demo knows of the lot it opened. */
interface OpenLot {
  lotId: string;
  endsAt: number;
  startPrice: number;
  increment: number;
  high?: number;
}

/** Runs the demo auction in one room while it has visitors and no human auctioneer. */
export class DemoAuctioneer {
  readonly #o: DemoAuctioneerOptions;
  readonly #random: () => number;
  #room: Room | undefined;
  #offRoom: (() => void) | undefined;
  #camera: SyntheticSource | undefined;
  #sink: EventSink | undefined;
  #lot: OpenLot | undefined;
  #lotCount = 0;
  #timer: NodeJS.Timeout | undefined;
  #bidTimer: NodeJS.Timeout | undefined;
  /** Stops the demo once the room stayed without visitors for `idleMs`. */
  #idleTimer: NodeJS.Timeout | undefined;
  #running = false;
  /** A person who opened a lot here: the demo stays off while they are in the room. */
  #takenOverBy: string | undefined;
  #closed = false;
  readonly #onRoomCreated = (room: Room): void => this.#follow(room);

  constructor(options: DemoAuctioneerOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  /** Whether the demo is playing the auctioneer now. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts following the room (the demo runs whenever it has visitors). */
  start(): void {
    this.#o.rooms.on('roomCreated', this.#onRoomCreated);
    const room = this.#o.rooms.get(this.#o.room);
    if (room) this.#follow(room);
  }

  /** Stops the demo and stops following the room. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.rooms.off('roomCreated', this.#onRoomCreated);
    this.#unfollow();
    this.#stop('closing');
  }

  #follow(room: Room): void {
    if (room.name !== this.#o.room || this.#closed) return;
    this.#unfollow();
    this.#room = room;
    const update = (): void => this.#update();
    const closed = (): void => {
      this.#unfollow();
      this.#stop('room closed');
    };
    room.on('participantJoined', update);
    room.on('participantLeft', update);
    room.on('producerAdded', update);
    room.on('producerRemoved', update);
    room.on('closed', closed);
    this.#offRoom = () => {
      room.off('participantJoined', update);
      room.off('participantLeft', update);
      room.off('producerAdded', update);
      room.off('producerRemoved', update);
      room.off('closed', closed);
    };
    this.#update();
  }

  #unfollow(): void {
    this.#offRoom?.();
    this.#offRoom = undefined;
    this.#room = undefined;
  }

  /** Runs or stops the demo from who is in the room. */
  #update(): void {
    const room = this.#room;
    if (!room || room.closed || this.#closed) return;
    const others = room.participants.filter((p) => p.identity !== DEMO_AUCTIONEER);
    const humanOnCamera = others.some((p) => room.producersOf(p.identity).some((producer) => producer.kind === 'video'));
    if (this.#takenOverBy !== undefined && !others.some((p) => p.identity === this.#takenOverBy)) this.#takenOverBy = undefined;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (humanOnCamera) this.#stop('an auctioneer is on camera');
    else if (this.#takenOverBy !== undefined) this.#stop(`${this.#takenOverBy} runs the auction`);
    else if (others.length > 0) this.#run();
    else if (this.#running) this.#idleTimer = setTimeout(() => this.#stop('no visitors'), this.#o.idleMs);
  }

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    this.#o.log.info('demo auctioneer on', { room: this.#o.room });
    const camera = new SyntheticSource({ ...this.#o.camera, room: this.#o.room, identity: DEMO_AUCTIONEER }, this.#o.rooms, this.#o.log.child('camera'));
    this.#camera = camera;
    camera.start().catch((error: unknown) => this.#o.log.warn('demo auctioneer camera failed', { error }));
    const sink: EventSink = { push: (event) => this.#onEvent(event) };
    this.#sink = sink;
    this.#o.events.subscribe(this.#o.room, sink).then(
      () => {
        if (this.#sink === sink) this.#openLot();
      },
      (error: unknown) => this.#o.log.warn('demo auctioneer cannot follow the room events', { error }),
    );
  }

  #stop(reason: string): void {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#idleTimer);
    this.#o.log.info('demo auctioneer off', { room: this.#o.room, reason });
    clearTimeout(this.#timer);
    clearTimeout(this.#bidTimer);
    if (this.#sink) this.#o.events.unsubscribe(this.#o.room, this.#sink);
    this.#sink = undefined;
    const lot = this.#lot;
    this.#lot = undefined;
    // A lot left open would outlive its auctioneer: close it now (the rules let its opener do so).
    if (lot && Date.now() < lot.endsAt) this.#send('lot.closed', { lotId: lot.lotId }, DEMO_AUCTIONEER);
    this.#camera?.close();
    this.#camera = undefined;
  }

  #onEvent(event: RoomEvent): void {
    const p = (event.payload ?? {}) as Record<string, unknown>;
    const lot = this.#lot;
    if (event.type === 'lot.open' && event.identity !== DEMO_AUCTIONEER) {
      // Someone else runs the auction now, for as long as they stay.
      this.#takenOverBy = event.identity;
      this.#stop(`${event.identity} opened a lot`);
    } else if (event.type === 'bid' && lot && p.lotId === lot.lotId && typeof p.amount === 'number') {
      lot.high = p.amount;
      if (typeof p.endsAt === 'number') lot.endsAt = Math.max(lot.endsAt, p.endsAt);
    } else if (event.type === 'lot.closed' && lot && p.lotId === lot.lotId) {
      this.#lot = undefined;
      clearTimeout(this.#bidTimer);
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#openLot(), this.#o.pauseMs);
    }
  }

  #openLot(): void {
    if (!this.#running || this.#lot) return;
    const spec = LOTS[this.#lotCount++ % LOTS.length]!;
    const lotId = `demo-${Date.now().toString(36)}-${this.#lotCount}`;
    this.#lot = { lotId, endsAt: Date.now() + this.#o.lotSec * 1000, startPrice: spec.startPrice, increment: spec.increment };
    this.#send(
      'lot.open',
      { lotId, title: spec.title, startPrice: spec.startPrice, increment: spec.increment, durationSec: this.#o.lotSec },
      DEMO_AUCTIONEER,
      (event) => {
        const lot = this.#lot;
        const endsAt = (event.payload as { endsAt?: unknown } | null)?.endsAt;
        if (lot?.lotId === lotId && typeof endsAt === 'number') lot.endsAt = endsAt;
      },
    );
    this.#scheduleBid();
  }

  /** The next demo bid, after a random wait around `bidEveryMs`. */
  #scheduleBid(): void {
    clearTimeout(this.#bidTimer);
    if (!this.#running) return;
    const wait = this.#o.bidEveryMs * (0.5 + this.#random());
    this.#bidTimer = setTimeout(() => {
      const lot = this.#lot;
      if (!lot || !this.#running) return;
      if (lot.endsAt - Date.now() > this.#o.quietBeforeEndMs + 1000) {
        const amount = lot.high === undefined ? lot.startPrice : lot.high + lot.increment;
        const bidder = DEMO_BIDDERS[Math.floor(this.#random() * DEMO_BIDDERS.length)]!;
        this.#send('bid', { lotId: lot.lotId, amount }, bidder);
      }
      this.#scheduleBid();
    }, wait);
  }

  /** Sends an event as `identity`; a refusal (outbid meanwhile, lot over) is only logged. */
  #send(type: string, payload: Record<string, unknown>, identity: string, then?: (event: RoomEvent) => void): void {
    this.#o.events
      .send({ room: this.#o.room, type, payload, identity, grants: GRANTS, idempotencyKey: `${type}:${String(payload.lotId)}:${String(payload.amount ?? '')}` })
      .then(
        ({ event }) => then?.(event),
        (error: unknown) => this.#o.log.debug('demo event refused', { type, error: error instanceof Error ? error.message : String(error) }),
      );
  }
}
