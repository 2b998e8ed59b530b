/**
 * The cascade coordinator on Redis (ioredis): node registry with heartbeats and TTL, origin
 * leases with fencing epochs (Lua, atomic), relay records, cluster events and RPC over pub/sub.
 *
 * Liveness: every `heartbeatMs` a node rewrites its key with `PX nodeTtlMs` and sweeps the
 * registry; a node whose key is gone is dead, so a killed node is declared dead at most
 * `nodeTtlMs + heartbeatMs` after its last beat. After (re)connecting, sweeps declare nobody dead
 * for one TTL, so a Redis restart (which forgets every key) is not mistaken for a mass death.
 *
 * Outage: commands fail fast while Redis is away; the node keeps serving what it has, and on
 * reconnection re-registers, restores its leases (same epoch unless superseded) and relay
 * records, and announces its streams again so the others reconcile.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../core/logger';
import { InvalidStateError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import { CascadeRpcError } from './CascadeRpcError';
import type { Coordinator, CoordinatorEvents, NodeRecord, RelayRecord, RpcHandler, StreamLease } from './Coordinator';
import { RedisKeys } from '../redis/redisKeys';
import { streamKey } from '../streams/Stream';
import { CLAIM_LUA, RELEASE_LUA, RENEW_LUA } from './redisScripts';
import { createRedisClient, type RedisClient, type RedisSettings } from '../redis/redisClient';

/** Options of {@link RedisCoordinator}. */
export interface RedisCoordinatorOptions {
  nodeId: string;
  region: string;
  redis: RedisSettings;
  /** Heartbeat and sweep period (ms). */
  heartbeatMs: number;
  /** A node whose heartbeat is older than this is dead (ms). */
  nodeTtlMs: number;
  /** Lifetime of an origin lease without renewal (ms). */
  leaseMs: number;
  /** Default RPC timeout (ms). */
  rpcTimeoutMs: number;
  log: Logger;
}

type WireMessage =
  | { t: 'req'; id: string; from: string; method: string; params: unknown }
  | { t: 'note'; from: string; method: string; params: unknown }
  | { t: 'res'; id: string; ok: true; data: unknown }
  | { t: 'res'; id: string; ok: false; error: { code: ErrorCode; message: string } };

type ClusterEvent = { type: 'stream.up' | 'stream.down'; lease: StreamLease } | { type: 'node.down'; nodeId: string };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
  nodeId: string;
  method: string;
}

