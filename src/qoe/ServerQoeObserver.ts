/**
 * What the node itself sees of WebRTC viewers, by observing mediasoup objects (like SfuMetrics,
 * whoever created them: SDK peers, WHEP sessions): ICE/DTLS failures of WebRTC transports, the
 * time from a video consumer's creation to its first key frame sent (a trace event enabled only
 * until then), consumers closed before any key frame, consumer scores and spatial layer changes.
 */
import type { types } from 'mediasoup';
import type { WorkerPool } from '../sfu/WorkerPool';
import type { Logger } from '../core/logger';
import type { QoeMetrics } from './QoeMetrics';
import type { StreamLabel } from './StreamLabels';

/** Current server-side figures of one stream. */
export interface ServerStreamFigures {
  /** Live WebRTC video consumers. */
  consumers: number;
  /** Mean score (0-10) of their last reports; null before any. */
  meanScore: number | null;
  /** Lowest of them. */
  minScore: number | null;
  /** Spatial layer switches since the node started (up + down). */
  layerChanges: number;
  /** Consumers closed before a key frame was sent, since the node started. */
  noFirstFrame: number;
  /** Mean creation → first key frame of the last consumers (ms); null before any. */
  firstFrameMs: number | null;
}

interface StreamStats {
  scores: Map<types.Consumer, number>;
  layerChanges: number;
  noFirstFrame: number;
  firstFrameMs: number[];
}

/** Dependencies of {@link ServerQoeObserver}. */
export interface ServerQoeObserverDeps {
  pool: WorkerPool;
  metrics: QoeMetrics;
  /** The label of the stream a producer belongs to (undefined: not a room's producer). */
  labelOf(producerId: string): StreamLabel | undefined;
  log: Logger;
}

/** The mediasoup observer. */
export class ServerQoeObserver {
  readonly #deps: ServerQoeObserverDeps;
  readonly #streams = new Map<string, StreamStats>();
  /** Transport failures since the node started, by kind. */
  readonly transportFailures: Record<string, number> = {};
  #closed = false;

  constructor(deps: ServerQoeObserverDeps) {
    this.#deps = deps;
    // Workers are observed from their creation on, so this must exist before pool.start().
    deps.pool.on('workerCreated', (worker) => {
      worker.observer.on('newrouter', (router) => {
        router.observer.on('newtransport', (transport) => {
          if (transport.type !== 'webrtc') return;
          this.#watchTransport(transport as types.WebRtcTransport);
          transport.observer.on('newconsumer', (consumer) => this.#watchConsumer(consumer));
        });
      });
    });
  }

  /** Server figures of a stream (zeros when none seen). */
  figures(key: string): ServerStreamFigures {
    const s = this.#streams.get(key);
    const scores = s ? [...s.scores.values()].filter((v) => v >= 0) : [];
    const ff = s?.firstFrameMs ?? [];
    return {
      consumers: s?.scores.size ?? 0,
      meanScore: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
      minScore: scores.length ? Math.min(...scores) : null,
      layerChanges: s?.layerChanges ?? 0,
      noFirstFrame: s?.noFirstFrame ?? 0,
      firstFrameMs: ff.length ? ff.reduce((a, b) => a + b, 0) / ff.length : null,
    };
  }

  /** Stream keys with live consumers. */
  activeKeys(): string[] {
    return [...this.#streams].filter(([, s]) => s.scores.size > 0).map(([k]) => k);
  }

  /** Sets the consumer score gauge (called every tick). */
  updateGauges(labels: Iterable<StreamLabel>): void {
    const gauge = this.#deps.metrics.consumerScore;
    gauge.reset();
    for (const label of labels) {
      const f = this.figures(label.key);
      if (f.meanScore !== null) gauge.set({ room: label.room, stream: label.stream }, f.meanScore);
    }
  }

  /** Forgets an evicted stream. */
  forget(key: string): void {
    const s = this.#streams.get(key);
    if (s && s.scores.size === 0) this.#streams.delete(key);
  }

  /** Stops counting (observers of closed workers go with them). */
  close(): void {
    this.#closed = true;
  }

  #stats(key: string): StreamStats {
    let s = this.#streams.get(key);
    if (!s) this.#streams.set(key, (s = { scores: new Map(), layerChanges: 0, noFirstFrame: 0, firstFrameMs: [] }));
    return s;
  }

  #watchTransport(transport: types.WebRtcTransport): void {
    const { metrics } = this.#deps;
    const direction = typeof transport.appData.direction === 'string' ? transport.appData.direction : 'unknown';
    let connected = false;
    let hadMedia = false;
    const fail = (kind: string): void => {
      if (this.#closed) return;
      metrics.transportFailures.inc({ kind, direction });
      this.transportFailures[kind] = (this.transportFailures[kind] ?? 0) + 1;
    };
    transport.observer.on('dtlsstatechange', (state) => {
      if (state === 'connected') connected = true;
      if (state === 'failed') fail('dtls_failed');
    });
    transport.observer.on('icestatechange', (state) => {
      if (state === 'disconnected') fail('ice_disconnected');
    });
    transport.observer.on('newproducer', () => (hadMedia = true));
    transport.observer.on('newconsumer', () => (hadMedia = true));
    transport.observer.once('close', () => {
      // An SDK client creates its receive transport at join but connects it only when it consumes.
      if (!connected && hadMedia) fail('never_connected');
    });
  }

  #watchConsumer(consumer: types.Consumer): void {
    if (consumer.kind !== 'video') return;
    const label = this.#deps.labelOf(consumer.producerId);
    if (!label) return;
    const { metrics } = this.#deps;
    const stats = this.#stats(label.key);
    const createdAt = performance.now();
    let firstFrame = false;
    let spatial: number | undefined;
    // Score events come on changes only: start from the consumer's current score.
    stats.scores.set(consumer, consumer.score?.score ?? -1);
    const stopTrace = (): void => {
      if (!consumer.closed) consumer.enableTraceEvent([]).catch(() => undefined);
    };
    consumer.observer.on('trace', (trace) => {
      if (trace.type !== 'keyframe' || firstFrame) return;
      firstFrame = true;
      const ms = performance.now() - createdAt;
      stats.firstFrameMs.push(ms);
      if (stats.firstFrameMs.length > 20) stats.firstFrameMs.shift();
      metrics.serverFirstFrame.observe({ room: label.room, stream: label.stream }, ms / 1000);
      stopTrace();
    });
    consumer.enableTraceEvent(['keyframe']).catch((error: unknown) => this.#deps.log.debug('keyframe trace not enabled', { error }));
    consumer.observer.on('score', (score) => stats.scores.set(consumer, score.score));
    consumer.observer.on('layerschange', (layers) => {
      const next = layers?.spatialLayer;
      if (next === undefined || spatial === undefined || next === spatial) {
        if (next !== undefined) spatial = next;
        return;
      }
      const direction = next > spatial ? 'up' : 'down';
      spatial = next;
      stats.layerChanges++;
      metrics.layerChanges.inc({ room: label.room, stream: label.stream, direction });
    });
    consumer.observer.once('close', () => {
      stats.scores.delete(consumer);
      if (!firstFrame && !this.#closed) {
        stats.noFirstFrame++;
        metrics.serverNoFirstFrame.inc({ room: label.room, stream: label.stream });
      }
    });
  }
}
