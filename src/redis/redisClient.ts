/**
 * Builds ioredis clients from the `redis` config slice: a plain URL (`redis://`, `rediss://`),
 * Sentinel (`sentinelName` + `sentinels`, the URL supplying password/db/TLS) or Cluster
 * (`cluster: true`, the URL naming a seed node). Commands fail fast while disconnected (no offline
 * queue) so a Redis outage never stalls the media path; reconnection is automatic with capped,
 * jittered backoff.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema';

/** The `redis` config slice. */
export type RedisSettings = Config['redis'];

/** The client type the cascade uses (Cluster offers the same commands). */
export type RedisClient = Redis;

/** Reconnect delay: 50 ms doubling to 1 s, ±20 % jitter. */
export function reconnectDelay(times: number): number {
  const base = Math.min(1000, 50 * 2 ** Math.min(times, 5));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Creates a client that does not connect until `connect()` is called. `overrides` adjusts the
 * connection options (e.g. `commandTimeout` for a connection that issues blocking reads).
 */
export function createRedisClient(settings: RedisSettings, connectionName: string, overrides: Partial<RedisOptions> = {}): RedisClient {
  const url = new URL(settings.url);
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: settings.connectTimeoutMs,
    retryStrategy: reconnectDelay,
    connectionName,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) || 0 } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    ...overrides,
  };
  if (settings.sentinelName) {
    return new Redis({ ...common, name: settings.sentinelName, sentinels: settings.sentinels });
  }
  if (settings.cluster) {
    const cluster = new Cluster([{ host: url.hostname, port: Number(url.port) || 6379 }], {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: reconnectDelay,
      redisOptions: common,
    });
    // Cluster exposes the same commands, pub/sub and scripting; only its connection options differ.
    return cluster as unknown as RedisClient;
  }
  return new Redis(settings.url, common);
}

/**
 * Resolves once `client` is ready, connecting a lazy client; rejects after `timeoutMs` (`what`
 * names the owner in the error), so a node started during a short Redis outage comes up once
 * Redis does, and fails clearly when it does not.
 */
export function whenRedisReady(client: RedisClient, timeoutMs: number, what: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`${what}: no Redis connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}
