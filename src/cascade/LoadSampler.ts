/**
 * This node's load for the registry: CPU, consumers, inbound bitrate (sampled from producer stats
 * every few seconds, off the heartbeat path) and pipes served.
 */
import os from 'node:os';
import type { RoomManager } from '../sfu/RoomManager';
import type { WorkerPool } from '../sfu/WorkerPool';
import type { NodeLoad } from './Coordinator';

/** Options of {@link LoadSampler}. */
export interface LoadSamplerOptions {
  rooms: RoomManager;
  pool: WorkerPool;
  consumersPerRouter: number;
  pipesOut: () => number;
  /** Bitrate sampling period (ms, default 3000). */
  bitrateEveryMs?: number;
}

/** Computes {@link NodeLoad}; owns its sampling timer. */
export class LoadSampler {
  readonly #o: LoadSamplerOptions;
  #bitrateBps = 0;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(options: LoadSamplerOptions) {
    this.#o = options;
  }

  /** Starts bitrate sampling. */
  start(): void {
    this.#timer = setInterval(() => void this.#sample(), this.#o.bitrateEveryMs ?? 3000);
    this.#timer.unref();
  }

  /** Stops sampling. Idempotent. */
  close(): void {
    clearInterval(this.#timer);
  }

  /** The load now. */
  load(): NodeLoad {
    const workers = this.#o.pool.workers;
    const consumers = workers.reduce((n, w) => n + w.consumers, 0);
    const capacity = Math.max(1, workers.length) * this.#o.consumersPerRouter;
    return {
      cpu: Math.round((os.loadavg()[0]! / Math.max(1, os.cpus().length)) * 1000) / 1000,
      consumers,
      bitrateBps: this.#bitrateBps,
      rooms: this.#o.rooms.rooms.length,
      pipesOut: this.#o.pipesOut(),
      load: Math.round((consumers / capacity) * 1000) / 1000,
    };
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      let total = 0;
      for (const room of this.#o.rooms.rooms) {
        const stats = await Promise.all(
          room.producerInfos().map(
            (info) =>
              room
                .getProducer(info.producerId)
                ?.producer.getStats()
                .catch(() => []) ?? [],
          ),
        );
        for (const list of stats) for (const s of list as Array<{ type: string; bitrate?: number }>) if (s.type === 'inbound-rtp') total += s.bitrate ?? 0;
      }
      this.#bitrateBps = total;
    } finally {
      this.#sampling = false;
    }
  }
}
