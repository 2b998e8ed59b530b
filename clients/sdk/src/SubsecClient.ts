/**
 * The public entry: a connection to a room on a subsec node. It keeps the app's intent —
 * publications and subscriptions — across reconnections: when a {@link NodeConnection} is lost it opens a
 * new one with capped exponential backoff, produces the same tracks again and re-finds each
 * subscribed source by publisher identity + kind + appData.
 *
 * Every internal async task is caught: failures surface as `'error'` events or as the rejection of
 * the call the app made, never as unhandled rejections.
 */
import type { PeerInfo, ProducerInfo, RoomEvent } from '../../../src/protocol/signaling';
import { ClockSync } from './ClockSync';
import { QoeReporter } from './qoe/QoeReporter';
import { RoomEvents, type SendEventOptions } from './RoomEvents';
import { StreamPlayer, httpBaseOf, type WatchOptions } from './StreamPlayer';
import { backoffDelay, sleep } from './backoff';
import { NodeFailover } from './NodeFailover';
import { DataChannels, type DataPayload } from './DataChannels';
import { InvalidStateError, SubsecError, TimeoutError, isConnectionLoss, isPermanentFailure, ServerError, toErrorEvent, toSubsecError } from './errors';
import { resolveOptions, type ConnectOptions, type ResolvedOptions } from './options';
import { Publication, type PublishOptions } from './Publication';
import { produceTrack } from './produceTrack';
import { NodeConnection, type JoinData } from './NodeConnection';
import type { NotificationEvent } from './SignalingChannel';
import { Subscription, sourceKey, type SubscribeOptions } from './Subscription';
import { TypedEmitter } from './TypedEmitter';
import { toSignalingUrl } from './url';
import { moqSessionUrl } from './moq/moqSessionUrl';
import type { ConnectionState, PingResult, SubscribeTarget, SubsecClientEvents } from './clientTypes';

/** How long a subscription whose producer closed waits for a possible reconnect before closing (ms). */
const CLOSE_SETTLE_MS = 250;

/** Connects to a node and joins the room named in `token`. See {@link SubsecClient.connect}. */
export function connect(url: string | string[], token: string, options?: ConnectOptions): Promise<SubsecClient> {
  return SubsecClient.connect(url, token, options);
}

/** A connection to a room. Create with {@link connect}. */
export class SubsecClient extends TypedEmitter<SubsecClientEvents> {
  readonly #failover: NodeFailover;
  readonly #token: string;
  readonly #options: ResolvedOptions;
  readonly #closer = new AbortController();
  readonly #peers = new Map<string, PeerInfo>();
  readonly #producers = new Map<string, ProducerInfo>();
  readonly #publications = new Set<Publication>();
  readonly #subscriptions = new Set<Subscription>();
  #state: ConnectionState = 'connecting';
  #connection?: NodeConnection;
  #data?: DataChannels;
  #joined?: JoinData;
  #wake?: AbortController;
  #graceTimer?: ReturnType<typeof setTimeout>;
  readonly #closeTimers = new Set<ReturnType<typeof setTimeout>>();
  #drainingConnection?: NodeConnection;
  #onOnline = (): void => this.#wake?.abort();
  /** Room events: `send(type, payload, {idempotencyKey})`, `on('event')`, history (docs/events.md). */
  readonly events: RoomEvents;
  /** The node's clock, synced over the signaling socket: `clock.now()`. */
  readonly clock: ClockSync;
  /** Playback QoE measured on every path and reported to the node (docs/qoe.md): `qoe.startSession()`, `qoe.watchMedia()`. */
  readonly qoe: QoeReporter;

