/**
 * The cascade as the composition root sees it: builds the coordinator chosen by config
 * (`cascade.coordinator`: memory or redis), the {@link CascadeManager} and the load sampler, and
 * offers what other parts need: join hooks for signaling, the node list for `/v1/nodes`, and
 * `bring()`, the stream hub's source of streams that are not here (src/streams/StreamHub.ts). The
 * same code runs on one node (in-memory coordinator) and in a cluster (Redis).
 */
import type { Config } from '../config/schema';
import type { Logger } from '../core/logger';
import type { RoomManager } from '../sfu/RoomManager';
import type { WorkerPool } from '../sfu/WorkerPool';
import type { Room } from '../sfu/Room';
import type { Coordinator, NodeRecord } from './Coordinator';
import { InMemoryCoordinator } from './InMemoryCoordinator';
import { RedisCoordinator } from './RedisCoordinator';
import { CascadeManager } from './CascadeManager';
import { LoadSampler } from './LoadSampler';
import { registerCascadeMetrics } from './cascadeMetrics';
import type { Registry } from 'prom-client';
import { RedisRelayDirectory } from './RedisRelayDirectory';
import { InMemoryRelayDirectory, type RelayDirectory } from '../../relay/RelayDirectory';
import { NotFoundError, UnavailableError } from '../core/errors';
import { RemoteParticipant } from '../streams/RemoteParticipant';
import type { StreamSources } from '../streams/StreamHub';
import type { PullInfo } from './CascadeManager';

/** Options of {@link Cascade}. */
export interface CascadeOptions {
  config: Config;
  rooms: RoomManager;
  pool: WorkerPool;
  log: Logger;
}

/** What {@link Cascade.start} needs once the node listens. */
export interface CascadeStartOptions {
  /** The node's base URL. */
  url: () => string;
  /** Whether the node is draining. */
  draining: () => boolean;
  /** The node's own `/v1/nodes` entry (published with heartbeats, at most every 2 s). */
  summary: () => Promise<object>;
  /** Where to register the cascade's metrics (`subsec_cascade_*`). */
  registry?: Registry;
}

/** Hooks signaling calls around a join (see SignalingServer). */
export interface JoinHooks {
  /** Throws a RedirectError when the client should join another node. */
  admit(room: string): Promise<void>;
  /** Resolves once remote streams of the room are here (bounded wait). */
  ready(room: Room): Promise<void>;
}

/** A `/v1/nodes` entry (the API's NodeView shape, kept opaque here). */
export type NodeSummary = Record<string, unknown> & { id: string };

/** The node's cascade. */
export class Cascade implements StreamSources {
  readonly coordinator: Coordinator;
  readonly manager: CascadeManager;
  /** Join hooks for signaling. */
  readonly joinHooks: JoinHooks;
  readonly #config: Config;
  readonly #load: LoadSampler;
  readonly #startedAt = Date.now();
  readonly #log: Logger;
  readonly #rooms: RoomManager;
  #relayDirectory: RedisRelayDirectory | undefined;
  #summary: { at: number; value: object } | undefined;

