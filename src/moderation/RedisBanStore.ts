/**
 * Bans in the cascade's Redis, so a kick keeps an identity out on every node. Each ban is a key
 * `<p>{r:<room>}:ban:<identity>` (JSON) that expires when the ban ends, indexed in the sorted set
 * `<p>bans` (score = end) for listing, and announced on the `<p>bans` channel so every node's copy
 * ({@link BanMirror}) follows within milliseconds. `lookup` reads the key itself (signaling joins,
 * WHIP, SRT); WHEP and the MoQ relay use the copy. Copies are reloaded on every (re)connection and
 * every `refreshMs`, so a missed message is repaired. Redis unreachable: the copy keeps serving.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { Logger } from '../core/logger';
import { createRedisClient, whenRedisReady, type RedisSettings } from '../redis/redisClient';
import { RedisKeys } from '../redis/redisKeys';
import { BanMirror, parseBan, sortBans, type Ban, type BanStore, type BanStoreEvents } from './BanStore';

/** Options of {@link RedisBanStore}. */
export interface RedisBanStoreOptions {
  redis: RedisSettings;
  nodeId: string;
  /** Full reload period (ms). */
  refreshMs: number;
  log: Logger;
}

type BanMessage = { op: 'ban'; ban: Ban; from: string } | { op: 'lift'; room: string; identity: string; from: string };

/** The Redis ban store. */
export class RedisBanStore extends EventEmitter<BanStoreEvents> implements BanStore {
  readonly kind = 'redis' as const;
  readonly #o: RedisBanStoreOptions;
  readonly #keys: RedisKeys;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #mirror = new BanMirror();
  #timer: NodeJS.Timeout | undefined;
  #quietErrors = false;
  #closed = false;

  constructor(options: RedisBanStoreOptions) {
    super();
    this.#o = options;
    this.#keys = new RedisKeys(options.redis.keyPrefix);
    this.#cmd = createRedisClient(options.redis, `subsec:${options.nodeId}:bans`);
    this.#sub = createRedisClient(options.redis, `subsec:${options.nodeId}:bans-sub`);
    for (const c of [this.#cmd, this.#sub]) c.on('error', (err: Error) => this.#onRedisError(err));
    this.#sub.on('message', (_channel: string, message: string) => this.#onMessage(message));
    // Messages sent while the subscriber was away are lost: reload once it is back.
    this.#sub.on('ready', () => {
      this.#quietErrors = false;
      void this.#reload();
    });
  }

