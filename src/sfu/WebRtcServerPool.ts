/**
 * One mediasoup WebRtcServer per worker, so every WebRTC transport of that worker shares one UDP
 * and one TCP port (per listen address): a firewall or a Kubernetes Service then needs
 * `workers × 2` ports instead of a range. Worker slot i listens on `port + i`, so a respawned
 * worker gets its predecessor's port back.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import type { Config } from '../config/schema';
import type { WorkerPool } from './WorkerPool';

/** Options of {@link WebRtcServerPool}. */
export interface WebRtcServerPoolOptions {
  listenAddresses: Config['sfu']['listenAddresses'];
  /** First port (worker slot i uses port + i); 0 = any free port in rtcMinPort..rtcMaxPort. */
  port: number;
  rtcMinPort: number;
  rtcMaxPort: number;
}

/** Creates and finds the WebRtcServer of each worker of a pool. */
export class WebRtcServerPool {
  readonly #options: WebRtcServerPoolOptions;
  readonly #log: Logger;
  readonly #servers = new WeakMap<types.Worker, Promise<types.WebRtcServer>>();
  readonly #usable = new WeakMap<types.Worker, Promise<types.WebRtcServer | undefined>>();
  readonly #routerWorker = new WeakMap<types.Router, types.Worker>();

  /** Subscribes to the pool: must be constructed before `pool.start()`. */
  constructor(pool: WorkerPool, options: WebRtcServerPoolOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
    pool.on('workerCreated', (worker) => this.#onWorker(worker));
  }

  /** The WebRtcServer of the worker that owns `router` (waits for it if still being created). */
  async serverFor(router: types.Router): Promise<types.WebRtcServer | undefined> {
    const worker = this.#routerWorker.get(router) ?? (router.appData.worker as types.Worker | undefined);
    return worker ? this.#usable.get(worker) : undefined;
  }

  /** Resolves when every given worker's server listens; rejects (port taken, bad address) otherwise. */
  async ready(workers: readonly types.Worker[]): Promise<void> {
    await Promise.all(workers.map((w) => this.#servers.get(w)));
  }

  /** The UDP/TCP sockets every live server listens on, for `/v1/nodes` and logs. */
  async listening(workers: readonly types.Worker[]): Promise<Array<{ pid: number; udp: string[]; tcp: string[] }>> {
    const out: Array<{ pid: number; udp: string[]; tcp: string[] }> = [];
    for (const worker of workers) {
      const server = await this.#usable.get(worker);
      if (!server || server.closed) continue;
      const dump = await server.dump().catch(() => undefined);
      if (!dump) continue;
      out.push({
        pid: worker.pid,
        udp: dump.udpSockets.map((s) => `${s.ip}:${s.port}`),
        tcp: dump.tcpServers.map((s) => `${s.ip}:${s.port}`),
      });
    }
    return out;
  }

  #onWorker(worker: types.Worker): void {
    worker.observer.on('newrouter', (router) => this.#routerWorker.set(router, worker));
    const index = typeof worker.appData.index === 'number' ? worker.appData.index : 0;
    const listenInfos: types.TransportListenInfo[] = [];
    for (const addr of this.#options.listenAddresses) {
      for (const protocol of ['udp', 'tcp'] as const) {
        listenInfos.push(
          this.#options.port > 0
            ? { protocol, ip: addr.ip, announcedAddress: addr.announcedAddress, port: this.#options.port + index }
            : { protocol, ip: addr.ip, announcedAddress: addr.announcedAddress, portRange: { min: this.#options.rtcMinPort, max: this.#options.rtcMaxPort } },
        );
      }
    }
    const created = worker.createWebRtcServer({ listenInfos, appData: { index } });
    created.then(
      (server) =>
        this.#log.info('webrtc server listening', {
          worker: index,
          listen: listenInfos.map((l) => `${l.protocol}:${l.ip}:${l.port ?? 'range'}`).join(','),
          id: server.id,
        }),
      (err: unknown) => this.#log.error('webrtc server failed; transports of this worker fall back to per-transport ports', { worker: index, error: err }),
    );
    this.#servers.set(worker, created);
    // After start, a respawned worker whose server fails keeps serving on per-transport ports.
    this.#usable.set(
      worker,
      created.catch(() => undefined),
    );
  }
}