  constructor(options: CascadeOptions) {
    const { config, log } = options;
    this.#config = config;
    this.#log = log;
    this.#rooms = options.rooms;
    const c = config.cascade;
    this.coordinator =
      c.coordinator === 'redis'
        ? new RedisCoordinator({
            nodeId: config.node.id,
            region: config.node.region,
            redis: config.redis,
            heartbeatMs: c.heartbeatMs,
            nodeTtlMs: c.nodeTtlMs,
            leaseMs: c.leaseMs,
            rpcTimeoutMs: c.rpcTimeoutMs,
            log: log.child('redis'),
          })
        : new InMemoryCoordinator({ nodeId: config.node.id, region: config.node.region });
    this.manager = new CascadeManager({
      coordinator: this.coordinator,
      rooms: options.rooms,
      region: config.node.region,
      pipe: {
        listenIp: c.pipe.listenIp,
        ...(c.pipe.announcedAddress ? { announcedAddress: c.pipe.announcedAddress } : {}),
        enableSrtp: c.pipe.enableSrtp,
        portRange: { min: c.pipe.minPort ?? config.sfu.rtcMinPort, max: c.pipe.maxPort ?? config.sfu.rtcMaxPort },
      },
      config: c,
      log,
    });
    this.#load = new LoadSampler({
      rooms: options.rooms,
      pool: options.pool,
      consumersPerRouter: config.sfu.consumersPerRouter,
      pipesOut: () => this.manager.server.size,
    });
    this.joinHooks = { admit: (room) => this.manager.admit(room), ready: (room) => this.manager.ready(room) };
  }

  /** Starts the manager and registers the node with the coordinator (rejects if Redis is unreachable). */
  async start(o: CascadeStartOptions): Promise<void> {
    if (o.registry) registerCascadeMetrics(o.registry, this.coordinator, this.manager);
    this.manager.start();
    this.#load.start();
    await this.coordinator.start(async () => this.#describe(o));
  }

  /** Every live node for `/v1/nodes`: this one first (fresh), then the others as they last reported. */
  async listNodes<T extends { id: string }>(local: () => Promise<T>): Promise<T[]> {
    const self = await local();
    const others = this.coordinator
      .liveNodes()
      .filter((n) => n.id !== this.coordinator.nodeId)
      .map((n) => this.#view(n) as unknown as T);
    return [self, ...others];
  }

  /**
   * Brings a stream into this node for the stream hub (outputs acquire streams there): acquires
   * it (`manager.acquire`) and resolves with the release function once its producers are here —
   * at once when it is published here or already pulled. Rejects with NotFoundError when the
   * directory has no live origin for it, and with an UnavailableError (503) when the pull is not
   * up within `rpcTimeoutMs + joinWaitMs`.
   */
  async bring(room: string, identity: string, options: { signal?: AbortSignal } = {}): Promise<() => void> {
    const release = this.manager.acquire(room, identity);
    try {
      await this.#awaitStream(room, identity, options.signal);
      return release;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** True when the stream's producers are here: published locally, or pulled and up. */
  #streamHere(room: string, identity: string): boolean {
    const r = this.#rooms.get(room);
    if (!r || r.closed) return false;
    const producer = r.producersOf(identity).find((p) => !p.closed);
    if (!producer) return false;
    if (!(r.getProducer(producer.id)?.participant instanceof RemoteParticipant)) return true;
    return this.manager.sourceOf(room, identity) !== undefined;
  }

  async #awaitStream(room: string, identity: string, signal: AbortSignal | undefined): Promise<void> {
    const c = this.#config.cascade;
    const deadline = Date.now() + c.rpcTimeoutMs + c.joinWaitMs;
    let origin: string | undefined;
    while (!this.#streamHere(room, identity)) {
      if (signal?.aborted) throw new UnavailableError('the request was aborted');
      const leases = await this.coordinator.streams(room).catch(() => undefined);
      if (leases) {
        const lease = leases.find((l) => l.identity === identity);
        if (!lease && leases.length === 0 && !this.#rooms.get(room))
          throw new NotFoundError(`room ${room} does not exist here and has no live stream on any node`);
        if (!lease) throw new NotFoundError(`stream ${identity} is not live in room ${room} on any node`);
        if (lease.nodeId === this.coordinator.nodeId) throw new NotFoundError(`stream ${identity} is not live in room ${room}`);
        if (!this.coordinator.node(lease.nodeId)) {
          throw new NotFoundError(`stream ${identity} of room ${room} was published on node ${lease.nodeId}, which is gone`);
        }
        origin = lease.nodeId;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new UnavailableError(
          origin
            ? `stream ${identity} of room ${room} is on node ${origin} but could not be pulled here in time; retry`
            : `the cascade directory is unreachable; stream ${identity} of room ${room} cannot be located; retry`,
        );
      }
      // The reconcile starts the pull and settles once it is up or failed (or at once while
      // another one is opening): wait for either, a pull coming up, or a short tick.
      await this.#nextChange(room, identity, Math.min(left, 250), this.manager.reconcile(room), signal);
    }
  }

  #nextChange(room: string, identity: string, ms: number, reconciled: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.manager.off('pullUp', onUp);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const onUp = (_ms: number, info: PullInfo) => {
        if (info.room === room && info.identity === identity) done();
      };
      const timer = setTimeout(done, ms);
      this.manager.on('pullUp', onUp);
      signal?.addEventListener('abort', done, { once: true });
      void reconciled.then(() => {
        if (this.#streamHere(room, identity)) done();
      });
    });
  }

  /**
   * The MoQ relay directory for this node: shared through Redis in cascade mode (relays chain to
   * the relay of the node that has a broadcast), else the relay's static routes only.
   */
  relayDirectory(staticRoutes: ConstructorParameters<typeof InMemoryRelayDirectory>[0] = []): RelayDirectory {
    const fallback = new InMemoryRelayDirectory(staticRoutes);
    if (!(this.coordinator instanceof RedisCoordinator)) return fallback;
    this.#relayDirectory ??= new RedisRelayDirectory({ coordinator: this.coordinator, fallback, log: this.#log.child('relay-directory') });
    return this.#relayDirectory;
  }

  /** Stops pulling and serving, releases leases and the registration. Idempotent. */
  async close(): Promise<void> {
    this.manager.close();
    this.#load.close();
    await this.#relayDirectory?.close();
    await this.coordinator.close();
  }

  async #describe(o: CascadeStartOptions): Promise<NodeRecord> {
    const now = Date.now();
    if (!this.#summary || now - this.#summary.at >= 2000) {
      this.#summary = { at: now, value: await o.summary().catch(() => this.#summary?.value ?? {}) };
    }
    return {
      id: this.#config.node.id,
      region: this.#config.node.region,
      url: o.url(),
      startedAt: this.#startedAt,
      draining: o.draining(),
      load: this.#load.load(),
      summary: this.#summary.value as Record<string, unknown>,
    };
  }

  #view(n: NodeRecord): NodeSummary {
    const fallback = {
      rooms: n.load.rooms,
      participants: 0,
      tracks: 0,
      consumers: n.load.consumers,
      load: n.load.load,
      workers: [],
      webRtcServers: [],
    };
    return {
      ...fallback,
      ...(n.summary ?? {}),
      id: n.id,
      region: n.region,
      url: n.url,
      self: false,
      draining: n.draining,
      startedAt: new Date(n.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - n.startedAt) / 1000),
    };
  }
}
