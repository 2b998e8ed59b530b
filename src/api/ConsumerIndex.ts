/**
 * Which consumers each producer has, on which kind of transport, across every worker of the
 * pool: the admin API's consumer counts and outputs. Built by observing mediasoup objects, so
 * it sees consumers whoever creates them (SDK peers, WHEP, HLS, pipes between workers).
 */
import type { types } from 'mediasoup';
import type { WorkerPool } from '../sfu/WorkerPool';

/** Consumer counts of one producer by transport type (`webrtc`, `pipe`, `plain`, `direct`). */
export type ConsumerCounts = Record<string, number>;

/** The index. Construct before `pool.start()` so no worker is missed. */
export class ConsumerIndex {
  /** producerId → consumerId → transport type. */
  readonly #byProducer = new Map<string, Map<string, string>>();
  /** routerId → open consumers on it. */
  readonly #byRouter = new Map<string, number>();

  constructor(pool: WorkerPool) {
    pool.on('workerCreated', (worker) => {
      worker.observer.on('newrouter', (router) => {
        router.observer.on('newtransport', (transport) => {
          transport.observer.on('newconsumer', (consumer) => this.#add(router, transport, consumer));
        });
      });
    });
  }

  /** Consumer counts of a producer by transport type. */
  countsOf(producerId: string): ConsumerCounts {
    const out: ConsumerCounts = {};
    for (const type of this.#byProducer.get(producerId)?.values() ?? []) out[type] = (out[type] ?? 0) + 1;
    return out;
  }

  /** All consumers of a producer (every transport type). */
  totalOf(producerId: string): number {
    return this.#byProducer.get(producerId)?.size ?? 0;
  }

  /** Consumers on a router. */
  onRouter(routerId: string): number {
    return this.#byRouter.get(routerId) ?? 0;
  }

  #add(router: types.Router, transport: types.Transport, consumer: types.Consumer): void {
    const producerId = consumer.producerId;
    let set = this.#byProducer.get(producerId);
    if (!set) this.#byProducer.set(producerId, (set = new Map()));
    set.set(consumer.id, transport.type);
    this.#byRouter.set(router.id, (this.#byRouter.get(router.id) ?? 0) + 1);
    consumer.observer.once('close', () => {
      const s = this.#byProducer.get(producerId);
      s?.delete(consumer.id);
      if (s && s.size === 0) this.#byProducer.delete(producerId);
      const n = (this.#byRouter.get(router.id) ?? 1) - 1;
      if (n <= 0) this.#byRouter.delete(router.id);
      else this.#byRouter.set(router.id, n);
    });
  }
}
