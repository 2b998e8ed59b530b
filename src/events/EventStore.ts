/**
 * Where room events live. Two implementations: {@link InMemoryEventStore} (one node, the embedded
 * default) and {@link RedisEventStore} (Redis Streams: events survive a node's death and are ordered
 * across every node sharing the Redis). The choice is made once in the composition root.
 *
 * A store assigns each room's sequence numbers (1, 2, 3… without gaps), remembers idempotency keys
 * so a retried append is applied once, keeps a bounded history per room, and tells its watchers
 * about every append, including appends made by other nodes.
 */
import type { RoomEvent } from '../protocol/signaling';

/** An event before the store numbers it. */
export type EventDraft = Omit<RoomEvent, 'seq'>;

/** How much of a room's history is kept. */
export interface RetentionPolicy {
  /** Events kept per room; older ones are dropped first. */
  maxEvents: number;
  /** Events older than this are dropped (ms). */
  maxAgeMs: number;
}

/** One append. */
export interface AppendRequest {
  room: string;
  draft: EventDraft;
  /** Scope + key of the idempotency record (the log prefixes the sender's identity). */
  idempotencyKey?: string;
  /** How long the idempotency record is kept (ms). */
  idempotencyTtlMs: number;
  /**
   * Append only if the room's last sequence number is still this one (optimistic concurrency for
   * stateful validation hooks across nodes); otherwise the result is `conflict`.
   */
  ifLastSeq?: number;
  retention: RetentionPolicy;
}

/** Outcome of an append. */
export type AppendResult =
  | { status: 'appended'; event: RoomEvent }
  /** The idempotency key was already used: `event` is the one appended the first time. */
  | { status: 'duplicate'; event: RoomEvent }
  /** `ifLastSeq` did not match: `lastSeq` is the room's current last sequence number. */
  | { status: 'conflict'; lastSeq: number };

/** A read of a room's history. */
export interface ReadResult {
  /** Events with `seq > afterSeq`, in order, at most `limit`. */
  events: RoomEvent[];
  /** Highest sequence number ever assigned in the room (0 when none). */
  lastSeq: number;
  /** Oldest retained sequence number (0 when nothing is retained). */
  firstSeq: number;
}

/** Receives the appends of a watched room (from any node), roughly in order. */
export interface StoreWatcher {
  /** An appended event. */
  onEvent(event: RoomEvent): void;
  /** Appends may have been missed (the store's notifications were interrupted): read to catch up. */
  onResync?(): void;
}

/** A room event store. */
export interface EventStore {
  /** `memory` or `redis`, for logs and metrics. */
  readonly kind: string;
  /** Appends (or finds the duplicate of) an event. */
  append(request: AppendRequest): Promise<AppendResult>;
  /** The event first appended with an idempotency key, if the record is still kept. */
  findByIdempotencyKey(room: string, idempotencyKey: string): Promise<RoomEvent | undefined>;
  /** Reads up to `limit` events after `afterSeq`. */
  read(room: string, afterSeq: number, limit: number): Promise<ReadResult>;
  /**
   * Tells `watcher` about every event appended to `room` from now on, by this node or another.
   * Delivery may skip events (a lost pub/sub message); readers fill gaps with {@link read}.
   * Returns a function that stops watching.
   */
  watch(room: string, watcher: StoreWatcher): () => void;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}
