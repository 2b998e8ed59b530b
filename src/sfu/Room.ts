/**
 * A room: its routers (one per worker it occupies), its participants and their producers.
 * New participants land on the first router under the consumer budget; when every router is
 * full the room spills onto another worker and producers are piped across on demand
 * (pipeToRouter), so a consumer always consumes from its own router.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { InvalidStateError, NotFoundError } from '../core/errors';
import type { Notifications, NotificationName, ProducerInfo, DataProducerInfo, PeerInfo } from '../protocol/signaling';
import type { PooledWorker, WorkerPool } from './WorkerPool';
import { roomMediaCodecs } from './mediaCodecs';

/**
 * What a participant does in a room: `peer` publishes and watches (an SDK client), `ingest`
 * contributes one stream (WHIP, SRT, the synthetic source…), `viewer` watches (WHEP), `relay`
 * stands for a stream pulled from another node (cascade).
 */
export type ParticipantRole = 'peer' | 'ingest' | 'viewer' | 'relay';

/** Anyone who publishes or watches in a room: an SDK peer, a WHIP/WHEP session, an SRT feed. */
export interface Participant {
  readonly id: string;
  readonly identity: string;
  readonly displayName?: string;
  /** The client or protocol (`sdk`, `whip`, `srt`…), for metrics, webhooks and admin listings; free text. */
  readonly kind: string;
  /** What it does in the room (cascade demand, ingest webhooks and kicks follow it, not the kind). */
  readonly role: ParticipantRole;
  /** For an ingest: whether joining and leaving are reported as `ingest.started`/`ingest.ended` (default true; RTSP pulls report their own). */
  readonly joinWebhooks?: boolean;
  /** Pushes a notification to the participant (no-op for server-side participants). */
  notify<N extends NotificationName>(name: N, data: Notifications[N]): void;
  /** Drops all media state; called when the room closes under the participant. */
  onRoomClosed(reason: string): void;
}

/** A router the room occupies and its consumer count. */
export interface RouterSlot {
  readonly router: types.Router;
  readonly worker: PooledWorker;
  consumers: number;
}

interface ProducerEntry {
  producer: types.Producer;
  participant: Participant;
  slot: RouterSlot;
}

interface DataProducerEntry {
  dataProducer: types.DataProducer;
  participant: Participant;
  slot: RouterSlot;
}

/** Events of {@link Room}. */
export interface RoomEvents {
  producerAdded: [producer: types.Producer, participant: Participant];
  producerRemoved: [producerId: string, participant: Participant];
  participantJoined: [participant: Participant];
  participantLeft: [participant: Participant];
  closed: [reason: string];
}

/** Options of {@link Room}. */
export interface RoomOptions {
  name: string;
  pool: WorkerPool;
  consumersPerRouter: number;
  log: Logger;
}

/** One room. Create through {@link RoomManager}. */
export class Room extends EventEmitter<RoomEvents> {
  readonly name: string;
  readonly createdAt = Date.now();
  readonly #pool: WorkerPool;
  readonly #budget: number;
  readonly #log: Logger;
  readonly #slots: RouterSlot[] = [];
  readonly #participants = new Map<string, { participant: Participant; slot: RouterSlot }>();
  readonly #producers = new Map<string, ProducerEntry>();
  readonly #dataProducers = new Map<string, DataProducerEntry>();
  /** `${producerId}:${routerId}` → pipe in progress or done. */
  readonly #pipes = new Map<string, Promise<void>>();
  #slotCreation: Promise<RouterSlot> | undefined;
  #closed = false;

  constructor(options: RoomOptions) {
    super();
    this.name = options.name;
    this.#pool = options.pool;
    this.#budget = options.consumersPerRouter;
    this.#log = options.log;
  }

