/**
 * The downstream end of one pipe: a stream `(room, identity)` pulled from an upstream node (its
 * origin or a relay) into this node's room. It joins the room as a {@link RemoteParticipant},
 * opens a PipeTransport, asks the upstream to pipe the stream to it, and produces every piped
 * producer with the origin's producer id, so viewers here see the same ids as on the origin.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { InvalidStateError } from '../core/errors';
import type { RoomManager } from '../sfu/RoomManager';
import type { Coordinator, StreamLease } from './Coordinator';
import { RemoteParticipant } from '../streams/RemoteParticipant';
import { startIngest, type IngestSeat } from '../streams/Ingest';
import { PipeMethod, pipeNoteSchema, pipeOpenedSchema, pipeProducerAddedSchema, type PipedProducer, type PipeOpen } from './pipeProtocol';
import { pipeListenInfo, type PipeSettings } from './pipeSettings';

/** Options of {@link PipePull}. */
export interface PipePullOptions {
  coordinator: Coordinator;
  rooms: RoomManager;
  pipe: PipeSettings;
  /** The origin lease this pull belongs to. */
  lease: StreamLease;
  /** Node to pull from (the origin, or a node relaying the same epoch). */
  parent: string;
  /** Timeout of `pipe.open` (ms). */
  rpcTimeoutMs: number;
  log: Logger;
}

/** Events of {@link PipePull}. */
export interface PipePullEvents {
  /** The pull ended (its producers here are closed). */
  closed: [reason: string];
}

/** One stream pulled from another node. */
export class PipePull extends EventEmitter<PipePullEvents> {
  /** Names the pipe in messages with the upstream. */
  readonly pipeId = crypto.randomUUID();
  readonly room: string;
  readonly identity: string;
  readonly epoch: number;
  /** Node where the stream is published. */
  readonly origin: string;
  /** Node the media comes from. */
  readonly parent: string;
  /** When the pull started (ms since the epoch). */
  readonly startedAt = Date.now();
  /** Hops from the origin (known once open). */
  depth = 1;
  /** When media producers were in place (ms since the epoch), once open. */
  openedAt: number | undefined;
  /** The reason the upstream gave when it closed the pipe (e.g. {@link ORIGIN_DIED}). */
  upstreamReason: string | undefined;
  readonly #o: PipePullOptions;
  readonly #log: Logger;
  readonly #producers = new Map<string, types.Producer>();
  #seat: IngestSeat | undefined;
  #participant: RemoteParticipant | undefined;
  #transport: types.PipeTransport | undefined;
  #asked = false;
  #chain: Promise<void> = Promise.resolve();
  #state: 'new' | 'opening' | 'up' | 'closed' = 'new';

  constructor(options: PipePullOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
    this.room = options.lease.room;
    this.identity = options.lease.identity;
    this.epoch = options.lease.epoch;
    this.origin = options.lease.nodeId;
    this.parent = options.parent;
  }