type Scripted = RedisClient & {
  cascadeClaim(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<[number, string | null]>;
  cascadeRenew(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<[number, (string | null)?]>;
  cascadeRelease(k1: string, ...argv: (string | number)[]): Promise<number>;
};

function parseLease(json: string | null | undefined): StreamLease | undefined {
  if (!json) return undefined;
  try {
    const v = JSON.parse(json) as StreamLease;
    return typeof v.nodeId === 'string' && typeof v.epoch === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A coordinator shared by the nodes of a cascade through Redis. */
export class RedisCoordinator extends EventEmitter<CoordinatorEvents> implements Coordinator {
  readonly nodeId: string;
  readonly kind = 'redis' as const;
  /** Key and channel names. */
  readonly keys: RedisKeys;
  readonly #o: RedisCoordinatorOptions;
  readonly #log: Logger;
  readonly #cmd: Scripted;
  readonly #sub: RedisClient;
  readonly #live = new Map<string, NodeRecord>();
  readonly #held = new Map<string, StreamLease>();
  readonly #relaysHeld = new Map<string, { room: string; identity: string; record: RelayRecord }>();
  readonly #maxEpochSeen = new Map<string, number>();
  /** Nodes that announced their exit: a sweep that read their key just before is not taken as a comeback. */
  readonly #leftAt = new Map<string, number>();
  readonly #handlers = new Map<string, RpcHandler>();
  readonly #pending = new Map<string, Pending>();
  #describe: (() => Promise<NodeRecord>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #graceUntil = 0;
  #connected = false;
  #everConnected = false;
  #quietErrors = false;
  #closed = false;

  constructor(options: RedisCoordinatorOptions) {
    super();
    this.nodeId = options.nodeId;
    this.#o = options;
    this.#log = options.log;
    this.keys = new RedisKeys(options.redis.keyPrefix);
    this.#cmd = createRedisClient(options.redis, `subsec:${options.nodeId}:cmd`) as Scripted;
    this.#sub = createRedisClient(options.redis, `subsec:${options.nodeId}:sub`);
    this.#cmd.defineCommand('cascadeClaim', { numberOfKeys: 3, lua: CLAIM_LUA });
    this.#cmd.defineCommand('cascadeRenew', { numberOfKeys: 3, lua: RENEW_LUA });
    this.#cmd.defineCommand('cascadeRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.#cmd.on('error', (err: Error) => this.#onRedisError(err));
    this.#sub.on('error', (err: Error) => this.#onRedisError(err));
    this.#cmd.on('ready', () => this.#onReady());
    this.#cmd.on('close', () => this.#onDown());
    this.#sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
  }

  /** Whether Redis is reachable now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The command connection (for companions such as the Redis relay directory). */
  get redis(): RedisClient {
    return this.#cmd;
  }

  async start(describe: () => Promise<NodeRecord>): Promise<void> {
    if (this.#closed) throw new InvalidStateError('coordinator closed');
    this.#describe = describe;
    const url = this.#o.redis.url.replace(/\/\/[^@/]*@/, '//***@');
    try {
      await Promise.all([this.#connect(this.#cmd), this.#connect(this.#sub)]);
      await this.#sub.subscribe(this.keys.events, this.keys.rpc(this.nodeId));
    } catch (err) {
      this.#cmd.disconnect();
      this.#sub.disconnect();
      throw new SubsecError(ErrorCode.INTERNAL, `cannot reach Redis at ${url}: ${(err as Error).message}`, { cause: err });
    }
    // Nobody is declared dead before every live node had one TTL to show up.
    this.#graceUntil = Date.now() + this.#o.nodeTtlMs;
    await this.#tick();
    this.#timer = setInterval(() => void this.#tick(), this.#o.heartbeatMs);
    this.#timer.unref();
    this.#log.info('registered with Redis', { url, node: this.nodeId, region: this.#o.region });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#ticking?.catch(() => undefined);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new CascadeRpcError('unreachable', p.nodeId, p.method, 'coordinator closed'));
    }
    this.#pending.clear();
    if (this.#connected) {
      const held = [...this.#held.values()];
      this.#held.clear();
      await Promise.allSettled([
        ...held.map((l) => this.#releaseLease(l)),
        ...[...this.#relaysHeld.values()].map((r) => this.#cmd.hdel(this.keys.relays(r.room, r.identity), this.nodeId)),
        this.#cmd.del(this.keys.node(this.nodeId)),
        this.#cmd.srem(this.keys.nodes, this.nodeId),
      ]);
      // Others learn of a graceful exit at once instead of after the TTL.
      await this.#cmd.publish(this.keys.events, JSON.stringify({ type: 'node.down', nodeId: this.nodeId } satisfies ClusterEvent)).catch(() => undefined);
    }
    this.#relaysHeld.clear();
    this.#sub.disconnect();
    await this.#cmd.quit().catch(() => this.#cmd.disconnect());
    this.#describe = undefined;
  }

  liveNodes(): NodeRecord[] {
    return [...this.#live.values()];
  }

  node(nodeId: string): NodeRecord | undefined {
    return this.#live.get(nodeId);
  }

  async claim(room: string, identity: string): Promise<StreamLease> {
    if (this.#closed) throw new InvalidStateError('coordinator closed');
    const k = streamKey(room, identity);
    const minEpoch = Math.max(this.#maxEpochSeen.get(k) ?? 0, this.#held.get(k)?.epoch ?? 0);
    const since = Date.now();
    const [epoch, prevJson] = await this.#cmd.cascadeClaim(
      this.keys.stream(room, identity),
      this.keys.epoch(room, identity),
      this.keys.roomStreams(room),
      this.nodeId,
      minEpoch,
      this.#o.leaseMs,
      identity,
      since,
      room,
    );
    const lease: StreamLease = { room, identity, nodeId: this.nodeId, epoch: Number(epoch), since };
    this.#seen(lease);
    this.#held.set(k, lease);
    const prev = parseLease(prevJson);
    if (prev && prev.nodeId !== this.nodeId) this.#log.info('took over a stream origin', { room, identity, from: prev.nodeId, epoch: lease.epoch });
    this.#publishEvent({ type: 'stream.up', lease });
    return lease;
  }

  async release(room: string, identity: string): Promise<void> {
    const k = streamKey(room, identity);
    const lease = this.#held.get(k);
    if (!lease) return;
    this.#held.delete(k);
    if (await this.#releaseLease(lease).catch(() => false)) this.#publishEvent({ type: 'stream.down', lease });
  }

  held(room: string, identity: string): StreamLease | undefined {
    return this.#held.get(streamKey(room, identity));
  }

  async lookup(room: string, identity: string): Promise<StreamLease | undefined> {
    const lease = parseLease(await this.#cmd.get(this.keys.stream(room, identity)));
    if (lease) this.#seen(lease);
    return lease;
  }

  async streams(room: string): Promise<StreamLease[]> {
    const identities = await this.#cmd.smembers(this.keys.roomStreams(room));
    const values = await Promise.all(identities.map((id) => this.#cmd.get(this.keys.stream(room, id))));
    const out: StreamLease[] = [];
    const gone: string[] = [];
    values.forEach((v, i) => {
      const lease = parseLease(v);
      if (lease) {
        this.#seen(lease);
        out.push(lease);
      } else gone.push(identities[i]!);
    });
    if (gone.length) void this.#cmd.srem(this.keys.roomStreams(room), ...gone).catch(() => undefined);
    return out;
  }

  async setRelay(room: string, identity: string, relay: Omit<RelayRecord, 'nodeId' | 'region'>): Promise<void> {
    const record: RelayRecord = { ...relay, nodeId: this.nodeId, region: this.#o.region };
    this.#relaysHeld.set(streamKey(room, identity), { room, identity, record });
    await this.#writeRelay(room, identity, record);
  }

  async clearRelay(room: string, identity: string): Promise<void> {
    if (!this.#relaysHeld.delete(streamKey(room, identity))) return;
    await this.#cmd.hdel(this.keys.relays(room, identity), this.nodeId);
  }

  async relays(room: string, identity: string): Promise<RelayRecord[]> {
    const all = await this.#cmd.hgetall(this.keys.relays(room, identity));
    const out: RelayRecord[] = [];
    for (const [nodeId, json] of Object.entries(all ?? {})) {
      if (!this.#live.has(nodeId)) continue;
      try {
        out.push({ ...(JSON.parse(json) as RelayRecord), nodeId });
      } catch {
        // A malformed record is skipped; its writer rewrites it at its next heartbeat.
      }
    }
    return out;
  }

  handle(method: string, handler: RpcHandler): void {
    this.#handlers.set(method, handler);
  }

  async call(nodeId: string, method: string, params: unknown, timeoutMs = this.#o.rpcTimeoutMs): Promise<unknown> {
    if (this.#closed) throw new CascadeRpcError('unreachable', nodeId, method, 'coordinator closed');
    if (nodeId === this.nodeId) return this.#dispatchLocal(method, params, this.nodeId);
    const id = crypto.randomUUID();
    const msg: WireMessage = { t: 'req', id, from: this.nodeId, method, params };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new CascadeRpcError('timeout', nodeId, method, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, nodeId, method });
      this.#cmd.publish(this.keys.rpc(nodeId), JSON.stringify(msg)).then(
        (receivers) => {
          if (receivers > 0 || !this.#pending.has(id)) return;
          clearTimeout(timer);
          this.#pending.delete(id);
          reject(new CascadeRpcError('unreachable', nodeId, method, 'node is not listening'));
        },
        (err: Error) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          reject(new CascadeRpcError('unreachable', nodeId, method, `Redis: ${err.message}`));
        },
      );
    });
  }

  notify(nodeId: string, method: string, params: unknown): void {
    if (this.#closed) return;
    if (nodeId === this.nodeId) {
      this.#dispatchLocal(method, params, this.nodeId).catch(() => undefined);
      return;
    }
    const msg: WireMessage = { t: 'note', from: this.nodeId, method, params };
    this.#cmd.publish(this.keys.rpc(nodeId), JSON.stringify(msg)).catch(() => undefined);
  }

  async #connect(client: RedisClient): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no connection within ${this.#o.redis.connectTimeoutMs} ms`));
      }, this.#o.redis.connectTimeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off('ready', onReady);
      };
      client.on('ready', onReady);
      client.connect().catch(() => undefined);
    });
  }

  #onRedisError(err: Error): void {
    if (this.#quietErrors) return this.#log.debug('redis error', { error: err });
    this.#quietErrors = true;
    this.#log.warn('redis error (further errors logged at debug until reconnected)', { error: err });
  }

  #onReady(): void {
    this.#quietErrors = false;
    const wasDown = this.#everConnected && !this.#connected;
    this.#connected = true;
    this.#everConnected = true;
    if (!wasDown || this.#closed) return;
    this.#graceUntil = Date.now() + this.#o.nodeTtlMs + this.#o.heartbeatMs;
    this.#log.info('Redis connection back; re-registering');
    this.emit('connection', 'up');
    void this.#tick();
  }

  #onDown(): void {
    if (!this.#connected || this.#closed) return;
    this.#connected = false;
    this.#log.warn('Redis connection lost; serving what we have until it returns');
    this.emit('connection', 'down');
  }

  /** One heartbeat: register, renew leases and relays, sweep the registry. Never overlaps itself. */
  #tick(): Promise<void> {
    if (this.#ticking || this.#closed || !this.#describe) return this.#ticking ?? Promise.resolve();
    const describe = this.#describe;
    this.#ticking = (async () => {
      try {
        const self = await describe();
        if (this.#closed) return;
        this.#live.set(this.nodeId, self);
        await Promise.all([
          this.#cmd.set(this.keys.node(this.nodeId), JSON.stringify(self), 'PX', this.#o.nodeTtlMs),
          this.#cmd.sadd(this.keys.nodes, this.nodeId),
        ]);
        await Promise.all([...this.#held.values()].map((l) => this.#renew(l)));
        await Promise.all([...this.#relaysHeld.values()].map((r) => this.#writeRelay(r.room, r.identity, r.record)));
        await this.#sweep();
      } catch (err) {
        this.#log.debug('heartbeat failed', { error: err });
      } finally {
        this.#ticking = undefined;
      }
    })();
    return this.#ticking;
  }

  async #renew(lease: StreamLease): Promise<void> {
    const k = streamKey(lease.room, lease.identity);
    const [state, currentJson] = await this.#cmd.cascadeRenew(
      this.keys.stream(lease.room, lease.identity),
      this.keys.epoch(lease.room, lease.identity),
      this.keys.roomStreams(lease.room),
      this.nodeId,
      lease.epoch,
      this.#o.leaseMs,
      lease.identity,
      JSON.stringify(lease),
    );
    if (this.#held.get(k) !== lease) return;
    if (Number(state) === 2) {
      this.#log.info('origin lease restored', { room: lease.room, identity: lease.identity, epoch: lease.epoch });
      this.#publishEvent({ type: 'stream.up', lease });
    } else if (Number(state) === 0) {
      this.#lose(lease, parseLease(currentJson));
    }
  }

  #lose(lease: StreamLease, holder: StreamLease | undefined): void {
    const k = streamKey(lease.room, lease.identity);
    if (this.#held.get(k) !== lease) return;
    this.#held.delete(k);
    if (holder) this.#seen(holder);
    this.#log.warn('origin lease lost to a newer claim; stepping down', {
      room: lease.room,
      identity: lease.identity,
      epoch: lease.epoch,
      holder: holder?.nodeId,
      holderEpoch: holder?.epoch,
    });
    this.emit('leaseLost', lease, holder);
  }

  async #sweep(): Promise<void> {
    const ids = await this.#cmd.smembers(this.keys.nodes);
    const values = await Promise.all(ids.map((id) => this.#cmd.get(this.keys.node(id))));
    const graceOver = Date.now() >= this.#graceUntil;
    const seen = new Set<string>();
    const gone: string[] = [];
    values.forEach((json, i) => {
      const id = ids[i]!;
      if (!json) {
        gone.push(id);
        return;
      }
      let record: NodeRecord;
      try {
        record = JSON.parse(json) as NodeRecord;
      } catch {
        return;
      }
      const left = this.#leftAt.get(id);
      if (left !== undefined && Date.now() - left < this.#o.nodeTtlMs) return;
      this.#leftAt.delete(id);
      seen.add(id);
      const known = this.#live.has(id);
      this.#live.set(id, record);
      if (!known && id !== this.nodeId) {
        this.#log.info('node up', { node: id, region: record.region });
        this.emit('nodeUp', record);
      }
    });
    if (!graceOver) return;
    for (const id of [...this.#live.keys()]) {
      if (id === this.nodeId || seen.has(id)) continue;
      this.#live.delete(id);
      this.#log.warn('node down (heartbeat expired)', { node: id });
      this.emit('nodeDown', id);
    }
    if (gone.length) await this.#cmd.srem(this.keys.nodes, ...gone);
  }

  async #writeRelay(room: string, identity: string, record: RelayRecord): Promise<void> {
    const key = this.keys.relays(room, identity);
    await Promise.all([this.#cmd.hset(key, this.nodeId, JSON.stringify(record)), this.#cmd.pexpire(key, Math.max(10_000, this.#o.leaseMs * 3))]);
  }

  async #releaseLease(lease: StreamLease): Promise<boolean> {
    const n = await this.#cmd.cascadeRelease(this.keys.stream(lease.room, lease.identity), this.nodeId, lease.epoch);
    return Number(n) === 1;
  }

  #seen(lease: StreamLease): void {
    const k = streamKey(lease.room, lease.identity);
    if ((this.#maxEpochSeen.get(k) ?? 0) < lease.epoch) this.#maxEpochSeen.set(k, lease.epoch);
  }

  #publishEvent(event: ClusterEvent): void {
    this.#cmd.publish(this.keys.events, JSON.stringify(event)).catch(() => undefined);
  }

  #onMessage(channel: string, message: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(message);
    } catch {
      return;
    }
    if (channel === this.keys.events) return this.#onEvent(msg as ClusterEvent);
    if (channel !== this.keys.rpc(this.nodeId)) return;
    const m = msg as WireMessage;
    if (m.t === 'res') {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.data);
      else p.reject(new CascadeRpcError('remote', p.nodeId, p.method, m.error.message, m.error.code));
    } else if (m.t === 'req') {
      this.#dispatch(m.method, m.params, m.from).then(
        (data) => this.#reply(m.from, { t: 'res', id: m.id, ok: true, data: data ?? null }),
        (err: unknown) => {
          const error =
            err instanceof SubsecError
              ? { code: err.code, message: err.message }
              : { code: ErrorCode.INTERNAL, message: (err as Error)?.message ?? 'internal error' };
          if (!(err instanceof SubsecError)) this.#log.warn('rpc handler failed', { method: m.method, from: m.from, error: err });
          this.#reply(m.from, { t: 'res', id: m.id, ok: false, error });
        },
      );
    } else if (m.t === 'note') {
      this.#dispatch(m.method, m.params, m.from).catch((err: unknown) => this.#log.debug('rpc notification failed', { method: m.method, error: err }));
    }
  }

  #onEvent(event: ClusterEvent): void {
    if (event?.type === 'node.down') {
      if (typeof event.nodeId !== 'string' || event.nodeId === this.nodeId || !this.#live.delete(event.nodeId)) return;
      this.#leftAt.set(event.nodeId, Date.now());
      this.#log.info('node left', { node: event.nodeId });
      this.emit('nodeDown', event.nodeId);
      return;
    }
    const lease = event?.lease;
    if (!lease || typeof lease.room !== 'string' || typeof lease.identity !== 'string') return;
    this.#seen(lease);
    if (event.type === 'stream.up') {
      const mine = this.#held.get(streamKey(lease.room, lease.identity));
      // A newer claim elsewhere: step down now rather than at the next renewal.
      if (mine && lease.nodeId !== this.nodeId && lease.epoch > mine.epoch) this.#lose(mine, lease);
      this.emit('streamUp', lease);
    } else if (event.type === 'stream.down') {
      this.emit('streamDown', lease);
    }
  }

  #reply(to: string, msg: WireMessage): void {
    this.#cmd.publish(this.keys.rpc(to), JSON.stringify(msg)).catch(() => undefined);
  }

  #dispatch(method: string, params: unknown, from: string): Promise<unknown> {
    const handler = this.#handlers.get(method);
    if (!handler) return Promise.reject(new SubsecError(ErrorCode.UNKNOWN_METHOD, `unknown method ${method}`));
    return handler(params, from);
  }

  async #dispatchLocal(method: string, params: unknown, from: string): Promise<unknown> {
    try {
      return await this.#dispatch(method, params, from);
    } catch (err) {
      if (err instanceof SubsecError) throw new CascadeRpcError('remote', this.nodeId, method, err.message, err.code);
      throw err;
    }
  }
}
