/**
 * The MoQ relay directory (relay/RelayDirectory.ts) on the cascade's Redis: a relay registers the
 * broadcasts published to it, and a relay on another node that lacks a broadcast finds the relays
 * that have it and chains to them. Registrations belong to the registering node: they are
 * re-asserted every `refreshMs` (so a Redis restart loses nothing for long), expire with their
 * key, and are ignored once the registry declares their node dead. Static routes of the relay
 * config (`fallback`) are consulted after.
 */
import type { RelayDirectory } from '../../relay/RelayDirectory';
import type { Logger } from '../core/logger';
import type { RedisCoordinator } from './RedisCoordinator';

/** Options of {@link RedisRelayDirectory}. */
export interface RedisRelayDirectoryOptions {
  coordinator: RedisCoordinator;
  /** Static routes and anything else to consult after Redis. */
  fallback?: RelayDirectory;
  /** Re-assertion period (ms, default 2000); keys live three periods. */
  refreshMs?: number;
  log: Logger;
}

/** A relay directory shared by the nodes of a cascade. */
export class RedisRelayDirectory implements RelayDirectory {
  readonly #o: RedisRelayDirectoryOptions;
  readonly #refreshMs: number;
  /** This node's registrations: path → relay URLs. */
  readonly #mine = new Map<string, Set<string>>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(options: RedisRelayDirectoryOptions) {
    this.#o = options;
    this.#refreshMs = options.refreshMs ?? 2000;
    this.#timer = setInterval(() => void this.#refresh(), this.#refreshMs);
    this.#timer.unref();
  }

  async register(path: string, relayUrl: string): Promise<void> {
    if (this.#closed) return;
    const urls = this.#mine.get(path) ?? new Set<string>();
    urls.add(relayUrl);
    this.#mine.set(path, urls);
    await this.#write(path, relayUrl);
  }

  async unregister(path: string, relayUrl: string): Promise<void> {
    const urls = this.#mine.get(path);
    urls?.delete(relayUrl);
    if (urls && urls.size === 0) this.#mine.delete(path);
    await this.#o.coordinator.redis.hdel(this.#o.coordinator.keys.relayDirectory(path), relayUrl);
  }

  async lookup(path: string): Promise<string[]> {
    const c = this.#o.coordinator;
    const entries = await c.redis.hgetall(c.keys.relayDirectory(path)).catch((err: unknown) => {
      this.#o.log.debug('relay directory lookup failed', { path, error: err });
      return {} as Record<string, string>;
    });
    const self = c.node(c.nodeId);
    const ranked = Object.entries(entries)
      .map(([url, nodeId]) => ({ url, node: c.node(nodeId) }))
      .filter((e) => e.node && !e.node.draining)
      .sort((a, b) => Number(a.node!.region !== self?.region) - Number(b.node!.region !== self?.region) || a.node!.load.load - b.node!.load.load)
      .map((e) => e.url);
    for (const url of (await this.#o.fallback?.lookup(path)) ?? []) if (!ranked.includes(url)) ranked.push(url);
    return ranked;
  }

  /** Stops refreshing and removes this node's registrations. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const c = this.#o.coordinator;
    await Promise.allSettled([...this.#mine].flatMap(([path, urls]) => [...urls].map((u) => c.redis.hdel(c.keys.relayDirectory(path), u))));
    this.#mine.clear();
  }

  async #write(path: string, relayUrl: string): Promise<void> {
    const c = this.#o.coordinator;
    const key = c.keys.relayDirectory(path);
    await Promise.all([c.redis.hset(key, relayUrl, c.nodeId), c.redis.pexpire(key, this.#refreshMs * 3)]);
  }

  async #refresh(): Promise<void> {
    if (this.#closed || !this.#o.coordinator.connected) return;
    await Promise.allSettled([...this.#mine].flatMap(([path, urls]) => [...urls].map((u) => this.#write(path, u))));
  }
}