  /** `opening`, `up` (media flowing in) or `closed`. */
  get state(): 'new' | 'opening' | 'up' | 'closed' {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Ids of the producers piped in. */
  get producerIds(): string[] {
    return [...this.#producers.keys()];
  }

  /** The participant standing for the remote publisher, once joined. */
  get participant(): RemoteParticipant | undefined {
    return this.#participant;
  }

  /** Opens the pipe; rejects (and closes the pull) when the upstream refuses or times out. */
  open(): Promise<void> {
    if (this.#state !== 'new') throw new InvalidStateError('pull already opened');
    this.#state = 'opening';
    const opening = this.#open();
    // Notes from the upstream that race the answer are applied after it, in order.
    this.#chain = opening.catch(() => undefined);
    return opening.catch((err: unknown) => {
      this.close(`open failed: ${(err as Error).message}`);
      throw err;
    });
  }

  /** Applies a note from the upstream (`from` was checked by the caller). */
  handleNote(method: string, params: unknown): void {
    this.#chain = this.#chain
      .then(() => this.#applyNote(method, params))
      .catch((err: unknown) => {
        this.#log.warn('pipe note failed', { method, room: this.room, identity: this.identity, error: err });
      });
  }

  /** Closes the pull: its producers here close (viewers get producerClosed), the upstream is told. Idempotent. */
  close(reason: string, tellUpstream = true): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#transport?.close();
    this.#seat?.leave();
    if (tellUpstream && this.#asked) this.#o.coordinator.notify(this.parent, PipeMethod.close, { pipeId: this.pipeId, reason });
    this.#log.info('pull closed', { room: this.room, identity: this.identity, parent: this.parent, epoch: this.epoch, reason });
    this.emit('closed', reason);
  }

  async #open(): Promise<void> {
    const o = this.#o;
    const room = await o.rooms.getOrCreate(this.room);
    this.#assertOpen();
    const participant = new RemoteParticipant({
      identity: this.identity,
      parent: this.parent,
      origin: this.origin,
      epoch: this.epoch,
      onRoomClosed: (reason) => this.close(`room closed: ${reason}`),
    });
    this.#seat = await startIngest(room, participant);
    this.#participant = participant;
    const { slot } = this.#seat;
    this.#assertOpen();
    const transport = await slot.router.createPipeTransport({
      listenInfo: pipeListenInfo(o.pipe),
      enableRtx: true,
      enableSrtp: o.pipe.enableSrtp,
      appData: { cascade: 'downstream', pipeId: this.pipeId, upstream: this.parent },
    });
    this.#transport = transport;
    if (this.closed) transport.close();
    this.#assertOpen();
    const srtp = transport.srtpParameters;
    const request: PipeOpen = {
      pipeId: this.pipeId,
      room: this.room,
      identity: this.identity,
      epoch: this.epoch,
      tuple: { ip: o.pipe.announcedAddress ?? transport.tuple.localAddress ?? o.pipe.listenIp, port: transport.tuple.localPort },
      ...(srtp ? { srtp: { cryptoSuite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 } } : {}),
    };
    this.#asked = true;
    const answer = pipeOpenedSchema.parse(await o.coordinator.call(this.parent, PipeMethod.open, request, o.rpcTimeoutMs));
    this.#assertOpen();
    if (o.pipe.enableSrtp && !answer.srtp) throw new InvalidStateError('upstream answered without SRTP parameters');
    await transport.connect({
      ip: answer.tuple.ip,
      port: answer.tuple.port,
      ...(answer.srtp ? { srtpParameters: answer.srtp as types.SrtpParameters } : {}),
    });
    this.depth = answer.depth + 1;
    for (const p of answer.producers) await this.#produce(p);
    this.#assertOpen();
    this.#state = 'up';
    this.openedAt = Date.now();
    this.#log.info('pull up', {
      room: this.room,
      identity: this.identity,
      parent: this.parent,
      origin: this.origin,
      epoch: this.epoch,
      producers: this.#producers.size,
      ms: this.openedAt - this.startedAt,
    });
  }

  async #produce(p: PipedProducer): Promise<void> {
    const transport = this.#transport;
    if (!transport || this.closed || this.#producers.has(p.id)) return;
    const producer = await transport.produce({
      id: p.id,
      kind: p.kind,
      rtpParameters: p.rtpParameters as unknown as types.RtpParameters,
      paused: p.paused,
      appData: { public: p.appData, cascade: { origin: this.origin, parent: this.parent, epoch: this.epoch } },
    });
    if (this.closed) {
      producer.close();
      return;
    }
    this.#producers.set(p.id, producer);
    producer.observer.once('close', () => this.#producers.delete(p.id));
    this.#seat!.publish(producer);
  }

  async #applyNote(method: string, params: unknown): Promise<void> {
    if (this.closed) return;
    if (method === PipeMethod.producerAdded) {
      await this.#produce(pipeProducerAddedSchema.parse(params).producer);
      return;
    }
    const note = pipeNoteSchema.parse(params);
    const producer = note.producerId ? this.#producers.get(note.producerId) : undefined;
    if (method === PipeMethod.closed) {
      this.upstreamReason = note.reason;
      this.close(`upstream closed it: ${note.reason ?? 'no reason'}`, false);
    } else if (method === PipeMethod.producerClosed) producer?.close();
    else if (method === PipeMethod.producerPaused) await producer?.pause();
    else if (method === PipeMethod.producerResumed) await producer?.resume();
  }

  #assertOpen(): void {
    if (this.closed) throw new InvalidStateError('pull closed while opening');
  }
}
