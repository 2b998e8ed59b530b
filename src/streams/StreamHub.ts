/**
 * The hub where ingest and outputs meet. Every ingest publishes its tracks into a room (as a
 * participant); the hub turns each identity's tracks into one {@link Stream}, announces it
 * (`streamStarted`/`streamEnded`) and hands it to outputs on demand:
 *
 *     const lease = await hub.acquire(room, identity, { signal });   // here at once, or pulled
 *     const consumer = await lease.stream.consume(transport, slot, lease.stream.track('video')!, { output: 'hls' });
 *     …
 *     lease.release();                                                // the last one lets it go
 *
 * A stream that lives on another node is brought here through {@link StreamSources} (the
 * cascade, whose coordinator is in memory on a single node and Redis in a cluster: the hub never
 * asks which) and kept while any lease holds it. Ingest never imports an output; outputs never
 * import ingest.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { InvalidStateError, NotFoundError, UnavailableError } from '../core/errors';
import type { Participant, Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import { OutputRegistry } from './OutputRegistry';
import { Stream, streamKey, type ConsumerLimits } from './Stream';

/** Resolves or rejects with `promise`, or rejects with a 503 once `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new UnavailableError('the request was aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new UnavailableError('the request was aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Options of {@link StreamHub.acquire}. */
export interface AcquireOptions {
  /** Gives up (rejects) when aborted, e.g. when the HTTP client that asked left. */
  signal?: AbortSignal;
  /** Only a stream already here: never pull one from another node (eager packaging). */
  localOnly?: boolean;
}

/**
 * Where streams that are not here come from (the cascade implements it). `bring` resolves once
 * the stream's tracks are in this node's room — at once when it is published here or already
 * pulled — with the function that lets it go; it rejects with NotFoundError when no node has the
 * stream, and with a 503 error when it could not be brought here within a bounded wait.
 */
export interface StreamSources {
  bring(room: string, identity: string, options: { signal?: AbortSignal }): Promise<() => void>;
}

/** A hold on a stream: the stream stays here until every lease on it is released. */
export interface StreamLease {
  readonly stream: Stream;
  /** Lets the stream go (idempotent); the last release of a pulled stream ends the pull. */
  release(): void;
}

/** Events of {@link StreamHub}. */
export interface StreamHubEvents {
  /** An identity's first track appeared in a room (it is in `stream.tracks`; `trackAdded` fires for later ones). */
  streamStarted: [stream: Stream];
  /** A stream's last track left, or its room closed. */
  streamEnded: [stream: Stream, reason: string];
}

/** Options of {@link StreamHub}. */
export interface StreamHubOptions {
  rooms: RoomManager;
  /** Brings streams of other nodes (the cascade). */
  sources: StreamSources;
  /** Limits every stream's consumers obey (default: none). */
  limits?: ConsumerLimits;
}

interface Hold {
  count: number;
  /** Resolves with the source's release once the stream is here. */
  ready: Promise<() => void>;
}

/** The node's streams. */
export class StreamHub extends EventEmitter<StreamHubEvents> {
  /** Outputs attached to streams, as `/v1/streams` lists them. */
  readonly outputs = new OutputRegistry();
  readonly #rooms: RoomManager;
  readonly #sources: StreamSources;
  readonly #limits: ConsumerLimits;
  readonly #streams = new Map<string, Stream>();
  readonly #holds = new Map<string, Hold>();
  readonly #detach: Array<() => void> = [];
  #started = false;
  #closed = false;

  constructor(options: StreamHubOptions) {
    super();
    this.#rooms = options.rooms;
    this.#sources = options.sources;
    this.#limits = options.limits ?? { maxConsumersPerWorker: 0 };
  }

  /** Follows the rooms (existing and future). Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const onRoom = (room: Room) => this.#watch(room);
    this.#rooms.on('roomCreated', onRoom);
    this.#detach.push(() => this.#rooms.off('roomCreated', onRoom));
    for (const room of this.#rooms.rooms) this.#watch(room);
  }

  /** The stream if it is here now. */
  get(room: string, identity: string): Stream | undefined {
    return this.#streams.get(streamKey(room, identity));
  }

