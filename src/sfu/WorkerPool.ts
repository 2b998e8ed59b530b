/**
 * A pool of mediasoup workers (one per core by default). A worker that dies is replaced after a
 * capped exponential backoff; listeners of `workerDied` re-home what lived on it.
 */
import os from 'node:os';
import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { InvalidStateError } from '../core/errors';

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Number of workers; 0 = one per CPU core. */
  workers: number;
  logLevel: types.WorkerLogLevel;
  /** First respawn delay in ms (doubles per consecutive death, up to the cap). */
  respawnBackoffMs: number;
  respawnBackoffMaxMs: number;
}

/** One pool slot: the worker currently serving it and its load. */
export interface PooledWorker {
  /** Stable slot index (survives respawns). */
  readonly index: number;
  worker: types.Worker;
  /** Routers currently open on this worker (maintained by the pool). */
  routers: number;
  /** Consumers counted by rooms (maintained by Room). */
  consumers: number;
}

/** Events of {@link WorkerPool}. */
export interface WorkerPoolEvents {
  workerDied: [slot: PooledWorker, deadWorker: types.Worker, error: Error];
  workerRespawned: [slot: PooledWorker];
  /** Every worker the pool starts (first start and respawns), before it is used. */
  workerCreated: [worker: types.Worker];
}

/** The pool of mediasoup workers. */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #slots: PooledWorker[] = [];
  readonly #deathStreak = new Map<number, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: WorkerPoolOptions, log: Logger) {
    super();
    this.#options = options;
    this.#log = log;
  }

  /** Starts all workers; resolves when every one is ready. */
  async start(): Promise<void> {
    const count = this.#options.workers > 0 ? this.#options.workers : Math.max(1, os.availableParallelism());
    for (let index = 0; index < count; index++) {
      const worker = await this.#spawn(index);
      this.#slots.push({ index, worker, routers: 0, consumers: 0 });
    }
    this.#log.info('worker pool started', { workers: count });
  }

  /** All live slots (a slot whose worker died is absent until it is respawned). */
  get workers(): readonly PooledWorker[] {
    return this.#slots.filter((s) => !s.worker.closed);
  }

  /** The live worker with the fewest consumers (then routers), optionally excluding some. */
  leastLoaded(exclude: ReadonlySet<types.Worker> = new Set()): PooledWorker {
    if (this.#closed) throw new InvalidStateError('worker pool closed');
    const live = this.workers;
    const candidates = live.filter((s) => !exclude.has(s.worker));
    const pool = candidates.length > 0 ? candidates : live;
    if (pool.length === 0) throw new InvalidStateError('no live mediasoup worker');
    return pool.reduce((best, s) => (s.consumers < best.consumers || (s.consumers === best.consumers && s.routers < best.routers) ? s : best));
  }

  /** Creates a router on a slot's worker and keeps the slot's router count. */
  async createRouter(slot: PooledWorker, mediaCodecs: types.RouterRtpCodecCapability[]): Promise<types.Router> {
    const router = await slot.worker.createRouter({ mediaCodecs });
    slot.routers++;
    router.observer.once('close', () => {
      slot.routers = Math.max(0, slot.routers - 1);
    });
    return router;
  }

  /** The slot whose current worker is `worker`. */
  slotOf(worker: types.Worker): PooledWorker | undefined {
    return this.#slots.find((s) => s.worker === worker);
  }

  /** Closes every worker and cancels pending respawns. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#slots) s.worker.close();
  }

  async #spawn(index: number): Promise<types.Worker> {
    const worker = await mediasoup.createWorker({
      logLevel: this.#options.logLevel,
      appData: { index },
    });
    const startedAt = Date.now();
    this.emit('workerCreated', worker);
    worker.on('died', (error) => this.#onDied(index, worker, error, startedAt));
    this.#log.debug('worker started', { index, pid: worker.pid });
    return worker;
  }

  #onDied(index: number, worker: types.Worker, error: Error, startedAt: number): void {
    if (this.#closed) return;
    const slot = this.#slots[index]!;
    slot.consumers = 0;
    slot.routers = 0;
    // A worker that lived a while resets the streak, so a rare crash respawns at once.
    const streak = Date.now() - startedAt > 30_000 ? 0 : (this.#deathStreak.get(index) ?? 0);
    this.#deathStreak.set(index, streak + 1);
    const delay = Math.min(this.#options.respawnBackoffMaxMs, this.#options.respawnBackoffMs * 2 ** streak);
    this.#log.error('mediasoup worker died; respawning', { index, pid: worker.pid, error, delayMs: delay });
    this.emit('workerDied', slot, worker, error);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#respawn(index).catch((err) => this.#log.error('worker respawn failed', { index, error: err }));
    }, delay);
    this.#timers.add(timer);
  }

  async #respawn(index: number): Promise<void> {
    if (this.#closed) return;
    const worker = await this.#spawn(index);
    if (this.#closed) {
      worker.close();
      return;
    }
    const slot = this.#slots[index]!;
    slot.worker = worker;
    this.emit('workerRespawned', slot);
    this.#log.info('worker respawned', { index, pid: worker.pid });
  }
}
