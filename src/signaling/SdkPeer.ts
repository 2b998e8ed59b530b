/**
 * One SDK client's media state in a room: its transports, producers and consumers, and the
 * handlers for every signaling method after `join`. Transport-agnostic: the socket layer hands
 * it validated requests and a `push` function.
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { ForbiddenError, InvalidStateError, NotFoundError, BadRequestError } from '../core/errors';
import type { VerifiedToken } from '../auth/tokens';
import type { Notifications, NotificationName, RequestParams, ResponseData, Method } from '../protocol/signaling';
import type { Room, RouterSlot } from '../sfu/Room';
import { startIngest, type Ingest, type IngestSeat } from '../streams/Ingest';
import type { StreamHub } from '../streams/StreamHub';
import { KEY_FRAME_REQUEST_DELAY_MS } from '../sfu/keyFrames';
import { createRtcTransport, type RtcTransportSettings } from '../sfu/transports';
import { EventChannel } from '../events/EventChannel';
import type { RoomEventLog } from '../events/RoomEventLog';
import type { QoeReportSink } from '../qoe/QoeService';

/** Everything a session needs from the node. */
export interface SdkPeerDeps {
  room: Room;
  token: VerifiedToken;
  rtcSettings: RtcTransportSettings;
  log: Logger;
  push: (name: NotificationName, data: unknown) => void;
  /** Called when the server dropped this session's media state (room closed under it). */
  onLost: (reason: string) => void;
  displayName?: string;
  /** Room events (docs/events.md); without it the event methods answer NOT_FOUND. */
  events?: RoomEventLog;
  /** Sends a pre-serialised notification frame (room events are serialised once for every peer). */
  pushFrame?: (frame: string) => void;
  /** Joins / leaves a pub/sub topic of the socket (live room events are published once per room). */
  topics?: { join(topic: string): boolean; leave(topic: string): void };
  /** Viewer QoE intake (docs/qoe.md); without it `reportQoe` answers NOT_FOUND. */
  qoe?: QoeReportSink;
  /** The stream hub: every subscription is a consumer of a hub stream (counted against the router budget there). */
  streams: Pick<StreamHub, 'get'>;
}

type Handlers = { [M in Exclude<Method, 'join' | 'ping'>]: (p: RequestParams<M>) => Promise<ResponseData[M]> };

/** An SDK participant. */
export class SdkPeer implements Ingest {
  readonly id = crypto.randomUUID();
  readonly kind = 'sdk' as const;
  readonly role = 'peer' as const;
  readonly identity: string;
  readonly displayName?: string;
  readonly room: Room;
  readonly #deps: SdkPeerDeps;
  #slot!: RouterSlot;
  #seat: IngestSeat | undefined;
  #rtpCapabilities: types.RtpCapabilities | undefined;
  readonly #transports = new Map<string, types.WebRtcTransport>();
  readonly #producers = new Map<string, types.Producer>();
  readonly #consumers = new Map<string, types.Consumer>();
  readonly #dataProducers = new Map<string, types.DataProducer>();
  readonly #dataConsumers = new Map<string, types.DataConsumer>();
  #events: EventChannel | undefined;
  #closed = false;

  constructor(deps: SdkPeerDeps) {
    this.#deps = deps;
    this.room = deps.room;
    this.identity = deps.token.identity;
    this.displayName = deps.displayName;
  }

  /** Joins the room; returns the router the session lives on. */
  async start(rtpCapabilities?: Record<string, unknown>): Promise<void> {
    if (rtpCapabilities) this.#rtpCapabilities = rtpCapabilities as types.RtpCapabilities;
    this.#seat = await startIngest(this.room, this);
    this.#slot = this.#seat.slot;
  }

