/**
 * Token buckets per (room, identity): `burst` events at once, refilled at `perSecond`. Full,
 * idle buckets are forgotten so the map stays as small as the set of active senders.
 */

/** One bucket's settings. */
export interface RateLimit {
  /** Refill rate (events/s). */
  perSecond: number;
  /** Bucket size (events). */
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** When the bucket will be full again (ms), so it can be forgotten. */
  fullAt: number;
}

/** Per-key token buckets. */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Number of tracked buckets. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one token for `key`. Returns 0 when allowed, otherwise the wait (ms) until a token is
   * available (nothing is taken then).
   */
  take(key: string, limit: RateLimit): number {
    const now = this.#now();
    this.#sweep(now);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: limit.burst, updatedAt: now, fullAt: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * limit.perSecond);
      bucket.updatedAt = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.fullAt = now + ((limit.burst - bucket.tokens) / limit.perSecond) * 1000;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / limit.perSecond) * 1000);
  }

  /** Drops buckets that have been idle long enough to be full again (at most once a second). */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 1000) return;
    this.#lastSweep = now;
    for (const [key, b] of this.#buckets) if (now >= b.fullAt) this.#buckets.delete(key);
  }
}
