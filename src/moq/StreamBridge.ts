/**
 * Offers one SFU stream (the producers of one participant identity in a room) as one MoQ
 * broadcast: a track per producer ('video', 'audio', then 'video-2', …) plus the hang catalog
 * describing them, republished whenever a rendition changes.
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
  bridge: ProducerBridge;
  trackName: string;
  kind: 'video' | 'audio';
  rendition: VideoRendition | AudioRendition | undefined;
}

/** One stream → one broadcast. */
export class StreamBridge {
  readonly identity: string;
  readonly broadcast: Broadcast;
  readonly #o: StreamBridgeOptions;
  readonly #catalog: Track;
  readonly #entries = new Map<string, Entry>();
  #catalogJson = '';
  #closed = false;

  constructor(options: StreamBridgeOptions) {
    this.#o = options;
    this.identity = options.stream.identity;
    this.broadcast = options.broadcast;
    this.#catalog = options.broadcast.createTrack(CATALOG_TRACK);
  }

  /** Producers bridged. */
  get size(): number {
    return this.#entries.size;
  }

  /** The bridge of a producer (for tests and stats). */
  bridgeOf(producerId: string): ProducerBridge | undefined {
    return this.#entries.get(producerId)?.bridge;
  }

  /** Bridges a producer of this stream; unsupported codecs are skipped with a warning. */
  async addProducer(producer: types.Producer): Promise<void> {
    if (this.#closed || this.#entries.has(producer.id)) return;
    const { stream, log } = this.#o;
    if (!bridgeCodecOf(producer)) {
      log.warn('producer codec not bridged to MoQ', { producer: producer.id, mime: producer.rtpParameters.codecs[0]?.mimeType });
      return;
    }
    if (!stream.room.getProducer(producer.id)) return;
    const slot = stream.slotOf(producer.id);
    const kind = producer.kind;
    const trackName = this.#trackName(kind);
    const track = this.broadcast.createTrack(trackName);
    const e: Entry = { bridge: undefined as unknown as ProducerBridge, trackName, kind, rendition: undefined };
    e.bridge = new ProducerBridge({
      producer,
      slot,
      track,
      consume: (transport, s) => stream.consume(transport, s, producer, { output: 'moq', paused: false }),
      onRendition: (r) => {
        e.rendition = r.config;
        this.#publishCatalog();
      },
      log: log.child(trackName),
    });
    this.#entries.set(producer.id, e);
    try {
      await e.bridge.start();
      log.info('bridging producer to MoQ', { path: this.broadcast.path, track: trackName, producer: producer.id });
    } catch (err) {
      this.removeProducer(producer.id);
      throw err;
    }
  }

  /** Stops bridging a producer. */
  removeProducer(producerId: string): void {
    const e = this.#entries.get(producerId);
    if (!e) return;
    this.#entries.delete(producerId);
    e.bridge.close();
    this.broadcast.removeTrack(e.trackName);
    this.#publishCatalog();
  }

  /** Ends the broadcast. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#entries.values()) e.bridge.close();
    this.#entries.clear();
    this.broadcast.close();
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
