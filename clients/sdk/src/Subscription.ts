/**
 * A subscription to one remote producer: one mediasoup consumer. It outlives reconnections: the
 * SDK finds the same source again (same publisher identity, kind and appData, since producer ids
 * change), consumes it and swaps the track (`'trackChanged'`), re-applying pause, preferred
 * layers and priority.
 */
import type { Consumer } from 'mediasoup-client/types';
import type { ProducerInfo } from '../../../src/protocol/signaling';
import { Deferred } from './Deferred';
import { InvalidStateError, isConnectionLoss } from './errors';
import type { MediaKind } from './Publication';
import type { NodeConnection } from './NodeConnection';
import { TypedEmitter } from './TypedEmitter';

/** Spatial (0 = lowest resolution) and temporal (0 = lowest frame rate) layer pair. */
export interface Layers {
  /** Spatial layer, 0–3. */
  spatialLayer: number;
  /** Temporal layer, 0–3 (default: the highest). */
  temporalLayer?: number;
}

/** Options of `client.subscribe()`. */
export interface SubscribeOptions {
  /** Create the subscription paused (default false). */
  paused?: boolean;
  /** Layers to receive at first (default: the highest the bandwidth allows). */
  preferredLayers?: Layers;
  /** Bandwidth priority against this peer's other subscriptions, 1–255 (default 1). */
  priority?: number;
}

/** Events of {@link Subscription}. */
export interface SubscriptionEvents {
  /** The layers actually forwarded changed (null: none, e.g. while the producer is paused). */
  layersChanged: { spatialLayer: number | null; temporalLayer: number | null };
  /** Transmission quality, 0–10, of this consumer and of its producer. */
  score: { score: number; producerScore: number };
  /** After a reconnection the media arrives on a new track; attach it instead of `previous`. */
  trackChanged: { track: MediaStreamTrack; previous: MediaStreamTrack };
  /** The publisher paused the producer. */
  producerPaused: void;
  /** The publisher resumed the producer. */
  producerResumed: void;
  /** The subscription closed; fires once. Reasons: 'closed', 'producerClosed', 'producerGone', 'failed', 'clientClosed'. */
  closed: { reason: string };
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The identity of a media source across reconnections: publisher identity, kind and appData. */
export function sourceKey(info: Pick<ProducerInfo, 'identity' | 'kind' | 'appData'>): string {
  return `${info.identity}\u0000${info.kind}\u0000${stableStringify(info.appData ?? {})}`;
}

function checkLayer(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 0 || value > 3) throw new TypeError(`${name} must be an integer 0–3`);
}

