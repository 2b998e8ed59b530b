/**
 * Offers one SFU stream (the producers of one participant identity in a room) as one MoQ
 * broadcast: a track per producer ('video', 'audio', then 'video-2', …) plus the hang catalog
 * describing them, republished whenever a rendition changes. The tracks exist (and are announced)
 * from the start, but the SFU is consumed only on demand: while a MoQ subscriber holds one of the
 * broadcast's tracks (the relay's `demand` event, with its linger); a restart begins at a key frame
 * it requests.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import type { Stream } from '../streams/Stream';
import type { Broadcast } from '../../relay/model/Broadcast';
import type { Track } from '../../relay/model/Track';
import { CATALOG_TRACK, hangCatalog, type AudioRendition, type VideoRendition } from '../protocol/hangFormat';
import { bridgeCodecOf, ProducerBridge } from './ProducerBridge';

/** Options of {@link StreamBridge}. */
export interface StreamBridgeOptions {
  /** The hub stream bridged (its consumers count against its routers' budgets). */
  stream: Stream;
  broadcast: Broadcast;
  log: Logger;
}

interface Entry {
  producer: types.Producer;
  track: Track;
  trackName: string;
  kind: 'video' | 'audio';
  rendition: VideoRendition | AudioRendition | undefined;
  /** The running bridge while the broadcast is wanted. */
  bridge: ProducerBridge | undefined;
}

/** One stream → one broadcast. */
export class StreamBridge {
  readonly identity: string;
  readonly broadcast: Broadcast;
  readonly #o: StreamBridgeOptions;
  readonly #catalog: Track;
  readonly #entries = new Map<string, Entry>();
  readonly #onDemand = (wanted: boolean) => (wanted ? this.#resume() : this.#suspend());
  #catalogJson = '';
  #closed = false;

  constructor(options: StreamBridgeOptions) {
    this.#o = options;
    this.identity = options.stream.identity;
    this.broadcast = options.broadcast;
    this.#catalog = options.broadcast.createTrack(CATALOG_TRACK);
    options.broadcast.on('demand', this.#onDemand);
  }

  /** Producers offered as tracks. */
  get size(): number {
    return this.#entries.size;
  }

  /** True while the SFU is being consumed (a MoQ subscriber wants the broadcast). */
  get active(): boolean {
    return this.broadcast.wanted && !this.#closed;
  }

  /** The running bridge of a producer, if the broadcast is wanted (for tests and stats). */
  bridgeOf(producerId: string): ProducerBridge | undefined {
    return this.#entries.get(producerId)?.bridge;
  }

  /** Offers a producer of this stream as a track (consumed while wanted); unsupported codecs are skipped with a warning. */
  async addProducer(producer: types.Producer): Promise<void> {
    if (this.#closed || this.#entries.has(producer.id)) return;
    const { stream, log } = this.#o;
    if (!bridgeCodecOf(producer)) {
      log.warn('producer codec not bridged to MoQ', { producer: producer.id, mime: producer.rtpParameters.codecs[0]?.mimeType });
      return;
    }
    if (!stream.room.getProducer(producer.id)) return;
    const kind = producer.kind;
    const trackName = this.#trackName(kind);
    const e: Entry = { producer, track: this.broadcast.createTrack(trackName), trackName, kind, rendition: undefined, bridge: undefined };
    this.#entries.set(producer.id, e);
    if (this.active) await this.#startBridge(e);
  }

  /** Stops bridging a producer and ends its track. */
  removeProducer(producerId: string): void {
    const e = this.#entries.get(producerId);
    if (!e) return;
    this.#entries.delete(producerId);
    e.bridge?.close();
    this.broadcast.removeTrack(e.trackName);
    this.#publishCatalog();
  }

  /** Ends the broadcast. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.broadcast.off('demand', this.#onDemand);
    for (const e of this.#entries.values()) e.bridge?.close();
    this.#entries.clear();
    this.broadcast.close();
  }

  /** A subscriber came: consume every producer. */
  #resume(): void {
    if (this.#closed) return;
    this.#o.log.info('MoQ subscribers want the stream: bridging', { path: this.broadcast.path, tracks: this.#entries.size });
    for (const e of this.#entries.values()) {
      if (e.bridge) continue;
      this.#startBridge(e).catch((err: unknown) =>
        this.#o.log.warn('cannot bridge producer to MoQ', { path: this.broadcast.path, track: e.trackName, producer: e.producer.id, error: err }),
      );
    }
  }

  /**
   * The last subscriber left (a linger ago): stop consuming, keep the tracks and their numbering;
   * their cached groups go (they would be stale for the next subscriber, who starts at the key
   * frame the restarted bridge asks for). The catalog keeps its snapshot.
   */
  #suspend(): void {
    if (this.#closed) return;
    this.#o.log.info('no MoQ subscriber left: bridge idle', { path: this.broadcast.path });
    for (const e of this.#entries.values()) {
      e.bridge?.stop();
      e.bridge = undefined;
      e.track.clearCache();
    }
  }

  async #startBridge(e: Entry): Promise<void> {
    const { stream, log } = this.#o;
    const { producer, trackName } = e;
    const bridge = new ProducerBridge({
      producer,
      slot: stream.slotOf(producer.id),
      track: e.track,
      consume: (transport, s) => stream.consume(transport, s, producer, { output: 'moq', paused: false }),
      onRendition: (r) => {
        e.rendition = r.config;
        this.#publishCatalog();
      },
      log: log.child(trackName),
    });
    e.bridge = bridge;
    try {
      await bridge.start();
      if (!bridge.stopped) log.info('bridging producer to MoQ', { path: this.broadcast.path, track: trackName, producer: producer.id });
    } catch (err) {
      if (bridge.stopped && e.bridge !== bridge) return; // suspended while starting
      this.removeProducer(producer.id);
      throw err;
    }
  }

  #trackName(kind: 'video' | 'audio'): string {
    const used = new Set([...this.#entries.values()].map((e) => e.trackName));
    if (!used.has(kind)) return kind;
    for (let i = 2; ; i++) if (!used.has(`${kind}-${i}`)) return `${kind}-${i}`;
  }

  #publishCatalog(): void {
    if (this.#closed) return;
    const video: Record<string, VideoRendition> = {};
    const audio: Record<string, AudioRendition> = {};
    for (const e of this.#entries.values()) {
      if (!e.rendition) continue;
      if (e.kind === 'video') video[e.trackName] = e.rendition as VideoRendition;
      else audio[e.trackName] = e.rendition as AudioRendition;
    }
    if (Object.keys(video).length + Object.keys(audio).length === 0) return;
    const json = JSON.stringify(hangCatalog(video, audio));
    if (json === this.#catalogJson) return;
    this.#catalogJson = json;
    const g = this.#catalog.appendGroup();
    g.write(new TextEncoder().encode(json));
    g.finish();
    this.#o.log.debug('catalog published', { path: this.broadcast.path, catalog: json });
  }
}
