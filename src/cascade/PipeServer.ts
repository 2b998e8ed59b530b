/**
 * The upstream end of pipes: serves `pipe.open` from other nodes for streams this node has
 * (published here, or pulled here and relayed). One PipeTransport per (stream, downstream node),
 * consuming every producer of the stream's identity, and following the stream as producers come
 * and go. A pipe closes when the downstream says so, dies, or the stream changes epoch here.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { BadRequestError, NotFoundError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { Participant, Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import type { Coordinator } from './Coordinator';
import { PipeMethod, pipeNoteSchema, pipeOpenSchema, type PipedProducer, type PipeOpened } from './pipeProtocol';
import { pipeListenInfo, type PipeSettings } from './pipeSettings';
import { RemoteParticipant } from '../streams/RemoteParticipant';

/** What this node has of a stream: the epoch it serves and its hops from the origin. */
export interface LocalSource {
  epoch: number;
  depth: number;
}

/** Options of {@link PipeServer}. */
export interface PipeServerOptions {
  coordinator: Coordinator;
  rooms: RoomManager;
  pipe: PipeSettings;
  /** The stream as this node has it (origin lease or relayed pull), if at all. */
  sourceOf: (room: string, identity: string) => LocalSource | undefined;
  log: Logger;
}

/** Events of {@link PipeServer}. */
export interface PipeServerEvents {
  /** The number of pipes served for a stream changed. */
  servedChanged: [room: string, identity: string];
}

interface ServedPipe {
  pipeId: string;
  downstream: string;
  room: Room;
  identity: string;
  epoch: number;
  /** Served from a pull (this node relays) rather than from local publishers. */
  relay: boolean;
  transport: types.PipeTransport;
  consumers: Map<string, types.Consumer>;
  detach: () => void;
  closed: boolean;
}

/** Public appData of a producer (what ProducerInfo shows). */
function publicAppData(p: types.Producer): Record<string, unknown> {
  const pub = p.appData.public;
  return pub && typeof pub === 'object' ? (pub as Record<string, unknown>) : {};
}

/**
 * Whether a producer's participant feeds a pipe: an origin pipe carries local publishers only, a
 * relay pipe only media pulled for the same epoch (never a local publisher of the same identity
 * that is about to take over with a new epoch).
 */
function belongs(participant: Participant | undefined, relay: boolean, epoch: number): boolean {
  if (!participant) return false;
  if (participant instanceof RemoteParticipant) return relay && participant.epoch === epoch;
  return !relay;
}

/** Serves pipes to other nodes. */
export class PipeServer extends EventEmitter<PipeServerEvents> {
  readonly #o: PipeServerOptions;
  readonly #log: Logger;
  readonly #pipes = new Map<string, ServedPipe>();
  #closed = false;

  constructor(options: PipeServerOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
  }

