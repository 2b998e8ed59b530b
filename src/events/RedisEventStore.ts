/**
 * Room events in Redis Streams, shared by every node of a cascade. One Lua script appends
 * atomically: it answers a known idempotency key with the first result, checks the optional
 * expected last sequence number, numbers the event from the room's counter, XADDs it with the id
 * `0-<seq>` (so reads after a sequence number are plain XRANGEs), trims by count and age, records
 * the idempotency key and PUBLISHes the event so other nodes deliver it without polling.
 *
 * An event is acknowledged to its sender only after the script ran, so a node dying right after
 * loses nothing that was acknowledged. Pub/sub may drop messages (reconnects); watchers get a
 * resync call then and read what they missed.
 */
import type { Redis } from 'ioredis';
import type { RoomEvent } from '../protocol/signaling';
import { InvalidStateError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { Logger } from '../core/logger';
import type { AppendRequest, AppendResult, EventStore, ReadResult, StoreWatcher } from './EventStore';
import { RedisKeys } from '../redis/redisKeys';
import { whenRedisReady } from '../redis/redisClient';

/**
 * APPEND. KEYS: seq, log, idem. ARGV: hasIdem ('1'|'0'), ifLastSeq ('' = any), eventJson (no seq),
 * serverTime, maxEvents, minTime (drop events older), idemTtlMs, channel, maxAgeMs.
 * Returns {'ok', seq} | {'dup', 'seq|json'} | {'conflict', lastSeq}.
 */
const APPEND_LUA = `
if ARGV[1] == '1' then
  local prior = redis.call('GET', KEYS[3])
  if prior then return {'dup', prior} end
end
local cur = redis.call('GET', KEYS[1])
local last
if cur then
  last = tonumber(cur)
else
  local tail = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  last = 0
  if tail[1] then last = tonumber(string.match(tail[1][1], '%-(%d+)$')) end
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= last then return {'conflict', tostring(last)} end
local seq = last + 1
redis.call('SET', KEYS[1], seq)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], '0-' .. seq, 't', ARGV[4], 'd', ARGV[3])
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if first[1] and tonumber(first[1][2][2]) < tonumber(ARGV[6]) then
  local old = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 200)
  local cut = nil
  for _, e in ipairs(old) do
    if tonumber(e[2][2]) < tonumber(ARGV[6]) then cut = e[1] else break end
  end
  if cut then
    local n = tonumber(string.match(cut, '%-(%d+)$'))
    redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. (n + 1))
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[9])
local rec = seq .. '|' .. ARGV[3]
if ARGV[1] == '1' then redis.call('SET', KEYS[3], rec, 'PX', ARGV[7]) end
redis.call('PUBLISH', ARGV[8], rec)
return {'ok', tostring(seq)}
`;

/** Options of {@link RedisEventStore}. */
export interface RedisEventStoreOptions {
  /** Command connection (connected by {@link RedisEventStore.start} when lazy; closed with the store). */
  client: Redis;
  /** Subscriber connection (pub/sub puts a connection in a mode where it takes no other command). */
  subscriber: Redis;
  /** Key prefix (the `redis.keyPrefix` of the config). */
  keyPrefix: string;
  log: Logger;
  /** How long {@link RedisEventStore.start} waits for Redis (ms; default 10 000), like the coordinator. */
  connectTimeoutMs?: number;
}

type RedisWithAppend = Redis & {
  subsecEventAppend(...args: Array<string | number>): Promise<[string, string]>;
};

/** Parses a `seq|json` record. */
function parseRecord(record: string): RoomEvent {
  const bar = record.indexOf('|');
  return { seq: Number(record.slice(0, bar)), ...(JSON.parse(record.slice(bar + 1)) as Omit<RoomEvent, 'seq'>) };
}

function seqOfId(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** The Redis Streams event store. */
export class RedisEventStore implements EventStore {
  readonly kind = 'redis';
  readonly #redis: RedisWithAppend;
  readonly #sub: Redis;
  readonly #keys: RedisKeys;
  readonly #log: Logger;
  readonly #watchers = new Map<string, Set<StoreWatcher>>();
  #closed = false;
  #quietErrors = false;
  readonly #connectTimeoutMs: number;

  constructor(options: RedisEventStoreOptions) {
    this.#redis = options.client as RedisWithAppend;
    this.#sub = options.subscriber;
    this.#keys = new RedisKeys(options.keyPrefix);
    this.#log = options.log;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#redis.defineCommand('subsecEventAppend', { numberOfKeys: 3, lua: APPEND_LUA });
    // Without listeners ioredis reports every failed reconnect as an unhandled error event.
    for (const c of [this.#redis, this.#sub]) c.on('error', (err: Error) => this.#onRedisError(err));
    this.#redis.on('ready', () => {
      this.#quietErrors = false;
    });
    this.#sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
    // Messages published while the subscriber was disconnected are gone: watchers re-read.
    this.#sub.on('ready', () => {
      for (const set of this.#watchers.values()) for (const w of [...set]) w.onResync?.();
    });
  }

  /**
   * Connects both connections when they were created lazily, waiting up to `connectTimeoutMs`
   * (a node started during a short Redis outage comes up once Redis does); rejects after that.
   */
  async start(): Promise<void> {
    await Promise.all([this.#redis, this.#sub].map((c) => whenRedisReady(c, this.#connectTimeoutMs, 'event store')));
  }

  #onRedisError(err: Error): void {
    if (this.#quietErrors) return this.#log.debug('redis error', { error: err });
    this.#quietErrors = true;
    this.#log.warn('event store: redis error (further errors logged at debug until reconnected)', { error: err });
  }

  async append(request: AppendRequest): Promise<AppendResult> {
    this.#assertOpen();
    const { room, retention } = request;
    const hasIdem = request.idempotencyKey !== undefined;
    const now = request.draft.serverTime;
    let reply: [string, string];
    try {
      reply = await this.#redis.subsecEventAppend(
        this.#keys.eventSeq(room),
        this.#keys.eventLog(room),
        this.#keys.eventIdempotency(room, request.idempotencyKey ?? ''),
        hasIdem ? '1' : '0',
        request.ifLastSeq === undefined ? '' : String(request.ifLastSeq),
        JSON.stringify(request.draft),
        String(now),
        String(retention.maxEvents),
        String(Number.isFinite(retention.maxAgeMs) ? now - retention.maxAgeMs : 0),
        String(Math.max(1, Math.round(request.idempotencyTtlMs))),
        this.#keys.eventChannel(room),
        String(Number.isFinite(retention.maxAgeMs) ? Math.max(1000, Math.round(retention.maxAgeMs)) : 365 * 86_400_000),
      );
    } catch (err) {
      throw unavailable(err);
    }
    const [status, value] = reply;
    if (status === 'dup') return { status: 'duplicate', event: parseRecord(value) };
    if (status === 'conflict') return { status: 'conflict', lastSeq: Number(value) };
    return { status: 'appended', event: { seq: Number(value), ...request.draft } };
  }

  async findByIdempotencyKey(room: string, idempotencyKey: string): Promise<RoomEvent | undefined> {
    this.#assertOpen();
    try {
      const record = await this.#redis.get(this.#keys.eventIdempotency(room, idempotencyKey));
      return record ? parseRecord(record) : undefined;
    } catch (err) {
      throw unavailable(err);
    }
  }

  async read(room: string, afterSeq: number, limit: number): Promise<ReadResult> {
    this.#assertOpen();
    const log = this.#keys.eventLog(room);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await this.#redis
        .multi()
        .get(this.#keys.eventSeq(room))
        .xrange(log, '-', '+', 'COUNT', 1)
        .xrange(log, `0-${afterSeq + 1}`, '+', 'COUNT', limit)
        .exec();
    } catch (err) {
      throw unavailable(err);
    }
    if (!results) throw unavailable(new Error('transaction aborted'));
    for (const [err] of results) if (err) throw unavailable(err);
    const counter = results[0]![1] as string | null;
    const head = results[1]![1] as Array<[string, string[]]>;
    const entries = results[2]![1] as Array<[string, string[]]>;
    const events = entries.map(([id, fields]) => ({ seq: seqOfId(id), ...(JSON.parse(fieldOf(fields, 'd')) as Omit<RoomEvent, 'seq'>) }));
    const firstSeq = head[0] ? seqOfId(head[0][0]) : 0;
    const lastSeq = Math.max(Number(counter ?? 0), events.at(-1)?.seq ?? 0);
    return { events, lastSeq, firstSeq };
  }

  watch(room: string, watcher: StoreWatcher): () => void {
    this.#assertOpen();
    let set = this.#watchers.get(room);
    if (!set) {
      set = new Set();
      this.#watchers.set(room, set);
      this.#sub.subscribe(this.#keys.eventChannel(room)).catch((err: unknown) => {
        this.#log.warn('event channel subscribe failed', { room, error: err });
        watcher.onResync?.();
      });
    }
    set.add(watcher);
    return () => {
      const current = this.#watchers.get(room);
      if (!current?.delete(watcher) || current.size > 0) return;
      this.#watchers.delete(room);
      if (!this.#closed) this.#sub.unsubscribe(this.#keys.eventChannel(room)).catch(() => undefined);
    };
  }

  /** Stops watching and disconnects both connections (the store owns them). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchers.clear();
    await Promise.all([this.#redis, this.#sub].map((c) => c.quit().catch(() => c.disconnect())));
  }

  #onMessage(channel: string, message: string): void {
    const room = this.#keys.roomOfEventChannel(channel);
    const set = room === undefined ? undefined : this.#watchers.get(room);
    if (!set) return;
    let event: RoomEvent;
    try {
      event = parseRecord(message);
    } catch (err) {
      this.#log.warn('unparsable event message', { channel, error: err });
      return;
    }
    for (const w of [...set]) w.onEvent(event);
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('event store is closed');
  }
}

function fieldOf(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
  throw new Error(`stream entry without field ${name}`);
}

function unavailable(err: unknown): SubsecError {
  return new SubsecError(ErrorCode.INTERNAL, 'event store unavailable', { cause: err });
}
