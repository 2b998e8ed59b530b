/**
 * One joined connection to a node: the signaling socket, the loaded mediasoup-client Device and
 * the send/recv transports. A connection never comes back once lost; {@link SubsecClient} replaces it
 * with a new one and moves its publications and subscriptions over.
 */
import { Device } from 'mediasoup-client';
import type {
  BuiltinHandlerName,
  Consumer,
  DataConsumer,
  DataProducer,
  DtlsParameters,
  IceCandidate,
  IceParameters,
  Producer,
  ProducerOptions,
  RtpCapabilities,
  RtpParameters,
  SctpParameters,
  SctpStreamParameters,
  Transport,
  ConnectionState as TransportConnectionState,
} from 'mediasoup-client/types';
import type { PROTOCOL_VERSION, Method, RequestParams, ResponseData } from '../../../src/protocol/signaling';
import { SubsecError, toSubsecError } from './errors';
import type { Logger } from './logger';
import { SignalingChannel, type NotificationEvent, type WebSocketConstructor } from './SignalingChannel';
import { TypedEmitter } from './TypedEmitter';

/**
 * The protocol version this SDK speaks. Typed against the shared constant so the build breaks when
 * the node's version changes; the value is not imported so zod stays out of the bundle.
 */
export const SDK_PROTOCOL_VERSION: typeof PROTOCOL_VERSION = 1;

/** What the node said on join. */
export type JoinData = ResponseData['join'];

/** SCTP message size the SDK assumes when the node does not say (bytes). */
const DEFAULT_MAX_MESSAGE_SIZE = 262_144;
/** How long ICE may stay 'disconnected' before the SDK restarts it (ms). */
const ICE_DISCONNECTED_GRACE_MS = 4_000;
/** ICE restarts tried on one transport, without reaching 'connected', before reconnecting fully. */
const MAX_ICE_RESTARTS = 2;

/** Options of {@link NodeConnection.open}. */
export interface NodeConnectionOptions {
  /** Signaling WebSocket URL. */
  url: string;
  /** Access token (JWT). */
  token: string;
  /** Shown to other peers. */
  displayName?: string;
  /** Time for the socket to open, in ms. */
  connectTimeoutMs: number;
  /** Time for each response, in ms. */
  requestTimeoutMs: number;
  /** Interval of liveness pings, in ms; 0 disables them. */
  heartbeatIntervalMs: number;
  /** Extra ICE servers (STUN/TURN) for the transports. */
  iceServers?: RTCIceServer[];
  /** ICE transport policy ('relay' forces TURN). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** mediasoup-client handler to force instead of detecting one. */
  handlerName?: BuiltinHandlerName;
  /** WebSocket implementation. */
  WebSocket?: WebSocketConstructor;
  /** Aborts opening and closes the connection afterwards. */
  signal?: AbortSignal;
  /** Diagnostics sink. */
  logger: Logger;
}

/** Events of {@link NodeConnection}. */
export interface NodeConnectionEvents {
  /** The connection is gone (socket closed, silent, ICE unrecoverable, or the node asked to reconnect). */
  lost: { reason: string; error: SubsecError };
}

/** Options of {@link NodeConnection.consume}. */
export interface NodeConnectionConsumeOptions {
  /** Layers to start with. */
  preferredLayers?: { spatialLayer: number; temporalLayer?: number };
  /** Media stream id (peers' tracks sharing one are lip-synced). */
  streamId?: string;
}

/** A joined connection. */
export class NodeConnection extends TypedEmitter<NodeConnectionEvents> {
  /** What the node said on join. */
  readonly joined: JoinData;
  /** The loaded Device. */
  readonly device: Device;
  readonly #channel: SignalingChannel;
  readonly #options: NodeConnectionOptions;
  readonly #transports = new Map<'send' | 'recv', Promise<Transport>>();
  readonly #live = new Set<Transport>();
  readonly #iceTimers = new Map<Transport, ReturnType<typeof setTimeout>>();
  readonly #iceRestarts = new Map<Transport, number>();
  #maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
  #notificationHandler?: (event: NotificationEvent) => void;
  #buffered: NotificationEvent[] = [];
  #heartbeat?: ReturnType<typeof setInterval>;
  #heartbeatInFlight = false;
  #closed = false;
  readonly #detachGlobal: () => void;

