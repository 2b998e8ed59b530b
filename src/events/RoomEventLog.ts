/**
 * Ordered, durable room events (docs/events.md). For each send it checks size, answers a known
 * idempotency key with the first result, applies the sender's rate limit, lets the validation
 * hooks accept, reject or rewrite the event, stamps server wall clock and media time, and appends
 * it to the store, which numbers it. Delivery to sockets, hooks and the LL-HLS/MoQ timelines goes
 * through one {@link RoomFeed} per room, in sequence order, whichever node appended the event.
 */
import client from 'prom-client';
import type { Logger } from '../core/logger';
import { BadRequestError, InvalidStateError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { EventPage, RoomEvent } from '../protocol/signaling';
import type { RoomManager } from '../sfu/RoomManager';
import type { Room } from '../sfu/Room';
import type { EventStore, RetentionPolicy } from './EventStore';
import type { EventsConfig } from './eventsConfig';
import { EventRejectedError, roomMatches, type EventContext, type EventHook, type HookApi, type SenderGrants } from './EventHook';
import { RateLimiter, type RateLimit } from './RateLimiter';
import { RoomFeed, type EventSink, type TopicPublisher } from './RoomFeed';

/** Identity of events the node itself publishes (hooks, server apps). */
export const SERVER_IDENTITY = 'server';

/** Event type names accepted from any sender. */
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
/** A page of `getEvents` stays under this many bytes of JSON so it fits a signaling frame. */
const MAX_PAGE_BYTES = 48 * 1024;
/** Appends retried after another node appended first, before giving up with CONFLICT. */
const MAX_CONFLICT_RETRIES = 8;

/** The main stream of a room and the media time to stamp an event with. */
export interface MediaStamp {
  /** Ms on the main stream's program-date-time clock. */
  mediaTime: number;
  /** Identity of the main stream, when the room has one. */
  mainStream?: string;
}

/** Gives the media time of a room's main stream at `now` (composition root wires LL-HLS in). */
export type MediaClock = (room: string, now: number) => MediaStamp;

/** One send. */
export interface SendInput {
  room: string;
  type: string;
  payload?: unknown;
  identity: string;
  peerId?: string;
  /** Sender's grants; undefined for server events (no rate limit). */
  grants?: SenderGrants;
  idempotencyKey?: string;
  /** Media time the sender was watching (ms); clamped to the last `maxClientMediaLagMs`. */
  mediaTime?: number;
}

/** Options of {@link RoomEventLog}. */
export interface RoomEventLogOptions {
  store: EventStore;
  config: EventsConfig;
  /** Rooms of this node: feeds follow them, and the default media clock finds main streams there. */
  rooms?: RoomManager;
  /** Overrides the media stamp (default: the first video stream of the room, at server time). */
  mediaClock?: MediaClock;
  registry?: client.Registry;
  log: Logger;
  now?: () => number;
}

interface RoomPolicy {
  maxPayloadBytes: number;
  rateLimit: RateLimit;
  retention: RetentionPolicy;
}

/** The node's room event service. */
export class RoomEventLog {
  readonly store: EventStore;
  readonly config: EventsConfig;
  readonly #o: RoomEventLogOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #feeds = new Map<string, RoomFeed>();
  readonly #hooks: EventHook[] = [];
  readonly #limiter: RateLimiter;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #detach: Array<() => void> = [];
  readonly #results: client.Counter<'result'> | undefined;
  readonly #appendSeconds: client.Histogram | undefined;
  readonly #pushes: client.Counter | undefined;
  readonly #hookApi: HookApi;
  #publisher: TopicPublisher | undefined;
  #closed = false;

  constructor(options: RoomEventLogOptions) {
    this.#o = options;
    this.store = options.store;
    this.config = options.config;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#limiter = new RateLimiter(this.#now);
    this.#hookApi = {
      publish: (room, type, payload, opts) =>
        this.publish(room, type, payload, opts).catch((err: unknown) => {
          if (!(err instanceof EventRejectedError)) this.#log.warn('hook publish failed', { room, type, error: err });
          return undefined;
        }),
      schedule: (delayMs, fn) => this.#schedule(delayMs, fn),
    };
    const registers = options.registry ? [options.registry] : [];
    if (options.registry) {
      this.#results = new client.Counter({ name: 'subsec_events_total', help: 'Room event sends by result', labelNames: ['result'], registers });
      this.#appendSeconds = new client.Histogram({
        name: 'subsec_event_append_seconds',
        help: 'Time from receiving an event to its append in the store',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers,
      });
      this.#pushes = new client.Counter({ name: 'subsec_event_pushes_total', help: 'Room events pushed to subscribers', registers });
      const feeds = this.#feeds;
      new client.Gauge({
        name: 'subsec_event_subscribers',
        help: 'Event subscribers (sockets and tracks) on this node',
        registers,
        collect() {
          let n = 0;
          for (const f of feeds.values()) n += f.subscriberCount;
          this.set(n);
        },
      });
    }
  }

  /** Follows the node's rooms: a feed per open room (so hooks and timelines are current). */
  start(): void {
    const rooms = this.#o.rooms;
    if (!rooms) return;
    const onCreated = (room: Room) => void this.#feed(room.name);
    const onClosed = (room: Room) => this.#release(room.name);
    rooms.on('roomCreated', onCreated);
    rooms.on('roomClosed', onClosed);
    // Feeds of rooms not open here (server publishes, reads by other means) are released when idle.
    const sweeper = setInterval(() => {
      for (const name of [...this.#feeds.keys()]) if (!rooms.get(name)) this.#release(name);
    }, 60_000);
    sweeper.unref();
    this.#detach.push(
      () => rooms.off('roomCreated', onCreated),
      () => rooms.off('roomClosed', onClosed),
      () => clearInterval(sweeper),
    );
    for (const room of rooms.rooms) onCreated(room);
  }

  /**
   * Lets sinks that can (signaling sockets) receive live events through topics of `publish`
   * (the signaling server's uWS app): one native publish per event instead of one send per socket.
   */
  useTopicPublisher(publish: TopicPublisher | undefined): void {
    this.#publisher = publish;
  }

  /** Registers a validation hook; returns a function that removes it. */
  addHook(hook: EventHook): () => void {
    this.#hooks.push(hook);
    return () => {
      const i = this.#hooks.indexOf(hook);
      if (i >= 0) this.#hooks.splice(i, 1);
    };
  }

  /**
   * Appends an event from a client (or the server when `grants` is undefined).
   *
   * @throws BadRequestError (type, payload), PAYLOAD_TOO_LARGE, RATE_LIMITED,
   *   {@link EventRejectedError} from a hook, CONFLICT when the room stays contended, INTERNAL
   *   when the store is unreachable.
   */
  async send(input: SendInput): Promise<{ event: RoomEvent; duplicate: boolean }> {
    this.#assertOpen();
    const started = performance.now();
    const { room } = input;
    if (!EVENT_TYPE.test(input.type)) throw new BadRequestError('event type: a letter, then up to 63 of letters, digits, _ . : -');
    const policy = this.#policy(room);
    const payload = input.payload === undefined ? null : input.payload;
    const json = JSON.stringify(payload);
    if (json === undefined) throw new BadRequestError('event payload must be JSON');
    if (Buffer.byteLength(json) > policy.maxPayloadBytes) {
      this.#count('too_large');
      throw new SubsecError(ErrorCode.PAYLOAD_TOO_LARGE, `event payload exceeds ${policy.maxPayloadBytes} bytes`);
    }
    const scopedKey = input.idempotencyKey === undefined ? undefined : `${input.identity}:${input.idempotencyKey}`;
    if (scopedKey !== undefined) {
      const first = await this.store.findByIdempotencyKey(room, scopedKey);
      if (first) {
        this.#count('duplicate');
        return { event: first, duplicate: true };
      }
    }
    if (input.grants) {
      const waitMs = this.#limiter.take(`${room}\u0000${input.identity}`, policy.rateLimit);
      if (waitMs > 0) {
        this.#count('rate_limited');
        throw new SubsecError(ErrorCode.RATE_LIMITED, `too many events: retry in ${waitMs} ms`);
      }
    }
    const feed = this.#feed(room);
    await feed.ready();
    const hooks = this.#hooks.filter((h) => h.validate && appliesTo(h, room));
    const attemptAll = async (): Promise<{ event: RoomEvent; duplicate: boolean }> => {
      for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
        // Stateful hooks decide on the whole log: catch up with what other nodes appended.
        if (hooks.length > 0) await feed.catchUp();
        const now = this.#now();
        const stamp = this.#stamp(room, now, input.mediaTime);
        const ctx: EventContext = {
          room,
          type: input.type,
          payload,
          identity: input.identity,
          ...(input.peerId ? { peerId: input.peerId } : {}),
          ...(input.grants ? { grants: input.grants } : {}),
          serverTime: now,
          mediaTime: stamp.mediaTime,
          lastSeq: feed.head,
        };
        const finalPayload = await this.#judge(hooks, ctx);
        const appended = await this.store.append({
          room,
          draft: {
            room,
            type: input.type,
            payload: finalPayload,
            identity: input.identity,
            ...(input.peerId ? { peerId: input.peerId } : {}),
            serverTime: now,
            mediaTime: stamp.mediaTime,
            ...(stamp.mainStream ? { mainStream: stamp.mainStream } : {}),
            ...(input.idempotencyKey !== undefined ? { idempotencyKey: input.idempotencyKey } : {}),
          },
          ...(scopedKey !== undefined ? { idempotencyKey: scopedKey } : {}),
          idempotencyTtlMs: this.config.idempotencyTtlSec * 1000,
          ...(hooks.length > 0 ? { ifLastSeq: feed.head } : {}),
          retention: policy.retention,
        });
        if (appended.status === 'conflict') continue;
        if (appended.status === 'duplicate') return { event: appended.event, duplicate: true };
        feed.offer(appended.event);
        return { event: appended.event, duplicate: false };
      }
      throw new SubsecError(ErrorCode.CONFLICT, 'the room is busy: send again');
    };
    // Hooks decide on a state no other append of this node may change meanwhile: one at a time.
    // Without hooks the store orders concurrent appends itself (Redis pipelines them).
    const result = hooks.length > 0 ? await feed.exclusive(attemptAll) : await attemptAll();
    this.#count(result.duplicate ? 'duplicate' : 'appended');
    if (!result.duplicate) this.#appendSeconds?.observe((performance.now() - started) / 1000);
    return result;
  }

  /** Appends an event of the node itself (identity `server`, no rate limit; hooks still judge it). */
  publish(room: string, type: string, payload: unknown, options: { idempotencyKey?: string } = {}): Promise<RoomEvent> {
    return this.send({ room, type, payload, identity: SERVER_IDENTITY, ...options }).then((r) => r.event);
  }

  /** A page of retained events after `afterSeq` (at most `limit`, and under a frame's size). */
  async read(room: string, afterSeq: number, limit: number): Promise<EventPage> {
    this.#assertOpen();
    const page = await this.store.read(room, afterSeq, limit);
    let bytes = 0;
    let n = 0;
    for (const e of page.events) {
      bytes += JSON.stringify(e).length;
      if (n > 0 && bytes > MAX_PAGE_BYTES) break;
      n++;
    }
    const events = page.events.slice(0, n);
    const last = events.at(-1)?.seq ?? afterSeq;
    return { events, lastSeq: page.lastSeq, firstSeq: page.firstSeq, more: events.length > 0 && last < page.lastSeq };
  }

  /**
   * Pushes the room's events to `sink` in order: the retained ones after `afterSeq` (none when
   * undefined), then every new one. Returns the log's state; CONFLICT when the backlog is too large.
   */
  async subscribe(room: string, sink: EventSink, afterSeq?: number): Promise<{ lastSeq: number; firstSeq: number }> {
    this.#assertOpen();
    return this.#feed(room).subscribe(sink, afterSeq);
  }

  /** Stops pushing to `sink`. */
  unsubscribe(room: string, sink: EventSink): void {
    this.#feeds.get(room)?.unsubscribe(sink);
  }

  /**
   * Recent events of a room on this node (oldest first), for playlists and tracks that render
   * events synchronously. Starts following the room when it was not.
   */
  recent(room: string): readonly RoomEvent[] {
    if (this.#closed) return [];
    return this.#feed(room).recent;
  }

  /** Stops every feed and timer (the store is closed by its owner). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#detach) off();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const feed of this.#feeds.values()) feed.close();
    this.#feeds.clear();
  }

  #feed(room: string): RoomFeed {
    let feed = this.#feeds.get(room);
    if (!feed) {
      feed = new RoomFeed({
        room,
        store: this.store,
        onDelivered: (event) => this.#delivered(event),
        maxReplayEvents: this.config.maxReplayEvents,
        maxReplayBytes: 768 * 1024,
        recentCapacity: 256,
        publisher: () => this.#publisher,
        log: this.#log,
      });
      this.#feeds.set(room, feed);
    }
    return feed;
  }

  #release(room: string): void {
    const feed = this.#feeds.get(room);
    if (!feed || feed.subscriberCount > 0) return;
    feed.close();
    this.#feeds.delete(room);
    for (const hook of this.#hooks) {
      if (!appliesTo(hook, room)) continue;
      try {
        hook.onRoomReleased?.(room);
      } catch (err) {
        this.#log.warn('hook release failed', { hook: hook.name, error: err });
      }
    }
  }

  #delivered(event: RoomEvent): void {
    for (const hook of this.#hooks) {
      if (!hook.onEvent || !appliesTo(hook, event.room)) continue;
      try {
        hook.onEvent(event, this.#hookApi);
      } catch (err) {
        this.#log.warn('hook failed on event', { hook: hook.name, seq: event.seq, error: err });
      }
    }
    this.#pushes?.inc(this.#feeds.get(event.room)?.subscriberCount ?? 0);
  }

  async #judge(hooks: EventHook[], ctx: EventContext): Promise<unknown> {
    let payload = ctx.payload;
    for (const hook of hooks) {
      let verdict;
      try {
        verdict = await hook.validate!({ ...ctx, payload });
      } catch (err) {
        if (err instanceof EventRejectedError) this.#count('rejected');
        else this.#log.warn('hook failed', { hook: hook.name, error: err });
        if (err instanceof SubsecError) throw err;
        throw new SubsecError(ErrorCode.INTERNAL, 'event validation failed', { cause: err });
      }
      if (verdict && 'reject' in verdict) {
        this.#count('rejected');
        throw new EventRejectedError(verdict.reject);
      }
      if (verdict && 'payload' in verdict) payload = verdict.payload === undefined ? null : verdict.payload;
    }
    return payload;
  }

  #stamp(room: string, now: number, clientMediaTime: number | undefined): MediaStamp {
    const clock = this.#o.mediaClock ? this.#o.mediaClock(room, now) : { mediaTime: now, ...this.#mainStream(room) };
    if (clientMediaTime === undefined) return clock;
    const earliest = now - this.config.maxClientMediaLagMs;
    return { ...clock, mediaTime: Math.min(now, Math.max(earliest, clientMediaTime)) };
  }

  #mainStream(room: string): { mainStream?: string } {
    const video = this.#o.rooms
      ?.get(room)
      ?.producerInfos()
      .find((p) => p.kind === 'video');
    return video ? { mainStream: video.identity } : {};
  }

  #policy(room: string): RoomPolicy {
    const c = this.config;
    const o = c.rooms.find((r) => roomMatches(r.match, room));
    return {
      maxPayloadBytes: o?.maxPayloadBytes ?? c.maxPayloadBytes,
      rateLimit: { perSecond: o?.rateLimit?.perSecond ?? c.rateLimit.perSecond, burst: o?.rateLimit?.burst ?? c.rateLimit.burst },
      retention: {
        maxEvents: o?.retention?.maxEvents ?? c.retention.maxEvents,
        maxAgeMs: (o?.retention?.maxAgeSec ?? c.retention.maxAgeSec) * 1000,
      },
    };
  }

  #schedule(delayMs: number, fn: () => void): () => void {
    if (this.#closed) return () => undefined;
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        try {
          fn();
        } catch (err) {
          this.#log.warn('scheduled hook task failed', { error: err });
        }
      },
      Math.max(0, delayMs),
    );
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  #count(result: string): void {
    this.#results?.inc({ result });
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('room events are shut down');
  }
}

function appliesTo(hook: EventHook, room: string): boolean {
  return !hook.rooms || hook.rooms.some((p) => roomMatches(p, room));
}