  /** Streams here now, optionally of one room. */
  list(filter: { room?: string } = {}): Stream[] {
    const all = [...this.#streams.values()];
    return filter.room === undefined ? all : all.filter((s) => s.room.name === filter.room);
  }

  /**
   * Brings a stream here for an output and holds it until the lease is released: at once when
   * it is here, through the stream sources (the cascade) otherwise. Rejects with NotFoundError
   * when it exists on no node.
   */
  async acquire(room: string, identity: string, options: AcquireOptions = {}): Promise<StreamLease> {
    if (this.#closed) throw new InvalidStateError('the node is shutting down');
    const k = streamKey(room, identity);
    if (options.localOnly) {
      const stream = this.#streams.get(k);
      if (!stream) throw new NotFoundError(`stream ${identity} is not live in room ${room}`);
      return { stream, release: () => undefined };
    }
    let hold = this.#holds.get(k);
    if (!hold) {
      // Shared by every acquirer of the stream, so one caller's abort does not fail the others.
      const created: Hold = { count: 0, ready: this.#sources.bring(room, identity, {}) };
      hold = created;
      this.#holds.set(k, created);
      created.ready.catch(() => {
        if (this.#holds.get(k) === created) this.#holds.delete(k);
      });
    }
    hold.count++;
    const h = hold;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--h.count > 0) return;
      if (this.#holds.get(k) === h) this.#holds.delete(k);
      h.ready.then(
        (letGo) => letGo(),
        () => undefined,
      );
    };
    try {
      await untilAborted(h.ready, options.signal);
      const stream = this.#streams.get(k);
      if (!stream) throw new NotFoundError(`stream ${identity} is not live in room ${room}`);
      return { stream, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Stops following rooms and ends every stream. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of this.#detach.splice(0)) d();
    for (const s of [...this.#streams.values()]) this.#end(s, 'node shutting down');
  }

  #watch(room: Room): void {
    if (this.#closed) return;
    const onAdded = (producer: types.Producer, participant: Participant) => this.#added(room, producer, participant.identity);
    const onRemoved = (producerId: string, participant: Participant) => this.#removed(room, producerId, participant.identity);
    const onClosed = (reason: string) => {
      detach();
      for (const s of this.list({ room: room.name })) if (s.room === room) this.#end(s, `room closed (${reason})`);
    };
    const detach = () => {
      room.off('producerAdded', onAdded);
      room.off('producerRemoved', onRemoved);
      room.off('closed', onClosed);
    };
    room.on('producerAdded', onAdded);
    room.on('producerRemoved', onRemoved);
    room.once('closed', onClosed);
    this.#detach.push(detach);
    for (const info of room.producerInfos()) {
      const p = room.getProducer(info.producerId);
      if (p) this.#added(room, p.producer, info.identity);
    }
  }

  #added(room: Room, producer: types.Producer, identity: string): void {
    if (this.#closed || room.closed) return;
    const k = streamKey(room.name, identity);
    let stream = this.#streams.get(k);
    if (stream && stream.room !== room) {
      this.#end(stream, 'room replaced');
      stream = undefined;
    }
    if (!stream) {
      stream = new Stream(room, identity, this.outputs, this.#limits);
      this.#streams.set(k, stream);
      this.emit('streamStarted', stream);
      return;
    }
    stream.emit('trackAdded', producer);
  }

  #removed(room: Room, producerId: string, identity: string): void {
    const stream = this.#streams.get(streamKey(room.name, identity));
    if (!stream || stream.room !== room) return;
    stream.emit('trackRemoved', producerId);
    if (stream.tracks.length === 0) this.#end(stream, room.closed ? 'room closed' : 'its last track ended');
  }

  #end(stream: Stream, reason: string): void {
    if (this.#streams.get(stream.key) === stream) this.#streams.delete(stream.key);
    stream.end(reason);
    this.emit('streamEnded', stream, reason);
  }
}