  /** Creates the room's first router. */
  async init(): Promise<void> {
    await this.#addSlot();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The routers the room occupies (first = main). */
  get slots(): readonly RouterSlot[] {
    return this.#slots;
  }

  /** The mediasoup workers the room occupies. */
  get workers(): Set<types.Worker> {
    return new Set(this.#slots.map((s) => s.router.appData.worker as types.Worker));
  }

  /** Router RTP capabilities (identical on every router of the room). */
  get rtpCapabilities(): types.RtpCapabilities {
    return this.#slots[0]!.router.rtpCapabilities;
  }

  get participants(): Participant[] {
    return [...this.#participants.values()].map((p) => p.participant);
  }

  /** Public view of the other participants. */
  peerInfos(except?: string): PeerInfo[] {
    return this.participants.filter((p) => p.id !== except).map((p) => ({ peerId: p.id, identity: p.identity, displayName: p.displayName }));
  }

  /** Public view of all producers, optionally excluding a participant's own. */
  producerInfos(except?: string): ProducerInfo[] {
    return [...this.#producers.values()].filter((e) => e.participant.id !== except).map((e) => this.#producerInfo(e));
  }

  dataProducerInfos(except?: string): DataProducerInfo[] {
    return [...this.#dataProducers.values()]
      .filter((e) => e.participant.id !== except)
      .map((e) => ({
        dataProducerId: e.dataProducer.id,
        peerId: e.participant.id,
        label: e.dataProducer.label,
        protocol: e.dataProducer.protocol,
      }));
  }

  /** A producer of the room by id. */
  getProducer(producerId: string): { producer: types.Producer; participant: Participant } | undefined {
    return this.#producers.get(producerId);
  }

  /** Producers of a participant identity (a "stream" for WHEP/HLS/MoQ outputs). */
  producersOf(identity: string): types.Producer[] {
    return [...this.#producers.values()].filter((e) => e.participant.identity === identity).map((e) => e.producer);
  }

  /** Adds a participant, placing it on a router under the consumer budget. */
  async join(participant: Participant): Promise<RouterSlot> {
    this.#assertOpen();
    if (this.#participants.has(participant.id)) throw new InvalidStateError('participant already joined');
    const slot = await this.#slotWithRoom();
    this.#assertOpen();
    this.#participants.set(participant.id, { participant, slot });
    this.#broadcast('peerJoined', { peerId: participant.id, identity: participant.identity, displayName: participant.displayName }, participant.id);
    this.emit('participantJoined', participant);
    return slot;
  }

  /** Removes a participant and closes its producers. Idempotent. */
  leave(participantId: string): void {
    const entry = this.#participants.get(participantId);
    if (!entry) return;
    this.#participants.delete(participantId);
    for (const e of [...this.#producers.values()]) if (e.participant.id === participantId) e.producer.close();
    for (const e of [...this.#dataProducers.values()]) if (e.participant.id === participantId) e.dataProducer.close();
    this.#broadcast('peerLeft', { peerId: participantId }, participantId);
    this.emit('participantLeft', entry.participant);
  }

  /** The router slot a participant lives on. */
  slotOf(participantId: string): RouterSlot {
    const entry = this.#participants.get(participantId);
    if (!entry) throw new NotFoundError('participant not in room');
    return entry.slot;
  }

  /** Registers a producer created on a participant's transport and tells the others. */
  addProducer(participant: Participant, producer: types.Producer): void {
    this.#assertOpen();
    const slot = this.slotOf(participant.id);
    const entry: ProducerEntry = { producer, participant, slot };
    this.#producers.set(producer.id, entry);
    producer.observer.once('close', () => {
      if (this.#producers.get(producer.id) !== entry) return;
      this.#producers.delete(producer.id);
      for (const key of [...this.#pipes.keys()]) if (key.startsWith(producer.id + ':')) this.#pipes.delete(key);
      // When the router itself went away (worker death, room close) clients get `reconnect` or
      // `roomClosed` instead: a `producerClosed` first would make them drop their subscriptions.
      if (!this.#closed && !slot.router.closed) this.#broadcast('producerClosed', { producerId: producer.id }, participant.id);
      this.emit('producerRemoved', producer.id, participant);
    });
    producer.observer.on('pause', () => this.#broadcast('producerPaused', { producerId: producer.id }, participant.id));
    producer.observer.on('resume', () => this.#broadcast('producerResumed', { producerId: producer.id }, participant.id));
    this.#broadcast('newProducer', this.#producerInfo(entry), participant.id);
    this.emit('producerAdded', producer, participant);
  }

  /** Registers a data producer and tells the others. */
  addDataProducer(participant: Participant, dataProducer: types.DataProducer): void {
    this.#assertOpen();
    const slot = this.slotOf(participant.id);
    const entry: DataProducerEntry = { dataProducer, participant, slot };
    this.#dataProducers.set(dataProducer.id, entry);
    dataProducer.observer.once('close', () => {
      if (this.#dataProducers.get(dataProducer.id) !== entry) return;
      this.#dataProducers.delete(dataProducer.id);
      this.#broadcast('dataProducerClosed', { dataProducerId: dataProducer.id }, participant.id);
    });
    this.#broadcast(
      'newDataProducer',
      { dataProducerId: dataProducer.id, peerId: participant.id, label: dataProducer.label, protocol: dataProducer.protocol },
      participant.id,
    );
  }

  /**
   * Makes a producer (or data producer) available on `slot`'s router, piping it from the
   * router it was produced on when they differ. Concurrent calls share one pipe.
   */
  async ensureOnRouter(id: string, slot: RouterSlot, kind: 'media' | 'data' = 'media'): Promise<void> {
    const source = kind === 'media' ? this.#producers.get(id) : this.#dataProducers.get(id);
    if (!source) throw new NotFoundError(`${kind === 'media' ? 'producer' : 'data producer'} ${id} not in room`);
    if (source.slot === slot) return;
    const key = `${id}:${slot.router.id}`;
    let pipe = this.#pipes.get(key);
    if (!pipe) {
      pipe = source.slot.router
        .pipeToRouter(kind === 'media' ? { producerId: id, router: slot.router } : { dataProducerId: id, router: slot.router })
        .then(() => undefined);
      this.#pipes.set(key, pipe);
      pipe.catch(() => this.#pipes.delete(key));
    }
    await pipe;
  }

  /** Closes the room: every participant is told and every router closed. Idempotent. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { participant } of this.#participants.values()) {
      try {
        participant.onRoomClosed(reason);
      } catch (err) {
        this.#log.warn('participant close handler failed', { error: err });
      }
    }
    this.#participants.clear();
    for (const s of this.#slots) s.router.close();
    this.#producers.clear();
    this.#dataProducers.clear();
    this.emit('closed', reason);
  }

  #producerInfo(e: ProducerEntry): ProducerInfo {
    return {
      producerId: e.producer.id,
      peerId: e.participant.id,
      identity: e.participant.identity,
      kind: e.producer.kind,
      type: e.producer.type,
      appData: (e.producer.appData.public as Record<string, unknown>) ?? {},
    };
  }

  #broadcast<N extends NotificationName>(name: N, data: Notifications[N], except?: string): void {
    for (const { participant } of this.#participants.values()) {
      if (participant.id !== except) participant.notify(name, data);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError(`room ${this.name} is closed`);
  }

  async #slotWithRoom(): Promise<RouterSlot> {
    const free = this.#slots.find((s) => s.consumers < this.#budget);
    if (free) return free;
    // One spill at a time: concurrent joiners share the new router.
    this.#slotCreation ??= this.#addSlot().finally(() => {
      this.#slotCreation = undefined;
    });
    return this.#slotCreation;
  }

  async #addSlot(): Promise<RouterSlot> {
    const worker = this.#pool.leastLoaded(this.workers);
    const router = await this.#pool.createRouter(worker, roomMediaCodecs);
    router.appData.worker = worker.worker;
    if (this.#closed) {
      router.close();
      throw new InvalidStateError(`room ${this.name} is closed`);
    }
    const slot: RouterSlot = { router, worker, consumers: 0 };
    this.#slots.push(slot);
    if (this.#slots.length > 1) this.#log.info('room spilled onto another worker', { room: this.name, routers: this.#slots.length, worker: worker.index });
    return slot;
  }
}
