/**
 * Makes this node the origin of the streams published here: the first local producer of an
 * identity in a room claims the stream's lease, the last one leaving releases it. When another
 * node claims the same stream (a newer publish: the publisher reconnected there), this node steps
 * down: it closes its local producers of that identity and tells their publisher where the stream
 * now lives (`redirect`, reason `superseded`).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../core/logger';
import type { Participant, Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import type { Coordinator, StreamLease } from './Coordinator';
import { RemoteParticipant } from '../streams/RemoteParticipant';
import { streamKey } from '../streams/Stream';

/** Options of {@link OriginTracker}. */
export interface OriginTrackerOptions {
  coordinator: Coordinator;
  rooms: RoomManager;
  log: Logger;
}

/** Events of {@link OriginTracker}. */
export interface OriginTrackerEvents {
  /** This node became the origin of a stream (a new epoch). */
  claimed: [lease: StreamLease];
  /** This node stopped being the origin because `holder` claimed the stream. */
  steppedDown: [lease: StreamLease, holder: StreamLease];
}

/** Claims and releases origin leases for local publishers. */
export class OriginTracker extends EventEmitter<OriginTrackerEvents> {
  readonly #o: OriginTrackerOptions;
  readonly #log: Logger;
  readonly #wanted = new Map<string, { room: string; identity: string }>();
  readonly #inflight = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: OriginTrackerOptions) {
    super();
    this.#o = options;
    this.#log = options.log;
  }

  /** Follows the rooms (existing and future) and lease losses. */
  start(): void {
    this.#o.rooms.on('roomCreated', (room) => this.#watch(room));
    for (const room of this.#o.rooms.rooms) this.#watch(room);
    this.#o.coordinator.on('leaseLost', (lease, holder) => this.#onLeaseLost(lease, holder));
  }

  /** Stops claiming (the coordinator releases held leases when it closes). */
  close(): void {
    this.#closed = true;
    this.#wanted.clear();
  }

  /** Epoch of the stream if this node is its origin now. */
  epochOf(room: string, identity: string): number | undefined {
    return this.#o.coordinator.held(room, identity)?.epoch;
  }

  /** Streams published here, whether or not their claim went through yet. */
  get wanted(): Array<{ room: string; identity: string; epoch?: number }> {
    return [...this.#wanted.values()].map((w) => ({ ...w, epoch: this.epochOf(w.room, w.identity) }));
  }

  /** Claims again every local stream without a lease (after an outage or a failed claim). */
  retry(): void {
    for (const k of this.#wanted.keys()) this.#ensure(k);
  }

  #watch(room: Room): void {
    const onAdded = (_producer: unknown, participant: Participant) => {
      if (participant instanceof RemoteParticipant) return;
      const k = streamKey(room.name, participant.identity);
      this.#wanted.set(k, { room: room.name, identity: participant.identity });
      this.#ensure(k);
    };
    const onRemoved = (_producerId: string, participant: Participant) => {
      if (participant instanceof RemoteParticipant || this.#hasLocalProducers(room, participant.identity)) return;
      this.#unwant(room.name, participant.identity);
    };
    room.on('producerAdded', onAdded);
    room.on('producerRemoved', onRemoved);
    room.once('closed', () => {
      room.off('producerAdded', onAdded);
      room.off('producerRemoved', onRemoved);
      for (const w of [...this.#wanted.values()]) if (w.room === room.name) this.#unwant(w.room, w.identity);
    });
  }

  #hasLocalProducers(room: Room, identity: string): boolean {
    if (room.closed) return false;
    return room.producersOf(identity).some((p) => !(room.getProducer(p.id)?.participant instanceof RemoteParticipant));
  }

  #ensure(k: string): void {
    const w = this.#wanted.get(k);
    if (!w || this.#closed || this.#inflight.has(k) || this.#o.coordinator.held(w.room, w.identity)) return;
    const job = this.#o.coordinator.claim(w.room, w.identity).then(
      (lease) => {
        if (!this.#wanted.has(k)) {
          void this.#o.coordinator.release(w.room, w.identity).catch(() => undefined);
          return;
        }
        this.#log.info('origin of stream', { room: w.room, identity: w.identity, epoch: lease.epoch });
        this.emit('claimed', lease);
      },
      (err: unknown) => this.#log.warn('cannot claim stream origin yet; retrying', { room: w.room, identity: w.identity, error: err }),
    );
    this.#inflight.set(k, job);
    void job.finally(() => this.#inflight.delete(k));
  }

  #unwant(room: string, identity: string): void {
    const k = streamKey(room, identity);
    if (!this.#wanted.delete(k)) return;
    const release = () => this.#o.coordinator.release(room, identity).catch((err: unknown) => this.#log.debug('release failed', { error: err }));
    const inflight = this.#inflight.get(k);
    if (inflight) void inflight.then(release);
    else void release();
  }

  #onLeaseLost(lease: StreamLease, holder: StreamLease | undefined): void {
    const k = streamKey(lease.room, lease.identity);
    if (!this.#wanted.has(k)) return;
    // Nobody else holds it (it expired while we were cut off and was claimed and released since): take it again.
    if (!holder || holder.nodeId === this.#o.coordinator.nodeId) return this.#ensure(k);
    this.#wanted.delete(k);
    const room = this.#o.rooms.get(lease.room);
    const told = new Set<string>();
    const url = this.#o.coordinator.node(holder.nodeId)?.url ?? '';
    if (room && !room.closed) {
      for (const producer of room.producersOf(lease.identity)) {
        const participant = room.getProducer(producer.id)?.participant;
        if (!participant || participant instanceof RemoteParticipant) continue;
        if (!told.has(participant.id)) {
          told.add(participant.id);
          participant.notify('redirect', { reason: 'superseded', nodeId: holder.nodeId, url, identity: lease.identity });
        }
        producer.close();
      }
    }
    this.#log.warn('stepped down as origin: the stream was published again on another node', {
      room: lease.room,
      identity: lease.identity,
      holder: holder.nodeId,
      epoch: holder.epoch,
    });
    this.emit('steppedDown', lease, holder);
  }
}
