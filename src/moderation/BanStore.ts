/**
 * Bans: an identity kept out of a room until a time. A {@link BanStore} holds them — in this
 * node's memory ({@link InMemoryBanStore}, the embedded default) or in Redis for every node of a
 * cascade (`RedisBanStore`). Every store keeps a local copy ({@link BanMirror}) so entry points
 * that cannot wait (WHEP, the MoQ relay) can check synchronously.
 */
import { EventEmitter } from 'node:events';

/** One ban of an identity from a room. */
export interface Ban {
  room: string;
  identity: string;
  /** Why (`kicked`, or the operator's reason). */
  reason: string;
  /** When it was set (ms since the epoch). */
  createdAt: number;
  /** When it ends (ms since the epoch). */
  expiresAt: number;
}

/** Events of a {@link BanStore}: set or lifted here or, with Redis, on another node. */
export interface BanStoreEvents {
  banned: [ban: Ban];
  lifted: [room: string, identity: string];
}

/** Where bans live. */
export interface BanStore extends EventEmitter<BanStoreEvents> {
  readonly kind: 'memory' | 'redis';
  /** Connects (Redis) and loads the current bans. */
  start(): Promise<void>;
  /** Stores a ban (replacing one of the same room and identity) and tells every node. */
  add(ban: Ban): Promise<void>;
  /** Lifts a ban; false when there was none. */
  lift(room: string, identity: string): Promise<boolean>;
  /** Current bans, of one room or of all, sorted by room then identity. */
  list(room?: string): Promise<Ban[]>;
  /** The ban of an identity in a room from the shared store (falls back to this node's copy when it cannot be reached). */
  lookup(room: string, identity: string): Promise<Ban | undefined>;
  /** The ban of an identity in a room as this node knows it (sync; with Redis, updated by pub/sub). */
  cached(room: string, identity: string): Ban | undefined;
  /** Stops. Idempotent. */
  close(): Promise<void>;
}

const keyOf = (room: string, identity: string) => `${room}\n${identity}`;

/** Sorts bans by room, then identity. */
export function sortBans(bans: Ban[]): Ban[] {
  return bans.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
}

/** A ban as it travels (JSON), validated on the way in; undefined when malformed. */
export function parseBan(json: string): Ban | undefined {
  try {
    const b = JSON.parse(json) as Partial<Ban>;
    if (typeof b.room !== 'string' || typeof b.identity !== 'string' || typeof b.expiresAt !== 'number') return undefined;
    return {
      room: b.room,
      identity: b.identity,
      reason: typeof b.reason === 'string' ? b.reason : 'banned',
      createdAt: typeof b.createdAt === 'number' ? b.createdAt : 0,
      expiresAt: b.expiresAt,
    };
  } catch {
    return undefined;
  }
}

/** This node's copy of the bans: expired ones vanish on their own. */
export class BanMirror {
  readonly #bans = new Map<string, Ban>();

  /** The live ban, if any. */
  get(room: string, identity: string, now = Date.now()): Ban | undefined {
    const key = keyOf(room, identity);
    const ban = this.#bans.get(key);
    if (ban && ban.expiresAt <= now) {
      this.#bans.delete(key);
      return undefined;
    }
    return ban;
  }

  /** Sets (or replaces) a ban; an expired one is dropped instead. */
  set(ban: Ban): void {
    if (ban.expiresAt <= Date.now()) this.#bans.delete(keyOf(ban.room, ban.identity));
    else this.#bans.set(keyOf(ban.room, ban.identity), ban);
  }

  /** Removes a ban; true when there was a live one. */
  delete(room: string, identity: string): boolean {
    const had = this.get(room, identity) !== undefined;
    this.#bans.delete(keyOf(room, identity));
    return had;
  }

  /** Replaces everything with `bans`. */
  replace(bans: Ban[]): void {
    this.#bans.clear();
    for (const b of bans) this.set(b);
  }

  /** Live bans, of one room or all, sorted. */
  list(room?: string): Ban[] {
    const now = Date.now();
    const out: Ban[] = [];
    for (const [key, ban] of this.#bans) {
      if (ban.expiresAt <= now) this.#bans.delete(key);
      else if (room === undefined || ban.room === room) out.push(ban);
    }
    return sortBans(out);
  }
}

/** Bans in this node's memory (no Redis): they hold on this node only and are lost on restart. */
export class InMemoryBanStore extends EventEmitter<BanStoreEvents> implements BanStore {
  readonly kind = 'memory' as const;
  readonly #mirror = new BanMirror();

  async start(): Promise<void> {}

  async add(ban: Ban): Promise<void> {
    this.#mirror.set(ban);
    this.emit('banned', ban);
  }

  async lift(room: string, identity: string): Promise<boolean> {
    const had = this.#mirror.delete(room, identity);
    if (had) this.emit('lifted', room, identity);
    return had;
  }

  async list(room?: string): Promise<Ban[]> {
    return this.#mirror.list(room);
  }

  async lookup(room: string, identity: string): Promise<Ban | undefined> {
    return this.#mirror.get(room, identity);
  }

  cached(room: string, identity: string): Ban | undefined {
    return this.#mirror.get(room, identity);
  }

  async close(): Promise<void> {}
}
