/**
 * Prometheus metrics of the node (prom-client). Object counts are kept live by observing
 * mediasoup objects; byte/packet counters and worker CPU are sampled at scrape time.
 */
import client from 'prom-client';
import type { types } from 'mediasoup';
import type { WorkerPool } from '../sfu/WorkerPool';

interface SampledStats {
  packets: number;
  bytes: number;
}

/** The node's metric registry and the hooks components call. */
export class SfuMetrics {
  /** Registry served at /metrics. */
  readonly registry = new client.Registry();
  readonly signalingErrors: client.Counter<'code'>;
  readonly signalingRequests: client.Counter<'method'>;
  readonly sockets: client.Gauge;
  readonly #transports = new Set<types.Transport>();
  readonly #producers = new Set<types.Producer>();
  readonly #consumers = new Set<types.Consumer>();
  readonly #lastSeen = new WeakMap<object, SampledStats>();

  constructor(pool: WorkerPool, nodeId: string) {
    const registry = this.registry;
    // Every mediasoup object of this pool is counted, whoever created it (SDK, WHIP, HLS, MoQ, pipes).
    pool.on('workerCreated', (worker) => {
      worker.observer.on('newrouter', (router) => {
        router.observer.on('newtransport', (transport) => {
          this.#trackTransport(transport);
          transport.observer.on('newproducer', (p) => this.#trackProducer(p));
          transport.observer.on('newconsumer', (c) => this.#trackConsumer(c));
        });
      });
    });
    registry.setDefaultLabels({ node: nodeId });
    client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
    const transports = this.#transports;
    const producers = this.#producers;
    const consumers = this.#consumers;

    new client.Gauge({
      name: 'subsec_workers',
      help: 'Live mediasoup workers',
      registers: [registry],
      collect() {
        this.set(pool.workers.length);
      },
    });
    new client.Gauge({
      name: 'subsec_worker_cpu_seconds',
      help: 'CPU time (user+system) used by each mediasoup worker since it started',
      labelNames: ['worker'],
      registers: [registry],
      async collect() {
        this.reset();
        await Promise.all(
          pool.workers.map(async (slot) => {
            const usage = await slot.worker.getResourceUsage().catch(() => undefined);
            if (usage) this.set({ worker: String(slot.index) }, (usage.ru_utime + usage.ru_stime) / 1000);
          }),
        );
      },
    });
    new client.Gauge({
      name: 'subsec_routers',
      help: 'Open mediasoup routers',
      registers: [registry],
      collect() {
        this.set(pool.workers.reduce((n, s) => n + s.routers, 0));
      },
    });
    new client.Gauge({
      name: 'subsec_worker_consumers',
      help: 'Consumers per worker',
      labelNames: ['worker'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of pool.workers) this.set({ worker: String(s.index) }, s.consumers);
      },
    });
    new client.Gauge({
      name: 'subsec_transports',
      help: 'Open transports',
      registers: [registry],
      collect() {
        this.set(transports.size);
      },
    });
    new client.Gauge({
      name: 'subsec_producers',
      help: 'Open producers',
      registers: [registry],
      collect() {
        this.set(producers.size);
      },
    });
    new client.Gauge({
      name: 'subsec_consumers',
      help: 'Open consumers',
      registers: [registry],
      collect() {
        this.set(consumers.size);
      },
    });

    const bytes = new client.Counter({ name: 'subsec_rtp_bytes_total', help: 'RTP bytes by direction', labelNames: ['direction'], registers: [registry] });
    const packets = new client.Counter({
      name: 'subsec_rtp_packets_total',
      help: 'RTP packets by direction',
      labelNames: ['direction'],
      registers: [registry],
    });
    const lastSeen = this.#lastSeen;
    const sample = async (objects: Iterable<types.Producer | types.Consumer>, direction: 'in' | 'out') => {
      await Promise.all(
        [...objects].map(async (o) => {
          const stats = (await o.getStats().catch(() => [])) as Array<{ type: string; packetCount?: number; byteCount?: number }>;
          const mine = stats.filter((s) => s.type === (direction === 'in' ? 'inbound-rtp' : 'outbound-rtp'));
          const now = { packets: mine.reduce((n, s) => n + (s.packetCount ?? 0), 0), bytes: mine.reduce((n, s) => n + (s.byteCount ?? 0), 0) };
          const prev = lastSeen.get(o) ?? { packets: 0, bytes: 0 };
          if (now.bytes >= prev.bytes) bytes.inc({ direction }, now.bytes - prev.bytes);
          if (now.packets >= prev.packets) packets.inc({ direction }, now.packets - prev.packets);
          lastSeen.set(o, now);
        }),
      );
    };
    // Sampled just before each scrape so counters are current.
    new client.Gauge({
      name: 'subsec_stats_sample_objects',
      help: 'Producers and consumers sampled for the RTP counters at the last scrape',
      registers: [registry],
      async collect() {
        await Promise.all([sample(producers, 'in'), sample(consumers, 'out')]);
        this.set(producers.size + consumers.size);
      },
    });

    this.signalingErrors = new client.Counter({
      name: 'subsec_signaling_errors_total',
      help: 'Signaling error responses by code',
      labelNames: ['code'],
      registers: [registry],
    });
    this.signalingRequests = new client.Counter({
      name: 'subsec_signaling_requests_total',
      help: 'Signaling requests by method',
      labelNames: ['method'],
      registers: [registry],
    });
    this.sockets = new client.Gauge({ name: 'subsec_signaling_sockets', help: 'Open signaling WebSockets', registers: [registry] });
  }

  #trackTransport(t: types.Transport): void {
    this.#transports.add(t);
    t.observer.once('close', () => this.#transports.delete(t));
  }

  #trackProducer(p: types.Producer): void {
    this.#producers.add(p);
    p.observer.once('close', () => this.#producers.delete(p));
  }

  #trackConsumer(c: types.Consumer): void {
    this.#consumers.add(c);
    c.observer.once('close', () => this.#consumers.delete(c));
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
