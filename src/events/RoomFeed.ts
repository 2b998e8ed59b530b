/**
 * One room's ordered delivery on this node. It follows the store (appends by this node arrive
 * directly, others' through the store's watch), keeps `head` — the last sequence number delivered
 * — and hands every event exactly once and in order to the room's hooks, its subscribers and its
 * recent-events window. A notification that skips numbers (a lost pub/sub message) makes it read
 * the missing ones from the store first; numbers dropped by retention are skipped.
 *
 * Appends of the room are serialised through {@link RoomFeed.exclusive}, so hooks decide on a
 * state that no other append of this node changes meanwhile.
 */
import type { Logger } from '../core/logger';
import { SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { RoomEvent } from '../protocol/signaling';
import type { EventStore } from './EventStore';

/** A receiver of a room's events (a signaling socket, the MoQ events track…). */
export interface EventSink {
  /** Called once per event, in order, for every event after the sink's starting point. */
  push(event: RoomEvent, frame: string): void;
  /**
   * Optional: once caught up, receive the live events as `frame`s published to `topic` (uWS
   * pub/sub: one native call per event for every socket of the room) instead of `push`.
   * Returns false when it cannot.
   */
  joinTopic?(topic: string): boolean;
  /** Leaves the topic joined with {@link joinTopic}. */
  leaveTopic?(topic: string): void;
}

/** Publishes a frame to every socket that joined a topic. */
export type TopicPublisher = (topic: string, frame: string) => void;

interface Subscriber {
  sink: EventSink;
  cursor: number;
}

/** Options of {@link RoomFeed}. */
export interface RoomFeedOptions {
  room: string;
  store: EventStore;
  /** Called for each event in order before subscribers see it (hooks, metrics). */
  onDelivered: (event: RoomEvent) => void;
  /** Largest backlog a subscribe may replay (events). */
  maxReplayEvents: number;
  /** Largest backlog a subscribe may replay (bytes of JSON). */
  maxReplayBytes: number;
  /** Events kept for the timeline (count). */
  recentCapacity: number;
  /** Topic fan-out for sinks that support it (the signaling server's uWS app). */
  publisher?: () => TopicPublisher | undefined;
  log: Logger;
}

/** Serialises a notification frame once per event, shared by every socket. */
export function eventFrame(event: RoomEvent): string {
  return `{"notification":"roomEvent","data":${JSON.stringify(event)}}`;
}

/** One room's ordered event delivery. */
export class RoomFeed {
  readonly room: string;
  readonly #o: RoomFeedOptions;
  readonly #live = new Set<Subscriber>();
  /** Sinks receiving live events through the topic. */
  readonly #topicMembers = new Set<EventSink>();
  readonly #topic: string;
  readonly #recent: RoomEvent[] = [];
  #head = 0;
  #ready: Promise<void>;
  #initialized = false;
  #early: RoomEvent[] = [];
  #filling: Promise<void> | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #unwatch: () => void;
  #closed = false;

  constructor(options: RoomFeedOptions) {
    this.#o = options;
    this.room = options.room;
    this.#topic = `ev:${options.room}`;
    this.#unwatch = options.store.watch(options.room, {
      onEvent: (event) => this.offer(event),
      onResync: () => void this.catchUp().catch((err: unknown) => this.#o.log.warn('event resync failed', { room: this.room, error: err })),
    });
    this.#ready = this.#init();
    // A failed start is reported to whoever awaits ready(); avoid an unhandled rejection meanwhile.
    this.#ready.catch(() => undefined);
  }

  /** Last sequence number delivered on this node. */
  get head(): number {
    return this.#head;
  }

  /** Subscribers receiving live events. */
  get subscriberCount(): number {
    return this.#live.size + this.#topicMembers.size;
  }

  /** Recent events (oldest first), for the timeline. */
  get recent(): readonly RoomEvent[] {
    return this.#recent;
  }

  /** Resolves once the feed knows the log's head and hooks have seen the retained history. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Runs `fn` after every earlier exclusive task of this room finished. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** An event appended by anyone: delivered now if it is the next one, after a gap fill otherwise. */
  offer(event: RoomEvent): void {
    if (this.#closed) return;
    if (!this.#initialized) {
      this.#early.push(event);
      return;
    }
    if (event.seq <= this.#head) return;
    if (event.seq === this.#head + 1) {
      this.#deliver(event);
      return;
    }
    void this.catchUp().catch((err: unknown) => this.#o.log.warn('event gap fill failed', { room: this.room, error: err }));
  }

  /** Reads and delivers every event after `head` from the store (single flight). */
  catchUp(): Promise<void> {
    if (!this.#initialized) return this.#ready;
    this.#filling ??= this.#fill().finally(() => {
      this.#filling = undefined;
    });
    return this.#filling;
  }

  /**
   * Starts pushing to `sink`: first the retained events after `afterSeq` (none when undefined),
   * then every new one. Refuses (CONFLICT) a backlog above the replay limits.
   */
  async subscribe(sink: EventSink, afterSeq: number | undefined): Promise<{ lastSeq: number; firstSeq: number }> {
    await this.#ready;
    // Another node may have appended what the client already saw: know it before comparing.
    await this.catchUp();
    // A client ahead of the log saw a log that has since been forgotten (memory store): replay all.
    const from = afterSeq !== undefined && afterSeq > this.#head ? 0 : afterSeq;
    const subscriber: Subscriber = { sink, cursor: from ?? this.#head };
    let firstSeq = this.#recent[0]?.seq ?? 0;
    if (from !== undefined && from < this.#head) {
      // Read the whole backlog before pushing any of it, so a refusal pushes nothing.
      const backlog: RoomEvent[] = [];
      let bytes = 0;
      let cursor = from;
      for (;;) {
        const page = await this.#o.store.read(this.room, cursor, 500);
        if (backlog.length === 0) firstSeq = page.firstSeq;
        for (const e of page.events) {
          bytes += JSON.stringify(e).length;
          backlog.push(e);
        }
        if (backlog.length > this.#o.maxReplayEvents || bytes > this.#o.maxReplayBytes) {
          throw new SubsecError(ErrorCode.CONFLICT, `backlog after ${from} exceeds the replay limit: page through it with getEvents first`);
        }
        if (page.events.length === 0 || page.events.at(-1)!.seq >= page.lastSeq) break;
        cursor = page.events.at(-1)!.seq;
      }
      for (const e of backlog) this.#push(subscriber, e);
    }
    // Close the distance to head without yielding once it is covered, then go live: no event is
    // skipped or repeated (the cursor filters repeats).
    while (subscriber.cursor < this.#head) {
      const oldest = this.#recent[0];
      if (oldest && oldest.seq <= subscriber.cursor + 1) {
        for (const e of this.#recent) this.#push(subscriber, e);
        break;
      }
      const before = subscriber.cursor;
      const page = await this.#o.store.read(this.room, subscriber.cursor, 500);
      for (const e of page.events) if (e.seq <= this.#head) this.#push(subscriber, e);
      if (subscriber.cursor === before) break; // the rest was dropped by retention
    }
    // Caught up: from here on every event reaches it once, in order — through the topic if it can.
    if (this.#o.publisher?.() && sink.joinTopic?.(this.#topic)) this.#topicMembers.add(sink);
    else this.#live.add(subscriber);
    return { lastSeq: this.#head, firstSeq };
  }

  /** Stops pushing to `sink`. */
  unsubscribe(sink: EventSink): void {
    for (const s of this.#live) if (s.sink === sink) this.#live.delete(s);
    if (this.#topicMembers.delete(sink)) sink.leaveTopic?.(this.#topic);
  }

  /** Stops following the room. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#live.clear();
    for (const sink of this.#topicMembers) sink.leaveTopic?.(this.#topic);
    this.#topicMembers.clear();
  }

  async #init(): Promise<void> {
    // Replay the retained history so hooks rebuild their state, then go live.
    let cursor = 0;
    for (;;) {
      const page = await this.#o.store.read(this.room, cursor, 1000);
      for (const e of page.events) this.#deliver(e, false);
      if (page.events.length === 0) {
        this.#head = Math.max(this.#head, page.lastSeq);
        break;
      }
      cursor = page.events.at(-1)!.seq;
      if (cursor >= page.lastSeq) break;
    }
    this.#initialized = true;
    const early = this.#early;
    this.#early = [];
    for (const e of early) this.offer(e);
  }

  async #fill(): Promise<void> {
    for (;;) {
      const page = await this.#o.store.read(this.room, this.#head, 500);
      let delivered = false;
      for (const e of page.events) {
        if (e.seq <= this.#head) continue;
        // Numbers below the first retained one are gone: jump over them.
        this.#deliver(e);
        delivered = true;
      }
      if (!delivered || this.#head >= page.lastSeq || this.#closed) {
        if (page.events.length === 0 && page.lastSeq > this.#head && page.firstSeq === 0) this.#head = page.lastSeq;
        return;
      }
    }
  }

  #deliver(event: RoomEvent, live = true): void {
    this.#head = event.seq;
    this.#recent.push(event);
    if (this.#recent.length > this.#o.recentCapacity) this.#recent.splice(0, this.#recent.length - this.#o.recentCapacity);
    try {
      this.#o.onDelivered(event);
    } catch (err) {
      this.#o.log.warn('event delivery hook failed', { room: this.room, error: err });
    }
    if (!live || this.subscriberCount === 0) return;
    const frame = eventFrame(event);
    if (this.#topicMembers.size > 0) {
      const publish = this.#o.publisher?.();
      if (publish) publish(this.#topic, frame);
    }
    for (const s of this.#live) this.#push(s, event, frame);
  }

  #push(subscriber: Subscriber, event: RoomEvent, frame = eventFrame(event)): void {
    if (event.seq <= subscriber.cursor) return;
    subscriber.cursor = event.seq;
    try {
      subscriber.sink.push(event, frame);
    } catch (err) {
      this.#o.log.warn('event sink failed', { room: this.room, error: err });
    }
  }
}
