/**
 * LL-HLS for every stream of every room. On demand by default: a stream (a participant identity
 * with a video producer) is transcoded and packaged from the first HLS request for it until no
 * request came for `idleTimeoutMs`, so the 2-core box spends no CPU on streams nobody watches
 * over HLS. `eager` mode packages every stream as soon as its video producer appears. Streams
 * are found through the RoomManager and follow their rooms' producer events. In a cascade a
 * stream may live on another node: `pullStream` brings it here while it is packaged.
 */
import client from 'prom-client';
import type { Config } from '../config/schema';
import type { Logger } from '../core/logger';
import { NotFoundError } from '../core/errors';
import type { RoomManager } from '../sfu/RoomManager';
import type { Room } from '../sfu/Room';
import type { OutputHandle, OutputRegistry } from '../sfu/OutputRegistry';
import { HlsStream, type HlsStreamSettings } from './HlsStream';
import type { DateRangeSource } from '../events/EventTimeline';
import type { StreamPuller } from '../sfu/StreamPuller';

/** Thrown when the node already transcodes `maxStreams` streams (answered 503 with Retry-After). */
export class HlsCapacityError extends Error {
  override name = 'HlsCapacityError';
}

/** Options of {@link HlsService}. */
export interface HlsServiceOptions {
  rooms: RoomManager;
  config: Config['hls'];
  registry: client.Registry;
  outputs?: OutputRegistry;
  log: Logger;
  /** Room events as EXT-X-DATERANGE in media playlists (src/events/EventTimeline.ts). */
  dateRanges?: DateRangeSource;
  /** Brings a stream of another node here (cascade mode), held until its packaging ends. */
  pullStream?: StreamPuller;
}

/** The node's LL-HLS packaging. */
export class HlsService {
  readonly config: Config['hls'];
  readonly #rooms: RoomManager;
  readonly #outputs: OutputRegistry | undefined;
  readonly #dateRanges: DateRangeSource | undefined;
  readonly #pull: StreamPuller | undefined;
  readonly #log: Logger;
  readonly #streams = new Map<string, HlsStream>();
  readonly #creating = new Map<string, Promise<HlsStream>>();
  readonly #handles = new Map<HlsStream, OutputHandle>();
  readonly #settings: HlsStreamSettings;
  readonly #eagerListeners: Array<() => void> = [];
  readonly #startListeners = new Set<(stream: HlsStream) => void>();
  #closed = false;