  /**
   * Opens the socket, joins, loads the Device, tells the node its receive capabilities and
   * creates the receive transport.
   */
  static async open(options: NodeConnectionOptions): Promise<NodeConnection> {
    const channel = await SignalingChannel.open(options.url, options);
    // Notifications can arrive right after the join response: buffer from the first frame on.
    const early: NotificationEvent[] = [];
    const offEarly = channel.on('notification', (event) => early.push(event));
    const onAbort = (): void => channel.close(1000, 'aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const joined = await channel.request('join', {
        protocol: SDK_PROTOCOL_VERSION,
        token: options.token,
        ...(options.displayName === undefined ? {} : { displayName: options.displayName }),
      });
      const device = options.handlerName ? new Device({ handlerName: options.handlerName }) : await Device.factory();
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities as unknown as RtpCapabilities });
      await channel.request('setRtpCapabilities', {
        rtpCapabilities: device.recvRtpCapabilities as unknown as Record<string, unknown>,
      });
      offEarly();
      const connection = new NodeConnection(channel, options, joined, device, early);
      if (joined.grants.canSubscribe) {
        try {
          await connection.recvTransport();
        } catch (error) {
          connection.close();
          throw error;
        }
      }
      return connection;
    } catch (error) {
      offEarly();
      channel.close(1000, 'join failed');
      if (options.signal?.aborted) throw new SubsecError('ABORTED', 'connect aborted', { cause: error });
      throw toSubsecError(error, 'MEDIA_ERROR');
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private constructor(channel: SignalingChannel, options: NodeConnectionOptions, joined: JoinData, device: Device, early: NotificationEvent[]) {
    super();
    this.#channel = channel;
    this.#options = options;
    this.joined = joined;
    this.device = device;
    this.#buffered = early;
    channel.on('notification', (event) => this.#onNotification(event));
    channel.on('close', ({ code, reason, local }) => {
      if (!local) this.#lose(`signaling socket closed (${code}${reason ? ` ${reason}` : ''})`);
    });
    channel.on('protocolError', (error) => options.logger.warn?.('[subsec] server reported', error.code, error.message));
    if (options.heartbeatIntervalMs > 0) {
      this.#heartbeat = setInterval(() => this.#ping(), options.heartbeatIntervalMs);
    }
    this.#detachGlobal = this.#watchPage();
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => this.close();

  /** Whether the connection is closed or lost. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Largest data message the node accepts on the data channels, in bytes. */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  /**
   * Starts delivering notifications to `handler`, first those buffered since join (so none is
   * lost while the client wires the connection up).
   */
  setNotificationHandler(handler: (event: NotificationEvent) => void): void {
    this.#notificationHandler = handler;
    const buffered = this.#buffered;
    this.#buffered = [];
    for (const event of buffered) {
      if (this.#closed) return;
      handler(event);
    }
  }

  /** Sends a request on this connection's socket. */
  request<M extends Method>(method: M, params: RequestParams<M>, timeoutMs?: number): Promise<ResponseData[M]> {
    if (this.#closed) return Promise.reject(new SubsecError('CONNECTION_LOST', `${method}: connection is closed`));
    return this.#channel.request(method, params, timeoutMs);
  }

  /** The send transport, created on first use. */
  sendTransport(): Promise<Transport> {
    return this.#transport('send');
  }

  /** The receive transport, created on first use. */
  recvTransport(): Promise<Transport> {
    return this.#transport('recv');
  }

  /** Produces a track on the send transport. */
  async produce(options: ProducerOptions): Promise<Producer> {
    const transport = await this.sendTransport();
    try {
      return await transport.produce(options);
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /** Asks the node for a consumer of `producerId` and creates it locally (paused on the node). */
  async consume(producerId: string, options: NodeConnectionConsumeOptions = {}): Promise<{ consumer: Consumer; data: ResponseData['consume'] }> {
    const transport = await this.recvTransport();
    const data = await this.request('consume', {
      transportId: transport.id,
      producerId,
      ...(options.preferredLayers ? { preferredLayers: options.preferredLayers } : {}),
    });
    try {
      const consumer = await transport.consume({
        id: data.consumerId,
        producerId: data.producerId,
        kind: data.kind,
        rtpParameters: data.rtpParameters as unknown as RtpParameters,
        ...(options.streamId ? { streamId: options.streamId } : {}),
      });
      return { consumer, data };
    } catch (error) {
      this.request('closeConsumer', { consumerId: data.consumerId }).catch(() => undefined);
      throw this.#wrap(error);
    }
  }

  /** Creates a data producer (SCTP) on the send transport. */
  async produceData(label: string, protocol: string): Promise<DataProducer> {
    const transport = await this.sendTransport();
    try {
      return await transport.produceData({ ordered: true, label, protocol });
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /** Asks the node for a data consumer of `dataProducerId` and creates it locally. */
  async consumeData(dataProducerId: string): Promise<DataConsumer> {
    const transport = await this.recvTransport();
    const data = await this.request('consumeData', { transportId: transport.id, dataProducerId });
    try {
      return await transport.consumeData({
        id: data.dataConsumerId,
        dataProducerId: data.dataProducerId,
        sctpStreamParameters: data.sctpStreamParameters as SctpStreamParameters,
        label: data.label,
        protocol: data.protocol,
      });
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /**
   * Closes the socket and transports (idempotent; closing the transports closes their producers
   * and consumers). `graceful` first tells the node with `leave`.
   */
  close(graceful = false): void {
    if (this.#closed) return;
    this.#shutdown();
    if (graceful && !this.#channel.closed) {
      this.#channel
        .request('leave', undefined, 1_000)
        .catch(() => undefined)
        .finally(() => this.#channel.close(1000, 'leave'));
    } else {
      this.#channel.close(1000, 'closed');
    }
  }

  #shutdown(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const timer of this.#iceTimers.values()) clearTimeout(timer);
    this.#iceTimers.clear();
    this.#detachGlobal();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    for (const transport of this.#live) transport.close();
    this.#live.clear();
    this.#notificationHandler = undefined;
  }

  #lose(reason: string, error?: unknown): void {
    if (this.#closed) return;
    this.#shutdown();
    this.#channel.close(1000, 'lost');
    this.#options.logger.warn?.('[subsec] connection lost:', reason);
    this.emit('lost', {
      reason,
      error: error instanceof SubsecError ? error : new SubsecError('CONNECTION_LOST', reason, { cause: error }),
    });
    this.removeAllListeners();
  }

  #wrap(error: unknown): SubsecError {
    if (this.#closed && !(error instanceof SubsecError)) {
      return new SubsecError('CONNECTION_LOST', 'connection closed during the operation', { cause: error });
    }
    return toSubsecError(error, 'MEDIA_ERROR');
  }

  #onNotification(event: NotificationEvent): void {
    if (this.#closed) return;
    if (event.name === 'reconnect') {
      this.#lose(`node asked to reconnect: ${event.data.reason}`);
      return;
    }
    if (this.#notificationHandler) this.#notificationHandler(event);
    else this.#buffered.push(event);
  }

  #ping(): void {
    if (this.#closed || this.#heartbeatInFlight) return;
    this.#heartbeatInFlight = true;
    const timeout = Math.min(this.#options.requestTimeoutMs, Math.max(this.#options.heartbeatIntervalMs, 2_000));
    this.#channel
      .request('ping', { clientTime: Date.now() }, timeout)
      .catch((error: unknown) => {
        // A socket that stops answering (mobile network switch, sleeping laptop) may never fire close.
        if (error instanceof SubsecError && error.code === 'TIMEOUT') this.#lose('signaling heartbeat timed out', error);
      })
      .finally(() => {
        this.#heartbeatInFlight = false;
      });
  }

  /** Pings at once when the page comes back to the foreground or online, to notice dead sockets quickly. */
  #watchPage(): () => void {
    const target = globalThis as Partial<Pick<Window, 'addEventListener' | 'removeEventListener'>>;
    const doc = (globalThis as { document?: Document }).document;
    if (typeof target.addEventListener !== 'function' || this.#options.heartbeatIntervalMs <= 0) return () => undefined;
    const onOnline = (): void => this.#ping();
    const onVisible = (): void => {
      if (doc?.visibilityState === 'visible') this.#ping();
    };
    target.addEventListener('online', onOnline);
    doc?.addEventListener('visibilitychange', onVisible);
    return () => {
      target.removeEventListener?.('online', onOnline);
      doc?.removeEventListener('visibilitychange', onVisible);
    };
  }

  #transport(direction: 'send' | 'recv'): Promise<Transport> {
    let promise = this.#transports.get(direction);
    if (!promise) {
      promise = this.#createTransport(direction);
      this.#transports.set(direction, promise);
      // A failed creation may be retried by the next caller.
      promise.catch(() => this.#transports.delete(direction));
    }
    return promise;
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<Transport> {
    const data = await this.request('createTransport', { direction, sctp: true });
    if (this.#closed) throw new SubsecError('CONNECTION_LOST', 'connection closed while creating a transport');
    const sctpParameters = data.sctpParameters as SctpParameters | undefined;
    if (sctpParameters?.maxMessageSize) this.#maxMessageSize = sctpParameters.maxMessageSize;
    const transportOptions = {
      id: data.transportId,
      iceParameters: data.iceParameters as IceParameters,
      iceCandidates: data.iceCandidates as IceCandidate[],
      dtlsParameters: data.dtlsParameters as DtlsParameters,
      ...(sctpParameters ? { sctpParameters } : {}),
      ...(this.#options.iceServers ? { iceServers: this.#options.iceServers } : {}),
      ...(this.#options.iceTransportPolicy ? { iceTransportPolicy: this.#options.iceTransportPolicy } : {}),
    };
    let transport: Transport;
    try {
      transport = direction === 'send' ? this.device.createSendTransport(transportOptions) : this.device.createRecvTransport(transportOptions);
    } catch (error) {
      throw this.#wrap(error);
    }
    this.#live.add(transport);
    const transportId = transport.id;
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('connectTransport', { transportId, dtlsParameters })
        .then(() => callback())
        .catch((error: unknown) => errback(toSubsecError(error)));
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.request('produce', { transportId, kind, rtpParameters, appData })
        .then(({ producerId }) => callback({ id: producerId }))
        .catch((error: unknown) => errback(toSubsecError(error)));
    });
    transport.on('producedata', ({ sctpStreamParameters, label, protocol, appData }, callback, errback) => {
      this.request('produceData', {
        transportId,
        sctpStreamParameters,
        ...(label === undefined ? {} : { label }),
        ...(protocol === undefined ? {} : { protocol }),
        appData,
      })
        .then(({ dataProducerId }) => callback({ id: dataProducerId }))
        .catch((error: unknown) => errback(toSubsecError(error)));
    });
    transport.on('connectionstatechange', (state) => this.#onIceState(transport, state));
    return transport;
  }

  #onIceState(transport: Transport, state: TransportConnectionState): void {
    if (this.#closed) return;
    this.#options.logger.debug?.(`[subsec] ${transport.direction} transport ${state}`);
    clearTimeout(this.#iceTimers.get(transport));
    this.#iceTimers.delete(transport);
    if (state === 'connected') {
      this.#iceRestarts.delete(transport);
    } else if (state === 'disconnected') {
      this.#iceTimers.set(
        transport,
        setTimeout(() => this.#restartIce(transport), ICE_DISCONNECTED_GRACE_MS),
      );
    } else if (state === 'failed') {
      this.#restartIce(transport);
    }
  }

  #restartIce(transport: Transport): void {
    if (this.#closed || transport.closed) return;
    const restarts = this.#iceRestarts.get(transport) ?? 0;
    if (restarts >= MAX_ICE_RESTARTS) {
      this.#lose(`${transport.direction} transport ICE failed after ${restarts} restarts`);
      return;
    }
    this.#iceRestarts.set(transport, restarts + 1);
    this.request('restartIce', { transportId: transport.id })
      .then(({ iceParameters }) => transport.restartIce({ iceParameters: iceParameters as IceParameters }))
      .catch((error: unknown) => this.#lose(`${transport.direction} transport ICE restart failed`, error));
  }
}
