/**
 * Owns the rooms of this node: creates them on demand on the least-loaded worker, closes them
 * when they stay empty, and re-homes them when their worker dies (participants are told to
 * reconnect; the next join re-creates the room on a healthy worker).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../core/logger';
import { InvalidStateError } from '../core/errors';
import type { WorkerPool } from './WorkerPool';
import { Room } from './Room';

/** Options of {@link RoomManager}. */
export interface RoomManagerOptions {
  consumersPerRouter: number;
  /** How long an empty room lingers before it closes (ms). */
  emptyRoomTtlMs?: number;
}

/** Events of {@link RoomManager}. */
export interface RoomManagerEvents {
  roomCreated: [room: Room];
  roomClosed: [room: Room, reason: string];
}

/** The node's rooms. */
export class RoomManager extends EventEmitter<RoomManagerEvents> {
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #options: Required<RoomManagerOptions>;
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #emptyTimers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(pool: WorkerPool, options: RoomManagerOptions, log: Logger) {
    super();
    this.#pool = pool;
    this.#log = log;
    this.#options = { emptyRoomTtlMs: 30_000, ...options };
    pool.on('workerDied', (_slot, deadWorker) => {
      for (const room of [...this.#rooms.values()]) {
        if (room.workers.has(deadWorker)) room.close('worker-died');
      }
    });
  }

  /** The room named `name`, if open. */
  get(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  /** All open rooms. */
  get rooms(): Room[] {
    return [...this.#rooms.values()];
  }

  /** Returns the room, creating it (and its first router) if needed. */
  async getOrCreate(name: string): Promise<Room> {
    if (this.#closed) throw new InvalidStateError('node is shutting down');
    const existing = this.#rooms.get(name);
    if (existing && !existing.closed) return existing;
    let pending = this.#creating.get(name);
    if (!pending) {
      pending = this.#create(name).finally(() => this.#creating.delete(name));
      this.#creating.set(name, pending);
    }
    return pending;
  }

  /** Closes every room. */
  close(reason = 'node-shutdown'): void {
    this.#closed = true;
    for (const t of this.#emptyTimers.values()) clearTimeout(t);
    this.#emptyTimers.clear();
    for (const room of [...this.#rooms.values()]) room.close(reason);
  }

  async #create(name: string): Promise<Room> {
    const room = new Room({ name, pool: this.#pool, consumersPerRouter: this.#options.consumersPerRouter, log: this.#log });
    await room.init();
    this.#rooms.set(name, room);
    room.once('closed', (reason) => {
      if (this.#rooms.get(name) === room) this.#rooms.delete(name);
      this.#cancelEmptyTimer(name);
      this.#log.info('room closed', { room: name, reason });
      this.emit('roomClosed', room, reason);
    });
    room.on('participantLeft', () => {
      if (room.participants.length > 0) return;
      this.#cancelEmptyTimer(name);
      const timer = setTimeout(() => {
        this.#emptyTimers.delete(name);
        if (room.participants.length === 0) room.close('empty');
      }, this.#options.emptyRoomTtlMs);
      timer.unref();
      this.#emptyTimers.set(name, timer);
    });
    room.on('participantJoined', () => this.#cancelEmptyTimer(name));
    this.#log.info('room created', { room: name, worker: room.slots[0]!.worker.index });
    this.emit('roomCreated', room);
    return room;
  }

  #cancelEmptyTimer(name: string): void {
    const t = this.#emptyTimers.get(name);
    if (t) clearTimeout(t);
    this.#emptyTimers.delete(name);
  }
}
