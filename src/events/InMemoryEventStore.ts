/**
 * The single-node event store: per room, an array of the retained events (contiguous sequence
 * numbers, so a read is an index computation), the idempotency records and the watchers.
 * A room whose history has aged out completely, with no idempotency record and nobody watching,
 * is forgotten: its numbering then starts again at 1 (clients notice `lastSeq < afterSeq`).
 */
import type { RoomEvent } from '../protocol/signaling';
import { InvalidStateError } from '../core/errors';
import type { AppendRequest, AppendResult, EventStore, ReadResult, StoreWatcher } from './EventStore';

interface RoomLog {
  events: RoomEvent[];
  lastSeq: number;
  lastAppendAt: number;
  maxAgeMs: number;
  idempotency: Map<string, { event: RoomEvent; expiresAt: number }>;
  watchers: Set<StoreWatcher>;
}

/** Options of {@link InMemoryEventStore}. */
export interface InMemoryEventStoreOptions {
  /** How often expired events and idempotency records are swept (ms; default 10 000). */
  sweepIntervalMs?: number;
  /** Clock (ms since the epoch; default Date.now), for tests. */
  now?: () => number;
}

/** Room events in this process's memory. */
export class InMemoryEventStore implements EventStore {
  readonly kind = 'memory';
  readonly #rooms = new Map<string, RoomLog>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000);
    this.#sweeper.unref();
  }

  /** Rooms with state in memory (for tests and metrics). */
  get roomCount(): number {
    return this.#rooms.size;
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    this.#assertOpen();
    const now = this.#now();
    const log = this.#log(request.room);
    log.maxAgeMs = request.retention.maxAgeMs;
    if (request.idempotencyKey !== undefined) {
      const record = log.idempotency.get(request.idempotencyKey);
      if (record && record.expiresAt > now) return { status: 'duplicate', event: record.event };
    }
    if (request.ifLastSeq !== undefined && request.ifLastSeq !== log.lastSeq) return { status: 'conflict', lastSeq: log.lastSeq };
    const event: RoomEvent = { seq: ++log.lastSeq, ...request.draft };
    log.events.push(event);
    log.lastAppendAt = now;
    if (request.idempotencyKey !== undefined) {
      // Re-insert so the Map's order stays the expiry order (every record has the same TTL).
      log.idempotency.delete(request.idempotencyKey);
      log.idempotency.set(request.idempotencyKey, { event, expiresAt: now + request.idempotencyTtlMs });
    }
    const excess = log.events.length - request.retention.maxEvents;
    if (excess > 0) log.events.splice(0, excess);
    this.#dropOld(log, now);
    for (const watcher of [...log.watchers]) watcher.onEvent(event);
    return { status: 'appended', event };
  }

  async findByIdempotencyKey(room: string, idempotencyKey: string): Promise<RoomEvent | undefined> {
    this.#assertOpen();
    const record = this.#rooms.get(room)?.idempotency.get(idempotencyKey);
    return record && record.expiresAt > this.#now() ? record.event : undefined;
  }

  async read(room: string, afterSeq: number, limit: number): Promise<ReadResult> {
    this.#assertOpen();
    const log = this.#rooms.get(room);
    if (!log) return { events: [], lastSeq: 0, firstSeq: 0 };
    this.#dropOld(log, this.#now());
    const first = log.events[0];
    if (!first) return { events: [], lastSeq: log.lastSeq, firstSeq: 0 };
    const start = Math.max(0, afterSeq - first.seq + 1);
    return { events: log.events.slice(start, start + limit), lastSeq: log.lastSeq, firstSeq: first.seq };
  }

  watch(room: string, watcher: StoreWatcher): () => void {
    this.#assertOpen();
    const log = this.#log(room);
    log.watchers.add(watcher);
    return () => {
      log.watchers.delete(watcher);
    };
  }

  /** Drops expired events, idempotency records and forgotten rooms (runs on a timer too). */
  sweep(): void {
    const now = this.#now();
    for (const [name, log] of this.#rooms) {
      this.#dropOld(log, now);
      for (const [key, record] of log.idempotency) {
        if (record.expiresAt > now) break;
        log.idempotency.delete(key);
      }
      const idle = now - log.lastAppendAt > log.maxAgeMs;
      if (idle && log.events.length === 0 && log.idempotency.size === 0 && log.watchers.size === 0) this.#rooms.delete(name);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#rooms.clear();
  }

  #log(room: string): RoomLog {
    let log = this.#rooms.get(room);
    if (!log) {
      log = { events: [], lastSeq: 0, lastAppendAt: this.#now(), maxAgeMs: Number.POSITIVE_INFINITY, idempotency: new Map(), watchers: new Set() };
      this.#rooms.set(room, log);
    }
    return log;
  }

  #dropOld(log: RoomLog, now: number): void {
    const cutoff = now - log.maxAgeMs;
    let n = 0;
    while (n < log.events.length && log.events[n]!.serverTime < cutoff) n++;
    if (n > 0) log.events.splice(0, n);
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('event store is closed');
  }
}
