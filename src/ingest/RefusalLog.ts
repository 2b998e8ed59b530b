/**
 * Rate-limited refusal logging for contribution listeners: an encoder that retries a refused
 * connection many times a second gets one log line per source per window, and the next line
 * says how many refusals were not logged in between. (Every refusal is still counted in the
 * listener's metric.)
 */
import type { Logger } from '../core/logger';

/** Logs refusals, at most one line per source per window. */
export class RefusalLog {
  readonly #log: Logger;
  readonly #windowMs: number;
  readonly #sources = new Map<string, { until: number; suppressed: number }>();

  constructor(log: Logger, windowMs = 10_000) {
    this.#log = log;
    this.#windowMs = windowMs;
  }

  /** Logs `message` with `fields` for `source` (an IP address), unless it logged one in the window. */
  refused(source: string, message: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const entry = this.#sources.get(source);
    if (entry && entry.until > now) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#sources.set(source, { until: now + this.#windowMs, suppressed: 0 });
    if (this.#sources.size > 10_000) for (const [k, v] of this.#sources) if (v.until < now) this.#sources.delete(k);
    this.#log.warn(message, suppressed > 0 ? { ...fields, notLogged: `${suppressed} earlier refusals of this source` } : fields);
  }
}
