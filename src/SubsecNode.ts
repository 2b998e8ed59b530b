/**
 * The composition root of one node: builds every component from its config slice, wires them,
 * and owns their lifecycle (start, drain, close). `src/main.ts` runs it as a process; tests
 * construct it in-process on free ports.
 */
import path from 'node:path';
import type { Config } from './config/schema';
import { projectRoot } from './config/loadConfig';
import { createLogger, setLogLevel, type Logger } from './core/logger';
import { TokenService } from './auth/tokens';
import { WorkerPool } from './sfu/WorkerPool';
import { RoomManager } from './sfu/RoomManager';
import type { RtcTransportSettings } from './sfu/transports';
import { SfuMetrics } from './metrics/SfuMetrics';
import { HttpServer } from './http/HttpServer';
import { serveStatic } from './http/staticFiles';
import { SignalingServer } from './signaling/SignalingServer';
import { registerTokenRoutes } from './api/tokenRoutes';
import { registerHealthRoutes } from './api/healthRoutes';
import { SyntheticSource } from './synthetic/SyntheticSource';

/** A running node. */
export class SubsecNode {
  readonly config: Config;
  readonly log: Logger;
  readonly tokens: TokenService;
  readonly pool: WorkerPool;
  readonly rooms: RoomManager;
  readonly metrics: SfuMetrics;
  readonly http: HttpServer;
  readonly signaling: SignalingServer;
  readonly rtcSettings: RtcTransportSettings;
  #synthetic: SyntheticSource | undefined;
  #draining = false;
  #closed = false;

  constructor(config: Config) {
    this.config = config;
    setLogLevel(config.logLevel);
    this.log = createLogger(`node:${config.node.id}`);
    this.tokens = new TokenService(config.auth.jwtSecret, config.auth.tokenTtlSeconds);
    this.pool = new WorkerPool(
      {
        workers: config.sfu.workers,
        logLevel: config.sfu.logLevel,
        respawnBackoffMs: config.sfu.respawnBackoffMs,
        respawnBackoffMaxMs: config.sfu.respawnBackoffMaxMs,
      },
      this.log.child('sfu'),
    );
    this.rooms = new RoomManager(this.pool, { consumersPerRouter: config.sfu.consumersPerRouter }, this.log.child('rooms'));
    this.metrics = new SfuMetrics(this.pool, config.node.id);
    this.rtcSettings = {
      listenAddresses: config.sfu.listenAddresses,
      rtcMinPort: config.sfu.rtcMinPort,
      rtcMaxPort: config.sfu.rtcMaxPort,
      initialAvailableOutgoingBitrate: config.sfu.initialAvailableOutgoingBitrate,
      maxIncomingBitrate: config.sfu.maxIncomingBitrate,
    };
    this.http = new HttpServer({ corsOrigin: config.http.corsOrigin }, this.log.child('http'));
    this.signaling = new SignalingServer({
      rooms: this.rooms,
      tokens: this.tokens,
      rtcSettings: this.rtcSettings,
      metrics: this.metrics,
      options: config.signaling,
      log: this.log.child('signaling'),
    });
  }

  /** The base URL of the HTTP server (after start). */
  get url(): string {
    return this.config.http.publicUrl ?? `http://${this.config.http.host}:${this.http.port}`;
  }

  /** True once a drain has begun. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Starts workers, routes and the HTTP server; resolves with the base URL. */
  async start(): Promise<string> {
    await this.pool.start();
    this.signaling.attach(this.http.app);
    registerHealthRoutes(this.http, { pool: this.pool, metrics: this.metrics, isDraining: () => this.#draining });
    registerTokenRoutes(this.http, {
      tokens: this.tokens,
      adminKey: this.config.auth.adminKey,
      demoTokens: this.config.auth.demoTokens,
    });
    if (this.config.http.demo) {
      serveStatic(this.http, '/sdk', path.join(projectRoot, 'clients', 'dist'));
      serveStatic(this.http, '/', path.join(projectRoot, 'clients', 'demo'));
    }
    await this.http.listen(this.config.http.host, this.config.http.port);
    if (this.config.synthetic.enabled) {
      this.#synthetic = new SyntheticSource(
        { ...this.config.synthetic, listenIp: '127.0.0.1' },
        this.rooms,
        this.log.child('synthetic'),
      );
      await this.#synthetic.start();
    }
    this.log.info('node started', { url: this.url, workers: this.pool.workers.length });
    return this.url;
  }

  /** Graceful drain: stop admitting, tell clients, close everything after the deadline. */
  async drain(deadlineMs = this.config.drainTimeoutMs): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.log.info('draining', { deadlineMs });
    this.signaling.drain(deadlineMs);
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline && this.signaling.socketCount > 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.close();
  }

  /** Closes everything immediately. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#synthetic?.close();
    this.signaling.closeAll();
    this.rooms.close();
    this.http.close();
    this.pool.close();
  }
}
