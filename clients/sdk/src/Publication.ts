/**
 * A published track or stream: one mediasoup producer per track. The Publication outlives
 * reconnections: after each one the SDK produces the same tracks again (new producer ids,
 * `'producerChanged'`), re-applying pause state.
 */
import type { Producer } from 'mediasoup-client/types';
import { Deferred } from './Deferred';
import { InvalidStateError, isConnectionLoss } from './errors';
import type { NodeConnection } from './NodeConnection';
import { TypedEmitter } from './TypedEmitter';

/** Video codecs an app may ask for. */
export type VideoCodecName = 'VP8' | 'H264';

/** A media kind. */
export type MediaKind = 'audio' | 'video';

/** Options of `client.publish()`. */
export interface PublishOptions {
  /** Send three simulcast layers (¼, ½ and full resolution) for video (default true; audio ignores it). */
  simulcast?: boolean;
  /** Preferred video codec (default: the node's first, normally VP8). */
  codec?: VideoCodecName;
  /** Metadata attached to each producer and shown to other peers (default {}). */
  appData?: Record<string, unknown>;
  /** Start paused (default false). */
  paused?: boolean;
}

/** Events of {@link Publication}. */
export interface PublicationEvents {
  /** The tracks were produced again after a reconnection; producer ids changed. */
  producerChanged: { producerIds: string[] };
  /** A track ended (device unplugged, permission revoked); the publication stays open. */
  trackEnded: { track: MediaStreamTrack };
  /** Tracks were paused (`kind` undefined: all). */
  paused: { kind?: MediaKind };
  /** Tracks were resumed (`kind` undefined: all). */
  resumed: { kind?: MediaKind };
  /** The publication closed; fires once. */
  closed: { reason: string };
}

/** @internal One track of a publication and its current producer. */
export interface PublishedTrack {
  track: MediaStreamTrack;
  readonly kind: MediaKind;
  paused: boolean;
  producer?: Producer;
  connection?: NodeConnection;
}

/** A local publication. Create with `client.publish()`. */
export class Publication extends TypedEmitter<PublicationEvents> {
  /** Options as given to publish(). */
  readonly options: Readonly<PublishOptions>;
  readonly #entries: PublishedTrack[];
  readonly #onClose: (publication: Publication) => void;
  readonly #linked = new Deferred<void>();
  #closed = false;

  /** @internal */
  constructor(tracks: MediaStreamTrack[], options: PublishOptions, onClose: (publication: Publication) => void) {
    super();
    this.options = options;
    this.#entries = tracks.map((track) => ({
      track,
      kind: track.kind === 'audio' ? 'audio' : 'video',
      paused: options.paused ?? false,
    }));
    this.#onClose = onClose;
  }

  /** Producer id of the first track (the only one when a single track was published). */
  get producerId(): string | undefined {
    return this.#entries[0]?.producer?.id;
  }

  /** Producer ids of all tracks, in track order (missing while reconnecting). */
  get producerIds(): string[] {
    return this.#entries.flatMap((entry) => (entry.producer ? [entry.producer.id] : []));
  }

  /** The published tracks. */
  get tracks(): MediaStreamTrack[] {
    return this.#entries.map((entry) => entry.track);
  }

  /** App metadata sent with each producer. */
  get appData(): Record<string, unknown> {
    return this.options.appData ?? {};
  }

  /** Whether every track is paused. */
  get paused(): boolean {
    return this.#entries.every((entry) => entry.paused);
  }

  /** Whether the publication is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops sending (all tracks, or those of `kind`); the node pauses its consumers too. */
  async pause(kind?: MediaKind): Promise<void> {
    await this.#setPaused(true, kind);
    this.emit('paused', { kind });
  }

  /** Resumes sending (all tracks, or those of `kind`). */
  async resume(kind?: MediaKind): Promise<void> {
    await this.#setPaused(false, kind);
    this.emit('resumed', { kind });
  }

  /**
   * Replaces the track of the same kind (e.g. switching to the rear camera) without a new producer.
   * The old track is not stopped.
   */
  async replaceTrack(track: MediaStreamTrack): Promise<void> {
    this.#assertOpen();
    const entry = this.#entries.find((e) => e.kind === track.kind);
    if (!entry) throw new TypeError(`publication has no ${track.kind} track to replace`);
    entry.track = track;
    if (entry.producer && !entry.producer.closed) await entry.producer.replaceTrack({ track });
  }

  /** Closes every producer (idempotent). The tracks are not stopped: they belong to the app. */
  close(): void {
    this._close('closed', true);
  }

  /** Local sender statistics of each track's producer. */
  async getStats(): Promise<RTCStatsReport[]> {
    return Promise.all(this.#entries.flatMap((entry) => (entry.producer && !entry.producer.closed ? [entry.producer.getStats()] : [])));
  }

  /** @internal */
  get _entries(): readonly PublishedTrack[] {
    return this.#entries;
  }

  /** @internal Resolves once every track has been produced the first time. */
  get _whenLinked(): Promise<void> {
    return this.#linked.promise;
  }

  /** @internal */
  _attach(entry: PublishedTrack, connection: NodeConnection, producer: Producer): void {
    entry.producer = producer;
    entry.connection = connection;
    producer.on('trackended', () => this.emit('trackEnded', { track: entry.track }));
  }

  /** @internal All tracks are produced on the current connection. */
  _linked(): void {
    if (!this.#linked.settled) this.#linked.resolve();
    else this.emit('producerChanged', { producerIds: this.producerIds });
  }

  /** @internal The connection is gone; its transports already closed the producers. */
  _detach(connection: NodeConnection): void {
    for (const entry of this.#entries) {
      if (entry.connection !== connection) continue;
      entry.producer = undefined;
      entry.connection = undefined;
    }
  }

  /** @internal The node closed one producer; the publication closes when none is left. */
  _producerClosed(producerId: string): void {
    const entry = this.#entries.find((e) => e.producer?.id === producerId);
    if (!entry?.producer) return;
    entry.producer.close();
    entry.producer = undefined;
    entry.connection = undefined;
    if (this.#entries.every((e) => !e.producer)) this._close('closedByServer', false);
  }

  /** @internal */
  _close(reason: string, notifyServer: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of this.#entries) {
      const { producer, connection } = entry;
      entry.producer = undefined;
      entry.connection = undefined;
      if (!producer || producer.closed) continue;
      producer.close();
      if (notifyServer && connection) connection.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
    }
    this.#linked.reject(new InvalidStateError(`publication closed (${reason})`));
    this.#onClose(this);
    this.emit('closed', { reason });
    this.removeAllListeners();
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('publication is closed');
  }

  async #setPaused(paused: boolean, kind?: MediaKind): Promise<void> {
    this.#assertOpen();
    const entries = this.#entries.filter((entry) => kind === undefined || entry.kind === kind);
    await Promise.all(
      entries.map(async (entry) => {
        entry.paused = paused;
        const { producer, connection } = entry;
        // Without a producer (reconnecting) the flag is applied when the track is produced again.
        if (!producer || producer.closed || !connection) return;
        if (paused) producer.pause();
        else producer.resume();
        try {
          await connection.request(paused ? 'pauseProducer' : 'resumeProducer', { producerId: producer.id });
        } catch (error) {
          if (!isConnectionLoss(error)) throw error;
        }
      }),
    );
  }
}
