/**
 * Connections to upstream relays for chaining. When this relay lacks a broadcast, the
 * directory names relays that have it; one client session per upstream relay carries every
 * subscription to it, and each broadcast reached there is one shared {@link Broadcast} whose
 * tracks are fetched on demand (so N local subscribers cost one upstream subscription).
 */
import type { Logger } from '../src/core/logger';
import { Broadcast } from './model/Broadcast';
import type { RelayDirectory } from './RelayDirectory';
import type { Session } from './Session';

/** Opens a client session to an upstream relay URL. */
export type UpstreamDialer = (url: string) => Promise<Session>;

/** Options of {@link UpstreamPool}. */
export interface UpstreamPoolOptions {
  directory: RelayDirectory;
  /** URLs that name this relay (never dialled). */
  selfUrls: () => string[];
  dial: UpstreamDialer;
  /** Creates a broadcast fed by an upstream session (the relay applies its track options). */
  createBroadcast: (path: string, session: Session) => Broadcast;
  log: Logger;
}

interface Upstream {
  session: Session;
  broadcasts: Map<string, Broadcast>;
}

/** Upstream relay sessions by URL. */
export class UpstreamPool {
  readonly #o: UpstreamPoolOptions;
  readonly #conns = new Map<string, Promise<Upstream>>();
  #closed = false;

  constructor(options: UpstreamPoolOptions) {
    this.#o = options;
  }

  /** Open upstream sessions. */
  get size(): number {
    return this.#conns.size;
  }

  /** The broadcast at `path` through an upstream relay, or undefined when none has it. */
  async broadcast(path: string): Promise<Broadcast | undefined> {
    if (this.#closed) return undefined;
    const self = new Set(this.#o.selfUrls().map(normalise));
    const urls = (await this.#o.directory.lookup(path)).filter((u) => !self.has(normalise(u)));
    for (const url of urls) {
      try {
        const up = await this.#connection(url);
        let b = up.broadcasts.get(path);
        if (!b || b.closed) {
          b = this.#o.createBroadcast(path, up.session);
          const created = b;
          up.broadcasts.set(path, created);
          created.once('closed', () => {
            if (up.broadcasts.get(path) === created) up.broadcasts.delete(path);
          });
        }
        return b;
      } catch (err) {
        this.#o.log.warn('upstream relay unreachable', { url, path, error: err });
      }
    }
    return undefined;
  }

  /** Closes every upstream session. */
  close(): void {
    this.#closed = true;
    for (const p of this.#conns.values())
      p.then(
        (u) => u.session.close(),
        () => undefined,
      );
    this.#conns.clear();
  }

  #connection(url: string): Promise<Upstream> {
    const key = normalise(url);
    let p = this.#conns.get(key);
    if (!p) {
      p = this.#o.dial(url).then((session) => {
        const up: Upstream = { session, broadcasts: new Map() };
        void session.closed.then(() => {
          if (this.#conns.get(key) === p) this.#conns.delete(key);
          for (const b of up.broadcasts.values()) b.close();
        });
        return up;
      });
      this.#conns.set(key, p);
      p.catch(() => {
        if (this.#conns.get(key) === p) this.#conns.delete(key);
      });
    }
    return p;
  }
}

function normalise(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port}`;
  } catch {
    return url;
  }
}
