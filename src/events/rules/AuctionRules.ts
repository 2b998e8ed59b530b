/**
 * Server-enforced live-auction rules, as a validation hook (docs/events.md#auction):
 *
 * - `lot.open {lotId, title, startPrice, increment, durationSec, imageUrl?}` — publishers only
 *   (the auctioneer); stamped with `endsAt` (server clock).
 * - `bid {lotId, amount}` — refused when the lot is unknown or over, or the amount is below the
 *   current high bid plus the increment (or the start price); a bid in the last `antiSnipingMs`
 *   moves `endsAt` to `extensionMs` after it and is stamped `extended: true`.
 * - `lot.closed {lotId}` — published by the node when a lot's time is up (or sent by the auctioneer
 *   to close early); stamped with the winner and amount. Refused while the lot runs (when it came
 *   from the node's timer after an extension).
 *
 * The rules keep each room's lots from the events they see in order, so every node of a cascade
 * decides the same way; the node that first notices the end publishes `lot.closed` with a shared
 * idempotency key, so it is recorded once.
 */
import type { RoomEvent } from '../../protocol/signaling';
import type { EventContext, EventHook, HookApi, HookVerdict } from '../EventHook';
import { SERVER_IDENTITY } from '../RoomEventLog';

/** Settings of {@link AuctionRules} (the `events.auction` config section). */
export interface AuctionRulesOptions {
  /** Room patterns the rules apply to. */
  rooms: readonly string[];
  /** A bid this close to the end extends the lot (ms). */
  antiSnipingMs: number;
  /** Extended lots end this long after the bid (ms). */
  extensionMs: number;
  /** Longest lot (s). */
  maxLotSec: number;
}

/** A lot as the rules track it. */
export interface Lot {
  lotId: string;
  title: string;
  startPrice: number;
  increment: number;
  endsAt: number;
  auctioneer: string;
  high?: { amount: number; identity: string; seq: number };
  closed: boolean;
}

interface RoomState {
  lots: Map<string, Lot>;
  cancelTimers: Map<string, () => void>;
}

const LOT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function money(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1e12 ? Math.round(v * 100) / 100 : undefined;
}

/** The auction rules hook. */
export class AuctionRules implements EventHook {
  readonly name = 'auction';
  readonly rooms: readonly string[];
  readonly #o: AuctionRulesOptions;
  readonly #rooms = new Map<string, RoomState>();
  readonly #now: () => number;

  constructor(options: AuctionRulesOptions, now: () => number = Date.now) {
    this.#o = options;
    this.rooms = options.rooms;
    this.#now = now;
  }

  /** A lot of a room as the rules see it (for tests and admin views). */
  lot(room: string, lotId: string): Readonly<Lot> | undefined {
    return this.#rooms.get(room)?.lots.get(lotId);
  }

  validate(ctx: EventContext): HookVerdict {
    switch (ctx.type) {
      case 'lot.open':
        return this.#validateOpen(ctx);
      case 'bid':
        return this.#validateBid(ctx);
      case 'lot.closed':
        return this.#validateClose(ctx);
      default:
        return undefined;
    }
  }

  onEvent(event: RoomEvent, api: HookApi): void {
    const p = event.payload as Record<string, unknown>;
    if (!isRecord(p) || typeof p.lotId !== 'string') return;
    const state = this.#state(event.room);
    const lot = state.lots.get(p.lotId);
    if (event.type === 'lot.open' && !lot) {
      state.lots.set(p.lotId, {
        lotId: p.lotId,
        title: String(p.title ?? ''),
        startPrice: Number(p.startPrice),
        increment: Number(p.increment),
        endsAt: Number(p.endsAt),
        auctioneer: event.identity,
        closed: false,
      });
      this.#scheduleClose(event.room, p.lotId, api);
    } else if (event.type === 'bid' && lot && !lot.closed) {
      lot.high = { amount: Number(p.amount), identity: event.identity, seq: event.seq };
      if (typeof p.endsAt === 'number' && p.endsAt > lot.endsAt) {
        lot.endsAt = p.endsAt;
        this.#scheduleClose(event.room, p.lotId, api);
      }
    } else if (event.type === 'lot.closed' && lot) {
      lot.closed = true;
      state.cancelTimers.get(p.lotId)?.();
      state.cancelTimers.delete(p.lotId);
    }
  }

  onRoomReleased(room: string): void {
    const state = this.#rooms.get(room);
    if (!state) return;
    for (const cancel of state.cancelTimers.values()) cancel();
    this.#rooms.delete(room);
  }