  constructor(options: HlsServiceOptions) {
    this.config = options.config;
    this.#rooms = options.rooms;
    this.#outputs = options.outputs;
    this.#dateRanges = options.dateRanges;
    this.#pull = options.pullStream;
    this.#log = options.log;
    const c = options.config;
    this.#settings = {
      partTargetMs: c.partTargetMs,
      segmentTargetMs: c.segmentTargetMs,
      dvrWindowSec: c.dvrWindowSec,
      idleTimeoutMs: c.idleTimeoutMs,
      keyframeRequestIntervalMs: c.keyframeRequestIntervalMs ?? c.segmentTargetMs,
      audioKbps: c.audioKbps,
      x264Preset: c.x264Preset,
      renditions: c.renditions,
    };
    const streams = this.#streams;
    new client.Gauge({
      name: 'subsec_hls_streams',
      help: 'Streams being packaged as LL-HLS on this node',
      registers: [options.registry],
      collect() {
        this.set([...streams.values()].filter((s) => !s.ended).length);
      },
    });
    new client.Gauge({
      name: 'subsec_hls_held_requests',
      help: 'HLS requests held open (blocking playlist reloads, preload hints)',
      registers: [options.registry],
      collect() {
        let n = 0;
        for (const s of streams.values()) for (const r of s.renditions) n += r.packager.waiting;
        this.set(n);
      },
    });
  }

  /** Streams known to the service (packaging, or ended and lingering). */
  get streams(): HlsStream[] {
    return [...this.#streams.values()];
  }

  /** Starts eager packaging when configured (every stream with video, as it appears). */
  start(): void {
    if (this.config.mode !== 'eager') return;
    const watchRoom = (room: Room) => {
      const onProducer = (producer: { kind: string }, participant: { identity: string }) => {
        if (producer.kind !== 'video') return;
        // Eager packaging follows the producers that are here (local: a stream pulled for viewers is not held here by HLS).
        this.acquire(room.name, participant.identity, { pin: true, local: true }).catch((err: unknown) =>
          this.#log.warn('eager hls packaging failed', { room: room.name, stream: participant.identity, error: err }),
        );
      };
      room.on('producerAdded', onProducer);
      this.#eagerListeners.push(() => room.off('producerAdded', onProducer));
      for (const info of room.producerInfos()) if (info.kind === 'video') onProducer({ kind: 'video' }, { identity: info.identity });
    };
    this.#rooms.on('roomCreated', watchRoom);
    this.#eagerListeners.push(() => this.#rooms.off('roomCreated', watchRoom));
    for (const room of this.#rooms.rooms) watchRoom(room);
  }

  /** The stream if it is packaged (or lingering after its end). */
  get(room: string, identity: string): HlsStream | undefined {
    return this.#streams.get(key(room, identity));
  }

  /**
   * Returns the packaged stream, starting its packaging when needed (in a cascade, pulling the
   * stream here unless `local`). Rejects with NotFoundError when the room or the identity's video
   * does not exist (on any node), HlsCapacityError when full.
   */
  async acquire(roomName: string, identity: string, options: { pin?: boolean; local?: boolean } = {}): Promise<HlsStream> {
    if (this.#closed) throw new NotFoundError('hls is shutting down');
    const k = key(roomName, identity);
    const existing = this.#streams.get(k);
    const room = this.#rooms.get(roomName);
    const hasVideo = !!room && room.producersOf(identity).some((p) => p.kind === 'video' && !p.closed);
    if (existing && !existing.disposed) {
      if (!existing.ended || !hasVideo) {
        if (options.pin) existing.pinned = true;
        existing.touch();
        return existing;
      }
      existing.dispose(); // ended, and the stream is back: start afresh (new epoch)
    }
    const pending = this.#creating.get(k);
    if (pending) return pending;
    const pull = options.local ? undefined : this.#pull;
    if (!pull) {
      if (!room || room.closed) throw new NotFoundError(`room ${roomName} not found`);
      if (!hasVideo) throw new NotFoundError(`stream ${identity} has no video in room ${roomName}`);
    }
    const live = [...this.#streams.values()].filter((s) => !s.ended).length;
    if (live >= this.config.maxStreams) throw new HlsCapacityError(`this node already packages ${live} streams`);
    const pinned = options.pin ?? this.config.mode === 'eager';
    const creation = (pull ? this.#createPulled(pull, roomName, identity, pinned) : this.#create(room!, identity, pinned)).finally(() => this.#creating.delete(k));
    this.#creating.set(k, creation);
    return creation;
  }

  /** Calls `listener` with every stream whose packaging has started; returns an unsubscribe function. */
  onStreamStarted(listener: (stream: HlsStream) => void): () => void {
    this.#startListeners.add(listener);
    return () => this.#startListeners.delete(listener);
  }

  /** Ends every stream. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#eagerListeners) off();
    for (const s of [...this.#streams.values()]) {
      s.end('shutdown');
      s.dispose();
    }
  }

  /** Packages a stream held here by the cascade (pulled from its origin when it lives elsewhere) until the packaging ends. */
  async #createPulled(pull: StreamPuller, roomName: string, identity: string, pinned: boolean): Promise<HlsStream> {
    const release = await pull(roomName, identity);
    try {
      const room = this.#rooms.get(roomName);
      if (!room || room.closed) throw new NotFoundError(`room ${roomName} not found`);
      if (!room.producersOf(identity).some((p) => p.kind === 'video' && !p.closed)) throw new NotFoundError(`stream ${identity} has no video in room ${roomName}`);
      const stream = await this.#create(room, identity, pinned);
      stream.onEnded(() => release());
      return stream;
    } catch (err) {
      release();
      throw err;
    }
  }

  async #create(room: Room, identity: string, pinned: boolean): Promise<HlsStream> {
    const k = key(room.name, identity);
    const stream = new HlsStream({
      room,
      identity,
      settings: this.#settings,
      pinned,
      log: this.#log,
      dateRanges: this.#dateRanges,
      onDisposed: (s) => {
        if (this.#streams.get(k) === s) this.#streams.delete(k);
        this.#handles.get(s)?.close();
        this.#handles.delete(s);
      },
    });
    this.#streams.set(k, stream);
    try {
      await stream.start();
    } catch (err) {
      stream.dispose();
      throw err;
    }
    if (this.#outputs) {
      this.#handles.set(
        stream,
        this.#outputs.register({
          kind: 'hls',
          room: room.name,
          identity,
          url: `/hls/${encodeURIComponent(room.name)}/${encodeURIComponent(identity)}/index.m3u8`,
          stats: () => stream.stats(),
        }),
      );
      stream.onEnded(() => {
        this.#handles.get(stream)?.close();
        this.#handles.delete(stream);
      });
    }
    for (const l of this.#startListeners) {
      try {
        l(stream);
      } catch (err) {
        this.#log.warn('hls stream listener failed', { error: err });
      }
    }
    return stream;
  }
}

function key(room: string, identity: string): string {
  return `${room}\u0000${identity}`;
}