  /** Registers the RPC handlers and follows node deaths. */
  start(): void {
    const c = this.#o.coordinator;
    c.handle(PipeMethod.open, (params, from) => this.#open(params, from));
    c.handle(PipeMethod.close, async (params, from) => {
      const p = pipeNoteSchema.parse(params);
      const pipe = this.#pipes.get(`${from}\u0000${p.pipeId}`);
      if (pipe) this.#closePipe(pipe, 'downstream closed it', false);
    });
    c.on('nodeDown', (nodeId) => {
      for (const pipe of [...this.#pipes.values()]) if (pipe.downstream === nodeId) this.#closePipe(pipe, 'downstream node died', false);
    });
  }

  /** Pipes served for a stream. */
  servedCount(room: string, identity: string): number {
    let n = 0;
    for (const p of this.#pipes.values()) if (p.room.name === room && p.identity === identity) n++;
    return n;
  }

  /** Pipes served in total. */
  get size(): number {
    return this.#pipes.size;
  }

  /** Served pipes, for admin listings and tests. */
  list(): Array<{ pipeId: string; room: string; identity: string; downstream: string; epoch: number; producers: number }> {
    return [...this.#pipes.values()].map((p) => ({
      pipeId: p.pipeId,
      room: p.room.name,
      identity: p.identity,
      downstream: p.downstream,
      epoch: p.epoch,
      producers: p.consumers.size,
    }));
  }

  /** Closes the pipes of a stream whose epoch is not `keepEpoch` (all of them without it); downstreams are told. */
  closeStream(room: string, identity: string, reason: string, keepEpoch?: number): void {
    for (const p of [...this.#pipes.values()]) {
      if (p.room.name === room && p.identity === identity && p.epoch !== keepEpoch) this.#closePipe(p, reason, true);
    }
  }

  /** Closes every pipe. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const p of [...this.#pipes.values()]) this.#closePipe(p, 'node shutting down', true);
  }

  async #open(params: unknown, from: string): Promise<PipeOpened> {
    if (this.#closed) throw new SubsecError(ErrorCode.DRAINING, 'node is shutting down');
    const parsed = pipeOpenSchema.safeParse(params);
    if (!parsed.success) throw new BadRequestError(`pipe.open: ${parsed.error.issues[0]?.path.join('.') || 'params'}: ${parsed.error.issues[0]?.message}`);
    const req = parsed.data;
    const key = `${from}\u0000${req.pipeId}`;
    if (this.#pipes.has(key)) throw new SubsecError(ErrorCode.CONFLICT, `pipe ${req.pipeId} already open`);
    const source = this.#o.sourceOf(req.room, req.identity);
    if (!source) throw new NotFoundError(`stream ${req.room}/${req.identity} is not on this node`);
    // Fencing: media of another epoch is another publisher's; the downstream must re-read the directory.
    if (source.epoch !== req.epoch) throw new SubsecError(ErrorCode.CONFLICT, `stale epoch ${req.epoch}: this node serves epoch ${source.epoch}`);
    const room = this.#o.rooms.get(req.room);
    const relay = source.depth > 0;
    const producers = room && !room.closed ? room.producersOf(req.identity).filter((p) => belongs(room.getProducer(p.id)?.participant, relay, req.epoch)) : [];
    if (!room || producers.length === 0) throw new NotFoundError(`stream ${req.room}/${req.identity} has no producers here`);
    const owner = room.getProducer(producers[0]!.id)!.participant;
    const slot = room.slotOf(owner.id);
    const transport = await slot.router.createPipeTransport({
      listenInfo: pipeListenInfo(this.#o.pipe),
      enableRtx: true,
      enableSrtp: Boolean(req.srtp),
      appData: { cascade: 'upstream', pipeId: req.pipeId, downstream: from },
    });
    const pipe: ServedPipe = {
      pipeId: req.pipeId,
      downstream: from,
      room,
      identity: req.identity,
      epoch: req.epoch,
      relay,
      transport,
      consumers: new Map(),
      detach: () => undefined,
      closed: false,
    };
    try {
      await transport.connect({ ip: req.tuple.ip, port: req.tuple.port, ...(req.srtp ? { srtpParameters: req.srtp as types.SrtpParameters } : {}) });
      const piped: PipedProducer[] = [];
      for (const producer of producers) {
        const p = await this.#consume(pipe, producer);
        if (p) piped.push(p);
      }
      if (this.#closed || room.closed) throw new SubsecError(ErrorCode.DRAINING, 'room closed while opening the pipe');
      this.#pipes.set(key, pipe);
      this.#follow(pipe);
      // Producers added while the pipe was being set up (before #follow listened) are piped too.
      const missed = room
        .producersOf(req.identity)
        .filter((p) => !pipe.consumers.has(p.id) && !producers.includes(p) && belongs(room.getProducer(p.id)?.participant, relay, req.epoch));
      for (const producer of missed) {
        const p = await this.#consume(pipe, producer);
        if (p) piped.push(p);
      }
      this.emit('servedChanged', room.name, req.identity);
      this.#log.info('pipe opened to node', { room: room.name, identity: req.identity, downstream: from, epoch: req.epoch, producers: piped.length });
      const srtp = transport.srtpParameters;
      return {
        tuple: { ip: this.#o.pipe.announcedAddress ?? transport.tuple.localAddress ?? this.#o.pipe.listenIp, port: transport.tuple.localPort },
        ...(srtp ? { srtp: { cryptoSuite: srtp.cryptoSuite, keyBase64: srtp.keyBase64 } } : {}),
        ...(owner.displayName ? { displayName: owner.displayName } : {}),
        depth: source.depth,
        producers: piped,
      };
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** Consumes a producer into the pipe; returns what the downstream needs, or undefined if it closed meanwhile. */
  async #consume(pipe: ServedPipe, producer: types.Producer): Promise<PipedProducer | undefined> {
    if (producer.closed || pipe.consumers.has(producer.id)) return undefined;
    let consumer: types.Consumer;
    try {
      const slot = pipe.room.slotOf(pipe.room.getProducer(producer.id)?.participant.id ?? '');
      await pipe.room.ensureOnRouter(producer.id, slot);
      consumer = await pipe.transport.consume({ producerId: producer.id });
    } catch (err) {
      // A producer (or its publisher) that went away meanwhile is simply not piped.
      if (producer.closed || !pipe.room.getProducer(producer.id)) return undefined;
      throw err;
    }
    pipe.consumers.set(producer.id, consumer);
    const note = (method: string) => () => this.#o.coordinator.notify(pipe.downstream, method, { pipeId: pipe.pipeId, producerId: producer.id });
    consumer.on('producerclose', () => {
      pipe.consumers.delete(producer.id);
      if (!pipe.closed) note(PipeMethod.producerClosed)();
    });
    consumer.on('producerpause', note(PipeMethod.producerPaused));
    consumer.on('producerresume', note(PipeMethod.producerResumed));
    consumer.on('transportclose', () => pipe.consumers.delete(producer.id));
    return {
      id: producer.id,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as unknown as Record<string, unknown>,
      paused: consumer.producerPaused,
      appData: publicAppData(producer),
    };
  }

  /** Keeps the pipe in step with the stream: new producers of the identity are piped too. */
  #follow(pipe: ServedPipe): void {
    const onAdded = (producer: types.Producer, participant: Participant) => {
      if (participant.identity !== pipe.identity || pipe.closed || !belongs(participant, pipe.relay, pipe.epoch)) return;
      this.#consume(pipe, producer).then(
        (p) => {
          if (p && !pipe.closed) this.#o.coordinator.notify(pipe.downstream, PipeMethod.producerAdded, { pipeId: pipe.pipeId, producer: p });
        },
        (err: unknown) => this.#log.warn('cannot pipe a new producer', { room: pipe.room.name, identity: pipe.identity, error: err }),
      );
    };
    const onClosed = () => this.#closePipe(pipe, 'room closed', true);
    pipe.room.on('producerAdded', onAdded);
    pipe.room.once('closed', onClosed);
    pipe.transport.observer.once('close', () => {
      if (!pipe.closed) this.#closePipe(pipe, 'transport closed', true);
    });
    pipe.detach = () => {
      pipe.room.off('producerAdded', onAdded);
      pipe.room.off('closed', onClosed);
    };
  }

  #closePipe(pipe: ServedPipe, reason: string, tellDownstream: boolean): void {
    if (pipe.closed) return;
    pipe.closed = true;
    pipe.detach();
    this.#pipes.delete(`${pipe.downstream}\u0000${pipe.pipeId}`);
    pipe.transport.close();
    if (tellDownstream) this.#o.coordinator.notify(pipe.downstream, PipeMethod.closed, { pipeId: pipe.pipeId, reason });
    this.#log.info('pipe to node closed', { room: pipe.room.name, identity: pipe.identity, downstream: pipe.downstream, reason });
    this.emit('servedChanged', pipe.room.name, pipe.identity);
  }
}
