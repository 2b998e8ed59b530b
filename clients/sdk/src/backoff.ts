/** Capped exponential backoff with jitter, and an abortable sleep. */

/** Reconnect timing; all durations in milliseconds. */
export interface BackoffOptions {
  /** Delay cap of the first retry (default 500 ms). */
  initialDelayMs: number;
  /** Largest delay between retries (default 10 000 ms). */
  maxDelayMs: number;
  /** Growth factor of the cap per attempt (default 2). */
  multiplier: number;
}

/**
 * Delay before retry number `attempt` (1-based): uniformly drawn from [cap/2, cap] where cap grows
 * exponentially up to `maxDelayMs`. Half is fixed so a flapping node is never hammered; half is
 * random so a node restart does not see every client come back in the same instant.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const cap = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** exponent);
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** Resolves after `ms` milliseconds, or early (never rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