  /**
   * Opens the signaling socket to `url` (the node's http(s) base URL or its ws(s) URL; `/ws` is
   * appended when there is no path), joins with `token`, loads the mediasoup Device and creates the
   * receive transport. Rejects with a {@link SubsecError} (e.g. UNAUTHENTICATED, CONNECTION_FAILED);
   * the first connection is not retried.
   */
  static async connect(url: string | string[], token: string, options: ConnectOptions = {}): Promise<SubsecClient> {
    if (typeof token !== 'string' || token.length === 0) throw new TypeError('token must be a non-empty string');
    // A list of nodes: the first is connected to, the others are failover targets (options.nodes).
    const [first, ...others] = Array.isArray(url) ? url : [url];
    if (first === undefined) throw new TypeError('connect needs at least one node URL');
    const resolved = resolveOptions({ ...options, nodes: [...others, ...(options.nodes ?? [])] });
    const client = new SubsecClient(toSignalingUrl(first), token, resolved);
    const { signal } = options;
    if (signal?.aborted) throw new SubsecError('ABORTED', 'connect aborted');
    const onAbort = (): void => client.#closer.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.#open();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return client;
  }

  private constructor(url: string, token: string, options: ResolvedOptions) {
    super();
    this.#failover = new NodeFailover(url, options.nodes, options.failoverWindowMs);
    this.#token = token;
    this.#options = options;
    globalThis.addEventListener?.('online', this.#onOnline);
    this.events = new RoomEvents({
      whenConnected: () => this.#whenConnected(),
      operationTimeoutMs: options.operationTimeoutMs,
      replay: options.eventsReplay,
      logger: options.logger,
    });
    this.events.on('event', (event) => this.emit('event', event));
    this.clock = new ClockSync(options.clockSync);
    this.qoe = new QoeReporter(options.qoe, options.logger);
  }

  /** A getter so TypeScript does not narrow the state across awaits. */
  get #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Connection state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** This client's peer id (changes after reconnections). */
  get peerId(): string {
    return this.#joined?.peerId ?? '';
  }

  /** This client's identity (the token subject). */
  get identity(): string {
    return this.#joined?.identity ?? '';
  }

  /** The node's http(s) base URL (for LL-HLS and the SDK's lazily loaded parts). */
  get httpUrl(): string {
    return httpBaseOf(this.#failover.current);
  }

  /** The room joined. */
  get room(): string {
    return this.#joined?.room ?? '';
  }

  /** What the token allows. */
  get grants(): JoinData['grants'] {
    return this.#joined?.grants ?? { canPublish: false, canSubscribe: false, canPublishData: false };
  }

  /**
   * The MoQ connection URL for this room on the node's relay, with this client's token (`?jwt=`);
   * undefined when the node offers no MoQ. A relay bound to a wildcard address is reached at the
   * signaling host.
   */
  moqSessionUrl(): URL | undefined {
    const moq = this.#joined?.moq;
    return moq ? moqSessionUrl(moq, this.#failover.current, this.#token) : undefined;
  }

  /**
   * The room's MoQ connection over WebTransport/HTTP3 when the relay offers it: the connection URL
   * (`https://…`, same root and token as {@link moqSessionUrl}) and the certificate hash to pin.
   */
  moqWebTransport(): { url: URL; certificateSha256: string } | undefined {
    const moq = this.#joined?.moq;
    if (!moq?.webtransport) return undefined;
    return {
      url: moqSessionUrl({ url: moq.webtransport.url, root: moq.root }, this.#failover.current, this.#token),
      certificateSha256: moq.webtransport.certificateSha256,
    };
  }

  /** Other peers in the room. */
  get peers(): PeerInfo[] {
    return [...this.#peers.values()];
  }

  /** Producers in the room that can be subscribed to. */
  get producers(): ProducerInfo[] {
    return [...this.#producers.values()];
  }

  /** Open publications. */
  get publications(): Publication[] {
    return [...this.#publications];
  }

  /** Open subscriptions. */
  get subscriptions(): Subscription[] {
    return [...this.#subscriptions];
  }

  /**
   * Publishes a track, or every track of a stream, as one producer per track. Video is sent as
   * three simulcast layers unless `simulcast: false`. While reconnecting it waits for the
   * connection (up to `operationTimeoutMs`). The app keeps ownership of the tracks.
   *
   * @throws {TypeError} for an empty stream or bad options; FORBIDDEN without the publish grant;
   *   UNSUPPORTED_MEDIA when the codec is unavailable.
   */
  async publish(source: MediaStreamTrack | MediaStream, options: PublishOptions = {}): Promise<Publication> {
    const tracks = 'getTracks' in source ? source.getTracks() : [source];
    if (tracks.length === 0) throw new TypeError('nothing to publish: the stream has no tracks');
    if (options.codec !== undefined && options.codec !== 'VP8' && options.codec !== 'H264') {
      throw new TypeError("codec must be 'VP8' or 'H264'");
    }
    for (const track of tracks) {
      if (track.readyState === 'ended') throw new TypeError(`the ${track.kind} track has ended`);
    }
    const connection = await this.#whenConnected();
    if (!this.grants.canPublish) throw new SubsecError('FORBIDDEN', 'the token does not allow publishing');
    const publication = new Publication(tracks, { ...options }, (p) => this.#publications.delete(p));
    this.#publications.add(publication);
    try {
      await this.#producePublication(connection, publication);
    } catch (error) {
      if (isConnectionLoss(error) && this.#state !== 'closed') {
        // The reconnection produces it again; the call resolves then.
        await publication._whenLinked;
        return publication;
      }
      publication._close('failed', true);
      throw toSubsecError(error);
    }
    return publication;
  }

  /**
   * Subscribes to one producer (resolves to a Subscription) or to every current producer of a peer
   * (resolves to an array). Subscribing again to a producer already subscribed returns the
   * existing Subscription.
   *
   * @throws NOT_FOUND for an unknown producer; FORBIDDEN without the subscribe grant.
   */
  subscribe(target: string, options?: SubscribeOptions): Promise<Subscription>;
  subscribe(target: { peerId: string }, options?: SubscribeOptions): Promise<Subscription[]>;
  async subscribe(target: SubscribeTarget, options: SubscribeOptions = {}): Promise<Subscription | Subscription[]> {
    const validTarget =
      (typeof target === 'string' && target.length > 0) || (typeof target === 'object' && target !== null && typeof target.peerId === 'string');
    if (!validTarget) throw new TypeError('subscribe target must be a producer id or {peerId}');
    await this.#whenConnected();
    if (!this.grants.canSubscribe) throw new SubsecError('FORBIDDEN', 'the token does not allow subscribing');
    if (typeof target === 'string') {
      const info = this.#producers.get(target);
      if (!info) {
        const existing = this.#subscriptionOf(target);
        if (existing) return existing;
        throw new SubsecError('NOT_FOUND', `no producer ${target} in the room`);
      }
      return this.#subscribeOne(info, options);
    }
    const infos = [...this.#producers.values()].filter((p) => p.peerId === target.peerId);
    return Promise.all(infos.map((info) => this.#subscribeOne(info, options)));
  }

  /**
   * Shows the stream of publisher `identity` in `media`, choosing the transport and falling back
   * WebRTC → MoQ → LL-HLS on failure or by policy (see {@link StreamPlayer}); room events are then
   * also emitted by the player at their media time. `subscribe()` stays the WebRTC-level primitive.
   */
  watch(identity: string, media: HTMLMediaElement, options?: WatchOptions): Promise<StreamPlayer> {
    return StreamPlayer.start(this, identity, media, options);
  }

  /** Sets the preferred layers of a subscription by consumer id (see Subscription.setPreferredLayers). */
  async setPreferredLayers(consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const subscription = [...this.#subscriptions].find((s) => s.consumerId === consumerId);
    if (!subscription) throw new SubsecError('NOT_FOUND', `no subscription with consumer ${consumerId}`);
    await subscription.setPreferredLayers(spatialLayer, temporalLayer);
  }

  /**
   * Sends a data message to the other peers over the SCTP data channel ('chat'). Strings go as
   * they are, objects as JSON, binary as binary.
   *
   * @throws FORBIDDEN without the data grant; PAYLOAD_TOO_LARGE above the SCTP message size.
   */
  async sendData(data: DataPayload): Promise<void> {
    if (data === undefined || data === null) throw new TypeError('sendData expects a string, object or binary');
    await this.#whenConnected();
    if (!this.grants.canPublishData) throw new SubsecError('FORBIDDEN', 'the token does not allow sending data');
    const channels = this.#data;
    if (!channels) throw new SubsecError('CONNECTION_LOST', 'not connected');
    await channels.send(data);
  }

  /**
   * Sends a room event (see {@link RoomEvents.send}): numbered by the node, delivered to everyone
   * in order, applied once per idempotency key even when retried across reconnections.
   */
  send(type: string, payload?: unknown, options?: SendEventOptions): Promise<RoomEvent> {
    return this.events.send(type, payload, options);
  }

  /** Measures the round trip to the node and the offset of its clock. */
  async ping(): Promise<PingResult> {
    const connection = await this.#whenConnected();
    const sentAt = Date.now();
    const start = performance.now();
    const { serverTime } = await connection.request('ping', { clientTime: sentAt });
    const rttMs = performance.now() - start;
    return { offsetMs: serverTime - (sentAt + rttMs / 2), rttMs, serverTime };
  }

  /** Leaves the room and releases everything (idempotent). Tracks given to publish() are not stopped. */
  close(): void {
    this.#shutdown('closed');
  }

  async #open(): Promise<void> {
    let connection: NodeConnection;
    try {
      connection = await this.#openFollowingRedirects(this.#token);
    } catch (error) {
      this.#shutdown('connectFailed', undefined, false);
      throw toSubsecError(error, 'CONNECTION_FAILED');
    }
    if (!this.#adopt(connection)) {
      this.#shutdown('connectFailed', undefined, false);
      throw new SubsecError('CONNECTION_LOST', 'connection lost while joining');
    }
    // A notification delivered while wiring up (roomClosed) may already have ended the client.
    if (this.#isClosed) throw new InvalidStateError('client closed while joining');
    this.#setState('connected');
  }

  /** Opens a connection, following up to 3 `REDIRECT` join errors to the node they name. */
  async #openFollowingRedirects(token: string): Promise<NodeConnection> {
    for (let hop = 0; ; hop++) {
      try {
        return await this.#openConnection(token);
      } catch (error) {
        if (hop >= 3 || !(error instanceof ServerError) || error.code !== 'REDIRECT' || !error.redirect?.url) throw error;
        this.#options.logger.warn?.(`[subsec] redirected to ${error.redirect.nodeId} (${error.redirect.url})`);
        this.#failover.redirect(error.redirect.url);
      }
    }
  }

  #openConnection(token: string): Promise<NodeConnection> {
    const o = this.#options;
    return NodeConnection.open({
      url: this.#failover.current,
      token,
      connectTimeoutMs: o.connectTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      logger: o.logger,
      signal: this.#closer.signal,
      ...(o.displayName === undefined ? {} : { displayName: o.displayName }),
      ...(o.iceServers ? { iceServers: o.iceServers } : {}),
      ...(o.iceTransportPolicy ? { iceTransportPolicy: o.iceTransportPolicy } : {}),
      ...(o.handlerName ? { handlerName: o.handlerName } : {}),
      ...(o.WebSocket ? { WebSocket: o.WebSocket } : {}),
    });
  }

  /**
   * Makes `connection` current: refreshes the room state, emitting the differences, and wires events.
   * Returns false, adopting nothing, when the connection was lost before it could be wired.
   */
  #adopt(connection: NodeConnection): boolean {
    if (connection.closed) return false;
    const joined = connection.joined;
    this.#connection = connection;
    this.#joined = joined;
    const oldPeers = new Map(this.#peers);
    const oldProducers = new Map(this.#producers);
    this.#peers.clear();
    this.#producers.clear();
    for (const peer of joined.peers) if (peer.peerId !== joined.peerId) this.#peers.set(peer.peerId, peer);
    for (const producer of joined.producers) this.#producers.set(producer.producerId, producer);
    // After a reconnection, tell the app what changed while it was away.
    for (const [id, producer] of oldProducers) if (!this.#producers.has(id)) this.emit('producerRemoved', producer);
    for (const [id, peer] of oldPeers) if (!this.#peers.has(id)) this.emit('peerLeft', peer);
    for (const [id, peer] of this.#peers) if (!oldPeers.has(id)) this.emit('peerJoined', peer);
    for (const [id, producer] of this.#producers) if (!oldProducers.has(id)) this.emit('producerAdded', producer);

    this.#data = new DataChannels(connection, {
      label: this.#options.dataLabel,
      autoConsume: this.#options.autoConsumeData && joined.grants.canSubscribe,
      openTimeoutMs: this.#options.requestTimeoutMs,
      selfPeerId: joined.peerId,
      identityOf: (peerId) => this.#peers.get(peerId)?.identity,
      onMessage: (message) => this.emit('data', message),
      onError: (error) => this.#reportError(error),
    });
    connection.on('lost', ({ reason, error }) => this.#onLost(connection, reason, error));
    this.events._attach(connection);
    this.clock._attach((clientTime) => connection.request('ping', { clientTime }));
    this.qoe._attach((params) => connection.request('reportQoe', params));
    connection.setNotificationHandler((event) => this.#onNotification(connection, event));
    this.#data.start(joined.dataProducers, joined.grants.canPublishData);
    return true;
  }

  #onLost(connection: NodeConnection, reason: string, error: SubsecError): void {
    if (connection !== this.#connection || this.#isClosed) return;
    this.#connection = undefined;
    this.#data?.close();
    this.#data = undefined;
    this.events._detach();
    this.clock._detach();
    this.qoe._detach();
    connection.close();
    for (const publication of this.#publications) publication._detach(connection);
    for (const subscription of this.#subscriptions) subscription._detach(connection);
    if (!this.#options.reconnect.enabled) {
      this.#fail(new SubsecError('CONNECTION_LOST', reason, { fatal: true, cause: error }));
      return;
    }
    this.#setState('reconnecting');
    this.#reconnect(reason).catch((e: unknown) => this.#fail(toSubsecError(e, 'RECONNECT_FAILED')));
  }

  async #reconnect(initialReason: string): Promise<void> {
    let reason = initialReason;
    const { reconnect } = this.#options;
    for (let attempt = 1; ; attempt++) {
      if (this.#isClosed) return;
      if (attempt > reconnect.maxAttempts) {
        this.#fail(new SubsecError('RECONNECT_FAILED', `gave up after ${attempt - 1} attempts: ${reason}`, { fatal: true }));
        return;
      }
      const delayMs = backoffDelay(attempt, reconnect);
      this.emit('reconnecting', { attempt, delayMs, reason });
      // Coming back online cuts the wait short.
      this.#wake = new AbortController();
      await sleep(delayMs, this.#wake.signal);
      this.#wake = undefined;
      if (this.#isClosed) return;

      let connection: NodeConnection;
      try {
        const token = this.#options.getToken ? await this.#options.getToken() : this.#token;
        connection = await this.#openFollowingRedirects(token);
      } catch (e) {
        if (this.#isClosed) return;
        const error = toSubsecError(e, 'CONNECTION_FAILED');
        if (isPermanentFailure(error)) {
          this.#fail(new SubsecError(error.code, `reconnect refused: ${error.message}`, { fatal: true, cause: error }));
          return;
        }
        reason = error.message;
        // Try the next node of `nodes` (if any) on the next attempt.
        this.#failover.failed();
        this.#options.logger.warn?.(`[subsec] reconnect attempt ${attempt} failed:`, error.message);
        continue;
      }
      if (this.#isClosed) {
        connection.close(true);
        return;
      }
      if (!this.#adopt(connection)) {
        reason = 'connection lost while rejoining';
        continue;
      }
      await this.#restore(connection);
      // A loss during restore already started a new loop.
      if (connection !== this.#connection || this.#isClosed) return;
      this.#setState('connected');
      this.emit('reconnected', { attempt });
      return;
    }
  }

  /** Produces every publication again and re-finds every subscription's source on `connection`. */
  async #restore(connection: NodeConnection): Promise<void> {
    const tasks: Promise<void>[] = [];
    for (const publication of this.#publications) {
      tasks.push(
        this.#producePublication(connection, publication).catch((error: unknown) => {
          if (isConnectionLoss(error) || publication.closed) return;
          publication._close('failed', true);
          this.#reportError(toSubsecError(error));
        }),
      );
    }
    const claimed = new Set<string>();
    for (const subscription of this.#subscriptions) {
      const info = this.#findSource(subscription, claimed);
      if (info) tasks.push(this.#linkSubscription(connection, subscription, info));
    }
    await Promise.all(tasks);
    if (connection !== this.#connection) return;
    // Sources that have not come back (their publisher is reconnecting too) get a grace period.
    clearTimeout(this.#graceTimer);
    if ([...this.#subscriptions].some((s) => !s._isLinked)) {
      this.#graceTimer = setTimeout(() => {
        for (const subscription of this.#subscriptions) {
          if (!subscription._isLinked && this.#connection) subscription._close('producerGone', false);
        }
      }, this.#options.resubscribeGraceMs);
    }
  }

  #findSource(subscription: Subscription, claimed: Set<string>): ProducerInfo | undefined {
    for (const info of this.#producers.values()) {
      if (claimed.has(info.producerId) || sourceKey(info) !== subscription.sourceKey) continue;
      const taken = [...this.#subscriptions].some((s) => s !== subscription && s._isLinked && s.producerId === info.producerId);
      if (taken) continue;
      claimed.add(info.producerId);
      return info;
    }
    return undefined;
  }

  async #producePublication(connection: NodeConnection, publication: Publication): Promise<void> {
    await Promise.all(publication._entries.map((entry) => (entry.producer ? undefined : produceTrack(connection, publication, entry))));
    if (publication.closed || connection !== this.#connection) return;
    publication._linked();
  }

  #subscriptionOf(producerId: string): Subscription | undefined {
    return [...this.#subscriptions].find((s) => s.producerId === producerId && !s.closed);
  }

  async #subscribeOne(info: ProducerInfo, options: SubscribeOptions): Promise<Subscription> {
    const existing = this.#subscriptionOf(info.producerId);
    if (existing) return existing;
    const connection = this.#connection;
    if (!connection) throw new SubsecError('CONNECTION_LOST', 'not connected');
    const subscription = new Subscription(info, options, (s) => this.#subscriptions.delete(s));
    this.qoe._watchSubscription(subscription);
    this.#subscriptions.add(subscription);
    await this.#linkSubscription(connection, subscription, info, true);
    if (!subscription._isLinked && !subscription.closed) await subscription._whenLinked;
    return subscription;
  }

  /**
   * Consumes `info` for `subscription` on `connection`, then sets its priority and resumes it (the
   * node creates consumers paused). `rethrow` passes errors other than connection loss to the
   * caller (a fresh subscribe()); otherwise they close the subscription and become 'error' events.
   */
  async #linkSubscription(connection: NodeConnection, subscription: Subscription, info: ProducerInfo, rethrow = false): Promise<void> {
    subscription._retarget(info);
    try {
      const { consumer, data } = await connection.consume(info.producerId, {
        streamId: info.peerId,
        ...(subscription.preferredLayers ? { preferredLayers: { ...subscription.preferredLayers } } : {}),
      });
      if (subscription.closed || connection.closed || subscription.producerId !== info.producerId) {
        consumer.close();
        connection.request('closeConsumer', { consumerId: consumer.id }).catch(() => undefined);
        return;
      }
      subscription._attach(connection, consumer, data.producerPaused);
      if (subscription.priority !== undefined) {
        await connection.request('setConsumerPriority', { consumerId: consumer.id, priority: subscription.priority });
      }
      if (subscription.paused) consumer.pause();
      else await connection.request('resumeConsumer', { consumerId: consumer.id });
    } catch (e) {
      if (isConnectionLoss(e) || subscription.closed) return;
      const error = toSubsecError(e);
      if (error.code === 'NOT_FOUND' && !rethrow && subscription.producerId === info.producerId) {
        // The source closed meanwhile; it may still come back within the grace period.
        return;
      }
      subscription._close('failed', true);
      if (rethrow) throw error;
      this.#reportError(error);
    }
  }

  #onNotification(connection: NodeConnection, event: NotificationEvent): void {
    if (connection !== this.#connection) return;
    switch (event.name) {
      case 'peerJoined':
        if (event.data.peerId === this.peerId) return;
        this.#peers.set(event.data.peerId, event.data);
        this.emit('peerJoined', event.data);
        return;
      case 'peerLeft': {
        const peer = this.#peers.get(event.data.peerId) ?? { peerId: event.data.peerId, identity: '' };
        for (const producer of [...this.#producers.values()]) {
          if (producer.peerId === event.data.peerId) this.#removeProducer(producer.producerId);
        }
        if (this.#peers.delete(event.data.peerId)) this.emit('peerLeft', peer);
        return;
      }
      case 'newProducer':
        this.#addProducer(connection, event.data);
        return;
      case 'producerClosed':
        this.#removeProducer(event.data.producerId);
        for (const publication of this.#publications) publication._producerClosed(event.data.producerId);
        return;
      case 'producerPaused':
      case 'producerResumed':
        for (const s of this.#subscriptions) {
          if (s.producerId === event.data.producerId) s._setProducerPaused(event.name === 'producerPaused');
        }
        return;
      case 'consumerClosed':
        this.#closeSoon(connection, this.#byConsumer(event.data.consumerId));
        return;
      case 'consumerLayersChanged':
        this.#byConsumer(event.data.consumerId)?._setLayers(event.data.spatialLayer, event.data.temporalLayer);
        return;
      case 'consumerScore':
        this.#byConsumer(event.data.consumerId)?._setScore(event.data.score, event.data.producerScore);
        return;
      case 'consumerPaused':
      case 'consumerResumed':
        // Mirrors producer pause; reported through producerPaused/producerResumed.
        return;
      case 'newDataProducer':
        this.#data?.add(event.data);
        return;
      case 'dataProducerClosed':
        this.#data?.remove(event.data.dataProducerId);
        return;
      case 'draining':
        this.#drainingConnection = connection;
        this.emit('draining', { deadlineMs: event.data.deadlineMs });
        return;
      case 'roomClosed':
        if (connection === this.#drainingConnection) {
          // The node is going away, not the room: carry on elsewhere (or on the node once it is back).
          this.#onLost(connection, `node drained (${event.data.reason})`, new SubsecError('DRAINING', 'node drained'));
          return;
        }
        this.#fail(new SubsecError('ROOM_CLOSED', `room closed: ${event.data.reason}`, { fatal: true }));
        return;
      case 'reconnect':
        // Handled by the NodeConnection, which reports itself lost.
        return;
      case 'roomEvent':
        this.events._receive(connection, event.data);
        return;
      case 'originLost':
        // The publisher's node died: its subscriptions wait for the source on another node.
        this.#failover.originLost(event.data.identity);
        return;
      case 'redirect':
        this.#failover.redirect(event.data.url);
        this.#onLost(connection, `redirected to ${event.data.nodeId} (${event.data.reason})`, new SubsecError('REDIRECT', 'redirected'));
        return;
    }
  }

  #byConsumer(consumerId: string): Subscription | undefined {
    return [...this.#subscriptions].find((s) => s.consumerId === consumerId);
  }

  #addProducer(connection: NodeConnection, info: ProducerInfo): void {
    this.#producers.set(info.producerId, info);
    // A source that went away during a reconnection has come back.
    const key = sourceKey(info);
    const waiting = [...this.#subscriptions].find((s) => !s._isLinked && !s.closed && s.sourceKey === key && !this.#producers.has(s.producerId));
    if (waiting) void this.#linkSubscription(connection, waiting, info);
    this.emit('producerAdded', info);
  }

  #removeProducer(producerId: string): void {
    const info = this.#producers.get(producerId);
    if (!info) return;
    this.#producers.delete(producerId);
    for (const s of [...this.#subscriptions]) {
      if (s.producerId !== producerId) continue;
      if (this.#connection && this.#failover.isAwaited(info.identity)) this.#awaitSource(this.#connection, s);
      else this.#closeSoon(this.#connection, s);
    }
    this.emit('producerRemoved', info);
  }

  /**
   * The source of `subscription` closed because its origin node died: re-bind it at once when the
   * republished source is already here, else keep it pending (unlinked) so that {@link #addProducer}
   * re-binds it, closing it with 'producerGone' after `failoverWindowMs`.
   */
  #awaitSource(connection: NodeConnection, subscription: Subscription): void {
    const again = this.#findSource(subscription, new Set());
    subscription._detach(connection);
    if (again) {
      void this.#linkSubscription(connection, subscription, again);
      return;
    }
    const timer = setTimeout(() => {
      this.#closeTimers.delete(timer);
      if (connection === this.#connection && !subscription._isLinked) subscription._close('producerGone', false);
    }, this.#failover.windowMs);
    this.#closeTimers.add(timer);
  }

  /**
   * Closes a subscription whose producer closed, after {@link CLOSE_SETTLE_MS} unless the connection
   * is lost first. When a node loses a room (worker death, restart) it may report the producers
   * closed just before it tells this client to reconnect; the subscription must then survive and
   * be moved to the republished source, not end.
   */
  #closeSoon(connection: NodeConnection | undefined, subscription: Subscription | undefined): void {
    if (!subscription || !connection) return;
    const producerId = subscription.producerId;
    const timer = setTimeout(() => {
      this.#closeTimers.delete(timer);
      if (connection !== this.#connection || subscription.producerId !== producerId) return;
      // The publisher moved to another node (it is back in the room as a new peer), or its origin
      // node died (originLost): re-bind now or wait for the source to reappear.
      const rejoined = [...this.#peers.values()].some((p) => p.identity === subscription.identity && p.peerId !== subscription.peerId);
      if (rejoined || this.#failover.isAwaited(subscription.identity)) {
        this.#awaitSource(connection, subscription);
      } else subscription._close('producerClosed', false);
    }, CLOSE_SETTLE_MS);
    this.#closeTimers.add(timer);
  }

  /** Resolves with the live connection, waiting while (re)connecting up to `operationTimeoutMs`. */
  #whenConnected(): Promise<NodeConnection> {
    if (this.#isClosed) return Promise.reject(new InvalidStateError('client is closed'));
    if (this.#state === 'connected' && this.#connection) return Promise.resolve(this.#connection);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new TimeoutError(`not connected within ${this.#options.operationTimeoutMs} ms`));
      }, this.#options.operationTimeoutMs);
      const off = this.on('stateChanged', ({ state }) => {
        if (state === 'connected' && this.#connection) {
          clearTimeout(timer);
          off();
          resolve(this.#connection);
        } else if (state === 'closed') {
          clearTimeout(timer);
          off();
          reject(new InvalidStateError('client is closed'));
        }
      });
    });
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('stateChanged', { state, previous });
  }

  #reportError(error: SubsecError): void {
    this.#options.logger.error?.('[subsec]', error.code, error.message);
    this.emit('error', toErrorEvent(error));
  }

  /** Ends the client because of a fatal error. */
  #fail(error: SubsecError): void {
    if (this.#isClosed) return;
    const fatal = error.fatal ? error : new SubsecError(error.code, error.message, { fatal: true, cause: error });
    this.#reportError(fatal);
    this.#shutdown(fatal.code === 'ROOM_CLOSED' ? 'roomClosed' : 'error', fatal);
  }

  #shutdown(reason: string, error?: SubsecError, announce = true): void {
    if (this.#isClosed) return;
    this.#closer.abort();
    this.#wake?.abort();
    clearTimeout(this.#graceTimer);
    for (const timer of this.#closeTimers) clearTimeout(timer);
    this.#closeTimers.clear();
    globalThis.removeEventListener?.('online', this.#onOnline);
    const connection = this.#connection;
    this.#connection = undefined;
    this.#data?.close();
    this.#data = undefined;
    this.events._close();
    this.clock._close();
    // A room closed by its owner is the end of the stream, not a playback failure.
    this.qoe._close(error && error.code !== 'ROOM_CLOSED' ? error.code : undefined);
    for (const subscription of [...this.#subscriptions]) subscription._close('clientClosed', false);
    for (const publication of [...this.#publications]) publication._close('clientClosed', false);
    connection?.close(true);
    this.#setState('closed');
    if (announce) this.emit('disconnected', error ? { reason, error } : { reason });
    this.removeAllListeners();
  }
}