/** A remote track being received. Create with `client.subscribe()`. */
export class Subscription extends TypedEmitter<SubscriptionEvents> {
  /** Key of the source, to find it again after a reconnection. */
  readonly sourceKey: string;
  #info: ProducerInfo;
  #consumer?: Consumer;
  #connection?: NodeConnection;
  #track?: MediaStreamTrack;
  #paused: boolean;
  #producerPaused = false;
  #preferredLayers?: Layers;
  #priority?: number;
  #currentLayers: { spatialLayer: number | null; temporalLayer: number | null } = {
    spatialLayer: null,
    temporalLayer: null,
  };
  #score?: { score: number; producerScore: number };
  #closed = false;
  readonly #linked = new Deferred<void>();
  readonly #onClose: (subscription: Subscription) => void;

  /** @internal */
  constructor(info: ProducerInfo, options: SubscribeOptions, onClose: (subscription: Subscription) => void) {
    super();
    checkLayer('spatialLayer', options.preferredLayers?.spatialLayer);
    checkLayer('temporalLayer', options.preferredLayers?.temporalLayer);
    if (options.priority !== undefined) Subscription.#checkPriority(options.priority);
    this.#info = info;
    this.sourceKey = sourceKey(info);
    this.#paused = options.paused ?? false;
    this.#preferredLayers = options.preferredLayers;
    this.#priority = options.priority;
    this.#onClose = onClose;
  }

  static #checkPriority(priority: number): void {
    if (!Number.isInteger(priority) || priority < 1 || priority > 255) {
      throw new TypeError('priority must be an integer 1–255');
    }
  }

  /** The received track; replaced after reconnections (see `'trackChanged'`). */
  get track(): MediaStreamTrack {
    if (!this.#track) throw new InvalidStateError('subscription has no track yet');
    return this.#track;
  }

  /** Consumer id on the node (changes after reconnections; undefined while reconnecting). */
  get consumerId(): string | undefined {
    return this.#consumer?.id;
  }

  /** Id of the producer being received (changes after reconnections). */
  get producerId(): string {
    return this.#info.producerId;
  }

  /** Peer id of the publisher. */
  get peerId(): string {
    return this.#info.peerId;
  }

  /** Identity (token subject) of the publisher. */
  get identity(): string {
    return this.#info.identity;
  }

  /** 'audio' or 'video'. */
  get kind(): MediaKind {
    return this.#info.kind;
  }

  /** The publisher's app metadata. */
  get appData(): Record<string, unknown> {
    return this.#info.appData;
  }

  /** The producer as the node described it. */
  get producer(): Readonly<ProducerInfo> {
    return this.#info;
  }

  /** Whether the app paused this subscription. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Whether the publisher paused the producer. */
  get producerPaused(): boolean {
    return this.#producerPaused;
  }

  /** Layers asked for with setPreferredLayers (undefined: the highest). */
  get preferredLayers(): Readonly<Layers> | undefined {
    return this.#preferredLayers;
  }

  /** Layers the node currently forwards. */
  get currentLayers(): { spatialLayer: number | null; temporalLayer: number | null } {
    return { ...this.#currentLayers };
  }

  /** Priority set with setPriority (undefined: the node's default). */
  get priority(): number | undefined {
    return this.#priority;
  }

  /** Last reported transmission score. */
  get score(): { score: number; producerScore: number } | undefined {
    return this.#score;
  }

  /** Whether the subscription is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Asks the node to forward these layers when bandwidth allows (spatial 0 = lowest resolution).
   * Kept across reconnections.
   *
   * @throws {TypeError} for layers outside 0–3.
   */
  async setPreferredLayers(spatialLayer: number, temporalLayer?: number): Promise<void> {
    this.#assertOpen();
    checkLayer('spatialLayer', spatialLayer);
    checkLayer('temporalLayer', temporalLayer);
    this.#preferredLayers = temporalLayer === undefined ? { spatialLayer } : { spatialLayer, temporalLayer };
    await this.#request((connection, consumerId) =>
      connection.request('setPreferredLayers', {
        consumerId,
        spatialLayer,
        ...(temporalLayer === undefined ? {} : { temporalLayer }),
      }),
    );
  }

  /** Sets the bandwidth priority (1–255; higher gets bandwidth first). Kept across reconnections. */
  async setPriority(priority: number): Promise<void> {
    this.#assertOpen();
    Subscription.#checkPriority(priority);
    this.#priority = priority;
    await this.#request((connection, consumerId) => connection.request('setConsumerPriority', { consumerId, priority }));
  }

  /** Stops receiving media (the node stops forwarding). */
  async pause(): Promise<void> {
    this.#assertOpen();
    this.#paused = true;
    this.#consumer?.pause();
    await this.#request((connection, consumerId) => connection.request('pauseConsumer', { consumerId }));
  }

  /** Resumes receiving media. */
  async resume(): Promise<void> {
    this.#assertOpen();
    this.#paused = false;
    await this.#request((connection, consumerId) => connection.request('resumeConsumer', { consumerId }));
    if (!this.#paused) this.#consumer?.resume();
  }

  /** Local receiver statistics. */
  async getStats(): Promise<RTCStatsReport | undefined> {
    return this.#consumer && !this.#consumer.closed ? this.#consumer.getStats() : undefined;
  }

  /** Stops receiving and releases the consumer (idempotent). */
  close(): void {
    this._close('closed', true);
  }

  /** @internal Resolves on the first successful consume; rejects if closed before. */
  get _whenLinked(): Promise<void> {
    return this.#linked.promise;
  }

  /** @internal Whether a consumer on a live connection is attached. */
  get _isLinked(): boolean {
    return this.#consumer !== undefined;
  }

  /** @internal Points the subscription at a (new) producer before consuming it. */
  _retarget(info: ProducerInfo): void {
    this.#info = info;
  }

  /** @internal */
  _attach(connection: NodeConnection, consumer: Consumer, producerPaused: boolean): void {
    const previous = this.#track;
    this.#connection = connection;
    this.#consumer = consumer;
    this.#track = consumer.track;
    this.#producerPaused = producerPaused;
    this.#currentLayers = { spatialLayer: null, temporalLayer: null };
    if (!this.#linked.settled) this.#linked.resolve();
    else if (previous && previous !== consumer.track) this.emit('trackChanged', { track: consumer.track, previous });
  }

  /** @internal The connection is gone (its transport closed the consumer). */
  _detach(connection: NodeConnection): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#consumer = undefined;
  }

  /** @internal */
  _setLayers(spatialLayer: number | null, temporalLayer: number | null): void {
    this.#currentLayers = { spatialLayer, temporalLayer };
    this.emit('layersChanged', { spatialLayer, temporalLayer });
  }

  /** @internal */
  _setScore(score: number, producerScore: number): void {
    this.#score = { score, producerScore };
    this.emit('score', { score, producerScore });
  }

  /** @internal */
  _setProducerPaused(paused: boolean): void {
    if (this.#producerPaused === paused) return;
    this.#producerPaused = paused;
    if (paused) this.emit('producerPaused');
    else this.emit('producerResumed');
  }

  /** @internal */
  _close(reason: string, notifyServer: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    const consumer = this.#consumer;
    const connection = this.#connection;
    this.#consumer = undefined;
    this.#connection = undefined;
    if (consumer && !consumer.closed) {
      consumer.close();
      if (notifyServer && connection) connection.request('closeConsumer', { consumerId: consumer.id }).catch(() => undefined);
    }
    this.#linked.reject(new InvalidStateError(`subscription closed (${reason})`));
    this.#onClose(this);
    this.emit('closed', { reason });
    this.removeAllListeners();
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('subscription is closed');
  }

  /** Sends a consumer request if linked; while reconnecting the stored setting is applied later. */
  async #request(send: (connection: NodeConnection, consumerId: string) => Promise<unknown>): Promise<void> {
    const consumer = this.#consumer;
    const connection = this.#connection;
    if (!consumer || !connection) return;
    try {
      await send(connection, consumer.id);
    } catch (error) {
      if (!isConnectionLoss(error)) throw error;
    }
  }
}