  /** Connects (waiting up to `redis.connectTimeoutMs`), subscribes and loads the bans. */
  async start(): Promise<void> {
    await Promise.all([this.#cmd, this.#sub].map((c) => whenRedisReady(c, this.#o.redis.connectTimeoutMs, 'ban store')));
    await this.#sub.subscribe(this.#keys.bansChannel);
    await this.#reload();
    this.#timer = setInterval(() => void this.#reload(), this.#o.refreshMs);
    this.#timer.unref();
  }

  async add(ban: Ban): Promise<void> {
    this.#mirror.set(ban);
    this.emit('banned', ban);
    const ttl = Math.max(1, ban.expiresAt - Date.now());
    try {
      await Promise.all([
        this.#cmd.set(this.#keys.ban(ban.room, ban.identity), JSON.stringify(ban), 'PX', ttl),
        this.#cmd.zadd(this.#keys.bans, ban.expiresAt, this.#keys.banMember(ban.room, ban.identity)),
      ]);
      // The index lives as long as its longest ban.
      if ((await this.#cmd.pttl(this.#keys.bans)) < ttl) await this.#cmd.pexpire(this.#keys.bans, ttl);
      await this.#cmd.publish(this.#keys.bansChannel, JSON.stringify({ op: 'ban', ban, from: this.#o.nodeId } satisfies BanMessage));
    } catch (err) {
      throw new SubsecError(ErrorCode.INTERNAL, `ban store (Redis) unavailable: the ban holds on this node only for now (${(err as Error).message})`, {
        cause: err,
      });
    }
  }

  async lift(room: string, identity: string): Promise<boolean> {
    const hadHere = this.#mirror.delete(room, identity);
    let removed: number;
    try {
      [removed] = await Promise.all([this.#cmd.del(this.#keys.ban(room, identity)), this.#cmd.zrem(this.#keys.bans, this.#keys.banMember(room, identity))]);
      await this.#cmd.publish(this.#keys.bansChannel, JSON.stringify({ op: 'lift', room, identity, from: this.#o.nodeId } satisfies BanMessage));
    } catch (err) {
      throw new SubsecError(ErrorCode.INTERNAL, `ban store (Redis) unavailable: ${(err as Error).message}`, { cause: err });
    }
    const had = removed > 0 || hadHere;
    if (had) this.emit('lifted', room, identity);
    return had;
  }

  async list(room?: string): Promise<Ban[]> {
    try {
      const all = await this.#readAll();
      return room === undefined ? all : all.filter((b) => b.room === room);
    } catch (err) {
      this.#o.log.debug('ban list from Redis failed; answering from this node', { error: err });
      return this.#mirror.list(room);
    }
  }

  async lookup(room: string, identity: string): Promise<Ban | undefined> {
    let json: string | null;
    try {
      json = await this.#cmd.get(this.#keys.ban(room, identity));
    } catch (err) {
      this.#o.log.debug('ban lookup in Redis failed; answering from this node', { room, identity, error: err });
      return this.#mirror.get(room, identity);
    }
    const ban = json === null ? undefined : parseBan(json);
    if (ban) this.#mirror.set(ban);
    else this.#mirror.delete(room, identity);
    return ban && ban.expiresAt > Date.now() ? ban : undefined;
  }

  cached(room: string, identity: string): Ban | undefined {
    return this.#mirror.get(room, identity);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.all([this.#cmd, this.#sub].map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** Every live ban in Redis; prunes ended entries from the index. */
  async #readAll(): Promise<Ban[]> {
    const now = Date.now();
    await this.#cmd.zremrangebyscore(this.#keys.bans, '-inf', now);
    const members = await this.#cmd.zrangebyscore(this.#keys.bans, now, '+inf');
    const refs = members.map((m) => this.#keys.parseBanMember(m)).filter((r): r is { room: string; identity: string } => r !== undefined);
    // One GET per key (keys of different rooms live in different Cluster slots); auto-pipelined.
    const values = await Promise.all(refs.map((r) => this.#cmd.get(this.#keys.ban(r.room, r.identity))));
    const bans: Ban[] = [];
    for (const v of values) {
      const ban = v === null ? undefined : parseBan(v);
      if (ban && ban.expiresAt > now) bans.push(ban);
    }
    return sortBans(bans);
  }

  async #reload(): Promise<void> {
    if (this.#closed || this.#cmd.status !== 'ready') return;
    try {
      const before = new Set(this.#mirror.list().map((b) => `${b.room}\n${b.identity}`));
      const bans = await this.#readAll();
      this.#mirror.replace(bans);
      // Bans set elsewhere while our messages were lost still evict here.
      for (const b of bans) if (!before.has(`${b.room}\n${b.identity}`)) this.emit('banned', b);
    } catch (err) {
      this.#o.log.debug('ban reload failed', { error: err });
    }
  }

  #onMessage(message: string): void {
    let msg: BanMessage;
    try {
      msg = JSON.parse(message) as BanMessage;
    } catch {
      return;
    }
    if (msg.from === this.#o.nodeId) return;
    if (msg.op === 'ban') {
      const ban = parseBan(JSON.stringify(msg.ban));
      if (!ban) return;
      this.#mirror.set(ban);
      this.emit('banned', ban);
    } else if (msg.op === 'lift' && typeof msg.room === 'string' && typeof msg.identity === 'string') {
      if (this.#mirror.delete(msg.room, msg.identity)) this.emit('lifted', msg.room, msg.identity);
    }
  }

  #onRedisError(err: Error): void {
    if (this.#quietErrors) return this.#o.log.debug('redis error', { error: err });
    this.#quietErrors = true;
    this.#o.log.warn('ban store: redis error (further errors logged at debug until reconnected)', { error: err });
  }
}