  notify<N extends NotificationName>(name: N, data: Notifications[N]): void {
    if (!this.#closed) this.#deps.push(name, data);
  }

  onRoomClosed(reason: string): void {
    if (this.#closed) return;
    this.#deps.push(reason === 'worker-died' ? 'reconnect' : 'roomClosed', { reason });
    this.#dropMedia();
    this.#events?.close();
    this.#closed = true;
    this.#deps.onLost(reason);
  }

  /** Leaves the room and closes all media. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events?.close();
    this.#seat?.leave();
    this.#dropMedia();
  }

  /** Dispatches one request (already schema-validated). */
  handle<M extends Exclude<Method, 'join' | 'ping'>>(method: M, params: RequestParams<M>): Promise<ResponseData[M]> {
    if (this.#closed) throw new InvalidStateError('session closed');
    const handler = this.#handlers[method] as (p: RequestParams<M>) => Promise<ResponseData[M]>;
    return handler(params);
  }

  readonly #handlers: Handlers = {
    setRtpCapabilities: async ({ rtpCapabilities }) => {
      this.#rtpCapabilities = rtpCapabilities as types.RtpCapabilities;
      return {};
    },
    createTransport: async ({ direction, sctp }) => {
      const grants = this.#deps.token;
      if (direction === 'send' && !grants.canPublish && !grants.canPublishData) throw new ForbiddenError('token does not allow publishing');
      if (direction === 'recv' && !grants.canSubscribe) throw new ForbiddenError('token does not allow subscribing');
      if (this.#transports.size >= 8) throw new BadRequestError('too many transports');
      const transport = await createRtcTransport(this.#slot.router, this.#deps.rtcSettings, { direction, sctp });
      // The socket may have gone while the router created it: nothing would ever close it then.
      if (this.#closed) {
        transport.close();
        throw new InvalidStateError('session closed');
      }
      this.#transports.set(transport.id, transport);
      transport.on('dtlsstatechange', (state) => {
        if (state === 'failed' || state === 'closed') this.#deps.log.warn('transport dtls ' + state, { peer: this.id });
      });
      return {
        transportId: transport.id,
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        dtlsParameters: transport.dtlsParameters,
        sctpParameters: transport.sctpParameters,
      };
    },
    connectTransport: async ({ transportId, dtlsParameters }) => {
      const transport = this.#transport(transportId);
      // mediasoup rejects a second connect() with a plain Error (an INTERNAL reply): it is the client's mistake.
      if (transport.appData.connectCalled) throw new InvalidStateError('connectTransport was already called for this transport');
      transport.appData.connectCalled = true;
      try {
        await transport.connect({ dtlsParameters: dtlsParameters as unknown as types.DtlsParameters });
      } catch (error) {
        transport.appData.connectCalled = false;
        throw error;
      }
      return {};
    },
    restartIce: async ({ transportId }) => ({ iceParameters: await this.#transport(transportId).restartIce() }),
    produce: async ({ transportId, kind, rtpParameters, appData }) => {
      if (!this.#deps.token.canPublish) throw new ForbiddenError('token does not allow publishing');
      const transport = this.#transport(transportId);
      if (transport.appData.direction !== 'send') throw new BadRequestError('not a send transport');
      if (this.#producers.size >= 16) throw new BadRequestError('too many producers');
      const producer = await transport.produce({
        kind,
        rtpParameters: rtpParameters as unknown as types.RtpParameters,
        keyFrameRequestDelay: kind === 'video' ? KEY_FRAME_REQUEST_DELAY_MS : undefined,
        appData: { peerId: this.id, public: appData ?? {} },
      });
      this.#producers.set(producer.id, producer);
      producer.observer.once('close', () => this.#producers.delete(producer.id));
      this.#seat!.publish(producer);
      return { producerId: producer.id };
    },
    closeProducer: async ({ producerId }) => {
      this.#producer(producerId).close();
      return {};
    },
    pauseProducer: async ({ producerId }) => {
      await this.#producer(producerId).pause();
      return {};
    },
    resumeProducer: async ({ producerId }) => {
      await this.#producer(producerId).resume();
      return {};
    },
    consume: async ({ transportId, producerId, paused, preferredLayers }) => {
      if (!this.#deps.token.canSubscribe) throw new ForbiddenError('token does not allow subscribing');
      if (!this.#rtpCapabilities) throw new InvalidStateError('send setRtpCapabilities before consume');
      const transport = this.#transport(transportId);
      if (transport.appData.direction !== 'recv') throw new BadRequestError('not a recv transport');
      const source = this.room.getProducer(producerId);
      if (!source) throw new NotFoundError(`producer ${producerId} not found`);
      const stream = this.#deps.streams.get(this.room.name, source.participant.identity);
      if (!stream) throw new NotFoundError(`producer ${producerId} is not part of a live stream`);
      await this.room.ensureOnRouter(producerId, this.#slot);
      if (!this.#slot.router.canConsume({ producerId, rtpCapabilities: this.#rtpCapabilities })) {
        throw new BadRequestError('client cannot consume this producer (codec mismatch)', 'UNSUPPORTED_MEDIA');
      }
      const consumer = await stream.consume(transport, this.#slot, source.producer, {
        output: 'sdk',
        rtpCapabilities: this.#rtpCapabilities,
        // Start paused so the client can attach the track before the first (key)frame arrives.
        paused: true,
        ...(preferredLayers ? { preferredLayers } : {}),
        enableRtx: true,
      });
      this.#registerConsumer(consumer);
      if (paused === false) await consumer.resume();
      return {
        consumerId: consumer.id,
        producerId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters as unknown as Record<string, unknown>,
        type: consumer.type,
        producerPaused: consumer.producerPaused,
      };
    },
    pauseConsumer: async ({ consumerId }) => {
      await this.#consumer(consumerId).pause();
      return {};
    },
    resumeConsumer: async ({ consumerId }) => {
      await this.#consumer(consumerId).resume();
      return {};
    },
    closeConsumer: async ({ consumerId }) => {
      this.#consumer(consumerId).close();
      return {};
    },
    setPreferredLayers: async ({ consumerId, spatialLayer, temporalLayer }) => {
      await this.#consumer(consumerId).setPreferredLayers({ spatialLayer, temporalLayer });
      return {};
    },
    setConsumerPriority: async ({ consumerId, priority }) => {
      await this.#consumer(consumerId).setPriority(priority);
      return {};
    },
    produceData: async ({ transportId, sctpStreamParameters, label, protocol, appData }) => {
      if (!this.#deps.token.canPublishData) throw new ForbiddenError('token does not allow data messages');
      const transport = this.#transport(transportId);
      if (this.#dataProducers.size >= 8) throw new BadRequestError('too many data producers');
      const dataProducer = await transport.produceData({
        sctpStreamParameters: sctpStreamParameters as unknown as types.SctpStreamParameters,
        label,
        protocol,
        appData: { peerId: this.id, public: appData ?? {} },
      });
      this.#dataProducers.set(dataProducer.id, dataProducer);
      dataProducer.observer.once('close', () => this.#dataProducers.delete(dataProducer.id));
      this.room.addDataProducer(this, dataProducer);
      return { dataProducerId: dataProducer.id };
    },
    consumeData: async ({ transportId, dataProducerId }) => {
      if (!this.#deps.token.canSubscribe) throw new ForbiddenError('token does not allow subscribing');
      const transport = this.#transport(transportId);
      await this.room.ensureOnRouter(dataProducerId, this.#slot, 'data');
      const dataConsumer = await transport.consumeData({ dataProducerId });
      this.#dataConsumers.set(dataConsumer.id, dataConsumer);
      dataConsumer.observer.once('close', () => this.#dataConsumers.delete(dataConsumer.id));
      dataConsumer.on('dataproducerclose', () => this.notify('dataProducerClosed', { dataProducerId }));
      return {
        dataConsumerId: dataConsumer.id,
        dataProducerId,
        sctpStreamParameters: dataConsumer.sctpStreamParameters,
        label: dataConsumer.label,
        protocol: dataConsumer.protocol,
      };
    },
    getStats: async ({ id }) => {
      const target = this.#transports.get(id) ?? this.#producers.get(id) ?? this.#consumers.get(id);
      if (!target) throw new NotFoundError(`no transport, producer or consumer ${id}`);
      return { stats: (await target.getStats()) as unknown[] };
    },
    leave: async () => {
      this.close();
      return {};
    },
    sendEvent: (p) => this.#eventChannel().send(p),
    getEvents: (p) => this.#eventChannel().get(p),
    subscribeEvents: (p) => this.#eventChannel().subscribe(p),
    unsubscribeEvents: async () => this.#eventChannel().unsubscribe(),
    reportQoe: async (p) => {
      const qoe = this.#deps.qoe;
      if (!qoe) throw new NotFoundError('QoE reporting is disabled on this node');
      if (!this.#deps.token.canSubscribe) throw new ForbiddenError('token does not allow subscribing');
      return qoe.report({ room: this.room.name, identity: this.identity }, p);
    },
  };

  #eventChannel(): EventChannel {
    if (this.#events) return this.#events;
    const log = this.#deps.events;
    if (!log) throw new NotFoundError('room events are disabled on this node');
    const { pushFrame } = this.#deps;
    this.#events = new EventChannel(log, {
      room: this.room.name,
      identity: this.identity,
      peerId: this.id,
      grants: this.#deps.token,
      ...(this.#deps.topics ? { topics: this.#deps.topics } : {}),
      pushFrame: (frame, event) => {
        if (this.#closed) return;
        if (pushFrame) pushFrame(frame);
        else this.#deps.push('roomEvent', event);
      },
    });
    return this.#events;
  }

  #registerConsumer(consumer: types.Consumer): void {
    this.#consumers.set(consumer.id, consumer);
    const producerId = consumer.producerId;
    consumer.observer.once('close', () => this.#consumers.delete(consumer.id));
    consumer.on('transportclose', () => consumer.close());
    consumer.on('producerclose', () => {
      consumer.close();
      this.notify('consumerClosed', { consumerId: consumer.id, producerId });
    });
    consumer.on('producerpause', () => this.notify('consumerPaused', { consumerId: consumer.id }));
    consumer.on('producerresume', () => this.notify('consumerResumed', { consumerId: consumer.id }));
    consumer.on('layerschange', (layers) =>
      this.notify('consumerLayersChanged', {
        consumerId: consumer.id,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
    consumer.on('score', (score) => this.notify('consumerScore', { consumerId: consumer.id, score: score.score, producerScore: score.producerScore }));
  }

  #dropMedia(): void {
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
  }

  #transport(id: string): types.WebRtcTransport {
    const t = this.#transports.get(id);
    if (!t) throw new NotFoundError(`transport ${id} not found`);
    return t;
  }

  #producer(id: string): types.Producer {
    const p = this.#producers.get(id);
    if (!p) throw new NotFoundError(`producer ${id} not found`);
    return p;
  }

  #consumer(id: string): types.Consumer {
    const c = this.#consumers.get(id);
    if (!c) throw new NotFoundError(`consumer ${id} not found`);
    return c;
  }
}
