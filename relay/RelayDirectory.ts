/**
 * Where broadcasts live across relays, for chaining: a relay that lacks a broadcast asks the
 * directory which relay has it and subscribes there. Relays register the broadcasts published
 * to them. Implementations: {@link InMemoryRelayDirectory} (one process, or static routes);
 * a Redis-backed one can implement the same interface for the multi-node cascade.
 */
import { hasPrefix } from './Path';

/** The directory interface a relay depends on. */
export interface RelayDirectory {
  /** Records that the relay reachable at `relayUrl` serves `path`. */
  register(path: string, relayUrl: string): Promise<void>;
  /** Removes a registration made by {@link register}. */
  unregister(path: string, relayUrl: string): Promise<void>;
  /** Relay URLs that can serve `path`, best first (may be empty). */
  lookup(path: string): Promise<string[]>;
}

/** A prefix route to an upstream relay. */
export interface StaticRoute {
  prefix: string;
  url: string;
}

/** In-memory directory: registrations shared by the relays of one process, plus static routes. */
export class InMemoryRelayDirectory implements RelayDirectory {
  readonly #byPath = new Map<string, string[]>();
  readonly #routes: StaticRoute[];

  constructor(routes: StaticRoute[] = []) {
    // Longest prefix first, so the most specific route wins.
    this.#routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  async register(path: string, relayUrl: string): Promise<void> {
    const urls = this.#byPath.get(path) ?? [];
    if (!urls.includes(relayUrl)) urls.unshift(relayUrl);
    this.#byPath.set(path, urls);
  }

  async unregister(path: string, relayUrl: string): Promise<void> {
    const urls = (this.#byPath.get(path) ?? []).filter((u) => u !== relayUrl);
    if (urls.length) this.#byPath.set(path, urls);
    else this.#byPath.delete(path);
  }

  async lookup(path: string): Promise<string[]> {
    const out = [...(this.#byPath.get(path) ?? [])];
    for (const r of this.#routes) if (hasPrefix(r.prefix, path) && !out.includes(r.url)) out.push(r.url);
    return out;
  }
}