  #validateOpen(ctx: EventContext): HookVerdict {
    if (ctx.identity !== SERVER_IDENTITY && !ctx.grants?.canPublish) return { reject: 'only the auctioneer may open a lot' };
    const p = ctx.payload;
    if (!isRecord(p) || typeof p.lotId !== 'string' || !LOT_ID.test(p.lotId)) return { reject: 'lot.open needs a lotId (1-64 of A-Z a-z 0-9 _ . : -)' };
    if (this.#rooms.get(ctx.room)?.lots.has(p.lotId)) return { reject: `lot ${p.lotId} was already opened` };
    const startPrice = money(p.startPrice);
    const increment = money(p.increment);
    const durationSec = typeof p.durationSec === 'number' && Number.isFinite(p.durationSec) ? p.durationSec : NaN;
    if (startPrice === undefined) return { reject: 'startPrice must be a non-negative number' };
    if (increment === undefined || increment <= 0) return { reject: 'increment must be a positive number' };
    if (!(durationSec >= 1 && durationSec <= this.#o.maxLotSec)) return { reject: `durationSec must be between 1 and ${this.#o.maxLotSec}` };
    const title = typeof p.title === 'string' ? p.title.slice(0, 200) : p.lotId;
    return {
      payload: {
        lotId: p.lotId,
        title,
        startPrice,
        increment,
        endsAt: ctx.serverTime + Math.round(durationSec * 1000),
        ...(typeof p.imageUrl === 'string' && p.imageUrl.length <= 500 ? { imageUrl: p.imageUrl } : {}),
      },
    };
  }

  #validateBid(ctx: EventContext): HookVerdict {
    const p = ctx.payload;
    if (!isRecord(p) || typeof p.lotId !== 'string') return { reject: 'bid needs {lotId, amount}' };
    const lot = this.#rooms.get(ctx.room)?.lots.get(p.lotId);
    if (!lot) return { reject: `no lot ${p.lotId}` };
    if (lot.closed || ctx.serverTime >= lot.endsAt) return { reject: `lot ${p.lotId} has ended` };
    if (ctx.identity === lot.auctioneer) return { reject: 'the auctioneer cannot bid' };
    const amount = money(p.amount);
    const minimum = lot.high ? lot.high.amount + lot.increment : lot.startPrice;
    if (amount === undefined || amount < minimum) return { reject: `bid must be at least ${minimum}` };
    const extend = lot.endsAt - ctx.serverTime <= this.#o.antiSnipingMs;
    const endsAt = extend ? Math.max(lot.endsAt, ctx.serverTime + this.#o.extensionMs) : lot.endsAt;
    return { payload: { lotId: lot.lotId, amount, endsAt, ...(extend && endsAt > lot.endsAt ? { extended: true } : {}) } };
  }

  #validateClose(ctx: EventContext): HookVerdict {
    const p = ctx.payload;
    if (!isRecord(p) || typeof p.lotId !== 'string') return { reject: 'lot.closed needs {lotId}' };
    const lot = this.#rooms.get(ctx.room)?.lots.get(p.lotId);
    if (!lot) return { reject: `no lot ${p.lotId}` };
    if (lot.closed) return { reject: `lot ${p.lotId} is already closed` };
    if (ctx.identity === SERVER_IDENTITY) {
      if (ctx.serverTime < lot.endsAt) return { reject: `lot ${p.lotId} runs until ${new Date(lot.endsAt).toISOString()}` };
    } else if (ctx.identity !== lot.auctioneer) {
      return { reject: 'only the auctioneer may close a lot' };
    }
    return {
      payload: {
        lotId: lot.lotId,
        ...(lot.high ? { winner: lot.high.identity, amount: lot.high.amount, winningSeq: lot.high.seq } : { winner: null, amount: null }),
        early: ctx.serverTime < lot.endsAt,
      },
    };
  }

  #scheduleClose(room: string, lotId: string, api: HookApi): void {
    const state = this.#state(room);
    const lot = state.lots.get(lotId);
    if (!lot || lot.closed) return;
    state.cancelTimers.get(lotId)?.();
    const endsAt = lot.endsAt;
    state.cancelTimers.set(
      lotId,
      // A few ms late: timers may fire a hair before the wall clock reaches the end.
      api.schedule(endsAt - this.#now() + 5, () => {
        state.cancelTimers.delete(lotId);
        void api.publish(room, 'lot.closed', { lotId }, { idempotencyKey: `lot.closed:${lotId}:${endsAt}` });
      }),
    );
  }

  #state(room: string): RoomState {
    let s = this.#rooms.get(room);
    if (!s) {
      s = { lots: new Map(), cancelTimers: new Map() };
      this.#rooms.set(room, s);
    }
    return s;
  }
}
