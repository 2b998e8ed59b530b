/**
 * LL-HLS for every stream of every room. On demand by default: a stream (a participant identity
 * with a video producer) is transcoded and packaged from the first HLS request for it until no
 * request came for `idleTimeoutMs`, so the 2-core box spends no CPU on streams nobody watches
 * over HLS. `eager` mode packages every stream as soon as its video producer appears. Streams
 * come from the stream hub, which brings a stream of another node here while it is packaged.
 */
import client from 'prom-client';
import type { Config } from '../config/schema';
import type { Logger } from '../core/logger';
import { NotFoundError } from '../core/errors';
import type { OutputHandle } from '../streams/OutputRegistry';
import type { StreamHub, StreamLease } from '../streams/StreamHub';
import { streamKey, type Stream } from '../streams/Stream';
import { HlsStream, type HlsStreamSettings } from './HlsStream';
import type { LadderChange } from './ladder/AdaptiveLadder';
import type { DateRangeSource } from '../events/EventTimeline';

/** Thrown when the node already transcodes `maxStreams` streams (answered 503 with Retry-After). */
export class HlsCapacityError extends Error {
  override name = 'HlsCapacityError';
}

/** Options of {@link HlsService}. */
export interface HlsServiceOptions {
  /** Where streams come from (held by a lease while packaged). */
  streams: Pick<StreamHub, 'acquire' | 'get' | 'list' | 'on' | 'off'>;
  config: Config['hls'];
  registry: client.Registry;
  log: Logger;
  /** Room events as EXT-X-DATERANGE in media playlists (src/events/EventTimeline.ts). */
  dateRanges?: DateRangeSource;
  /** Called on every change of a stream's audience-shaped ladder (the node sends the `ladder.changed` webhook). */
  onLadderChanged?: (stream: HlsStream, change: LadderChange) => void;
}

/** The node's LL-HLS packaging. */
export class HlsService {
  readonly config: Config['hls'];
  readonly #hub: HlsServiceOptions['streams'];
  readonly #dateRanges: DateRangeSource | undefined;
  readonly #log: Logger;
  readonly #streams = new Map<string, HlsStream>();
  readonly #creating = new Map<string, Promise<HlsStream>>();
  readonly #handles = new Map<HlsStream, OutputHandle>();
  readonly #settings: HlsStreamSettings;
  readonly #eagerListeners: Array<() => void> = [];
  readonly #startListeners = new Set<(stream: HlsStream) => void>();
  readonly #onLadderChanged: HlsServiceOptions['onLadderChanged'];
  readonly #ladderChanges: client.Counter<'action'>;
  #closed = false;

  constructor(options: HlsServiceOptions) {
    this.config = options.config;
    this.#hub = options.streams;
    this.#dateRanges = options.dateRanges;
    this.#log = options.log;
    const streams = this.#streams;
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
      ladderAdaptation: c.ladderAdaptation,
    };
    this.#onLadderChanged = options.onLadderChanged;
    this.#ladderChanges = new client.Counter({
      name: 'subsec_hls_ladder_changes_total',
      help: 'Changes of audience-shaped ladders (hls.ladderAdaptation), by action: drop, restore, lower, add',
      labelNames: ['action'],
      registers: [options.registry],
    });
    new client.Gauge({
      name: 'subsec_hls_ladder_rungs',
      help: 'Video rungs listed in the ladders of the streams being packaged',
      registers: [options.registry],
      collect() {
        let n = 0;
        for (const s of streams.values()) if (!s.ended) n += s.listedRenditions.filter((r) => r.kind === 'video').length;
        this.set(n);
      },
    });
    new client.Gauge({
      name: 'subsec_hls_ladder_encoders',
      help: 'ffmpeg processes encoding LL-HLS ladders on this node',
      registers: [options.registry],
      collect() {
        let n = 0;
        for (const s of streams.values()) if (!s.ended) n += s.encoderPids.length;
        this.set(n);
      },
    });
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
    const watch = (stream: Stream) => {
      // Eager packaging follows the streams that are here (local: a stream pulled for viewers is not held here by HLS).
      const eager = () =>
        this.acquire(stream.room.name, stream.identity, { pin: true, local: true }).catch((err: unknown) =>
          this.#log.warn('eager hls packaging failed', { room: stream.room.name, stream: stream.identity, error: err }),
        );
      if (stream.track('video')) void eager();
      stream.on('trackAdded', (track) => {
        if (track.kind === 'video') void eager();
      });
    };
    this.#hub.on('streamStarted', watch);
    this.#eagerListeners.push(() => this.#hub.off('streamStarted', watch));
    for (const stream of this.#hub.list()) watch(stream);
  }

  /** The stream if it is packaged (or lingering after its end). */
  get(room: string, identity: string): HlsStream | undefined {
    return this.#streams.get(streamKey(room, identity));
  }

  /**
   * Returns the packaged stream, starting its packaging when needed (bringing the stream here
   * from another node unless `local`). Rejects with NotFoundError when the room or the
   * identity's video does not exist (on any node), HlsCapacityError when full.
   */
  async acquire(roomName: string, identity: string, options: { pin?: boolean; local?: boolean } = {}): Promise<HlsStream> {
    if (this.#closed) throw new NotFoundError('hls is shutting down');
    const k = streamKey(roomName, identity);
    const existing = this.#streams.get(k);
    const here = this.#hub.get(roomName, identity);
    const hasVideo = !!here?.track('video');
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
    if (here && !hasVideo) throw new NotFoundError(`stream ${identity} has no video in room ${roomName}`);
    const live = [...this.#streams.values()].filter((s) => !s.ended).length;
    if (live >= this.config.maxStreams) throw new HlsCapacityError(`this node already packages ${live} streams`);
    const pinned = options.pin ?? this.config.mode === 'eager';
    const creation = this.#create(roomName, identity, pinned, !!options.local).finally(() => this.#creating.delete(k));
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

  /** Packages a stream held here by a hub lease (the stream pulled from its origin when it lives elsewhere) until the packaging ends. */
  async #create(roomName: string, identity: string, pinned: boolean, localOnly: boolean): Promise<HlsStream> {
    const lease: StreamLease = await this.#hub.acquire(roomName, identity, { localOnly });
    const k = lease.stream.key;
    let stream: HlsStream;
    try {
      if (!lease.stream.track('video')) throw new NotFoundError(`stream ${identity} has no video in room ${roomName}`);
      stream = new HlsStream({
        source: lease.stream,
        settings: this.#settings,
        pinned,
        log: this.#log,
        dateRanges: this.#dateRanges,
        onLadderChanged: (s, change) => {
          this.#ladderChanges.inc({ action: change.action });
          this.#onLadderChanged?.(s, change);
        },
        onDisposed: (s) => {
          if (this.#streams.get(k) === s) this.#streams.delete(k);
          this.#handles.get(s)?.close();
          this.#handles.delete(s);
        },
      });
      this.#streams.set(k, stream);
    } catch (err) {
      lease.release();
      throw err;
    }
    stream.onEnded(() => lease.release());
    try {
      await stream.start();
    } catch (err) {
      stream.dispose();
      throw err;
    }
    const created = stream;
    this.#handles.set(created, lease.stream.attach(created));
    created.onEnded(() => {
      this.#handles.get(created)?.close();
      this.#handles.delete(created);
    });
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
