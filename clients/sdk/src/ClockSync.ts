/**
 * The node's clock in the browser, NTP style over the signaling socket: each `ping` gives a sample
 * (offset = server time − the midpoint of send and receive, on a monotonic local clock), and the
 * estimate is the offset of the sample with the smallest round trip among the recent ones (the
 * one least skewed by queueing). A burst of samples on every (re)connection, then one every
 * `intervalMs`. Media-synchronised features (watch-party playback, auction countdowns, events at
 * their media time) read {@link ClockSync.now}.
 */
import { TypedEmitter } from './TypedEmitter';

/** What the clock needs from the connection: one ping. */
export type PingFn = (clientTime: number) => Promise<{ serverTime: number }>;

/** One measurement. */
export interface ClockSample {
  /** Server clock minus local clock (ms). */
  offsetMs: number;
  /** Round trip of the ping (ms). */
  rttMs: number;
  /** Local time of the sample (ms since the epoch). */
  at: number;
}

/** Events of {@link ClockSync}. */
export interface ClockSyncEvents {
  /** The estimate changed (after each sample). */
  update: { offsetMs: number; rttMs: number };
  /** The first burst after a connection completed. */
  synced: { offsetMs: number; rttMs: number };
}

/** Options of {@link ClockSync}. */
export interface ClockSyncOptions {
  /** Pings in the burst after each connection (default 6). */
  burst?: number;
  /** Gap between burst pings (ms, default 40). */
  burstGapMs?: number;
  /** Interval of the background pings (ms, default 15 000; 0 = none). */
  intervalMs?: number;
  /** Samples considered (default 12). */
  window?: number;
}

/** Local wall clock with sub-millisecond resolution that never jumps with NTP adjustments of the OS. */
function localNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The node's clock. */
export class ClockSync extends TypedEmitter<ClockSyncEvents> {
  readonly #options: Required<ClockSyncOptions>;
  #samples: ClockSample[] = [];
  #best: ClockSample | undefined;
  #ping: PingFn | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #generation = 0;
  #synced = false;
  #closed = false;

  constructor(options: ClockSyncOptions = {}) {
    super();
    this.#options = { burst: 6, burstGapMs: 40, intervalMs: 15_000, window: 12, ...options };
  }

  /** Server clock minus local clock (ms); 0 before the first sample. */
  get offsetMs(): number {
    return this.#best?.offsetMs ?? 0;
  }

  /** Round trip of the sample the estimate comes from (ms); NaN before the first. */
  get rttMs(): number {
    return this.#best?.rttMs ?? Number.NaN;
  }

  /** Bound on the estimate's error: half the best round trip (ms); Infinity before the first sample. */
  get uncertaintyMs(): number {
    return this.#best ? this.#best.rttMs / 2 : Number.POSITIVE_INFINITY;
  }

  /** True once a burst completed on the current or an earlier connection. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The node's current time (ms since the epoch, fractional). */
  now(): number {
    return localNow() + this.offsetMs;
  }

  /** Converts a server time (ms) to this browser's local wall clock (ms). */
  toLocal(serverTime: number): number {
    return serverTime - this.offsetMs;
  }

  /** Resolves once synced (at once when already). */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.once('synced', () => resolve()));
  }

  /** Takes `count` samples now (default: a burst). */
  async sync(count = this.#options.burst): Promise<void> {
    const ping = this.#ping;
    const generation = this.#generation;
    if (!ping) return;
    for (let i = 0; i < count; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, this.#options.burstGapMs));
      if (generation !== this.#generation || this.#closed) return;
      await this.#sample(ping).catch(() => undefined);
    }
  }

  /** @internal Starts sampling over a new connection. */
  _attach(ping: PingFn): void {
    if (this.#closed) return;
    this.#generation++;
    this.#ping = ping;
    clearInterval(this.#timer);
    const generation = this.#generation;
    void this.sync().then(() => {
      if (generation !== this.#generation || this.#closed || !this.#best) return;
      const first = !this.#synced;
      this.#synced = true;
      if (first) this.emit('synced', { offsetMs: this.offsetMs, rttMs: this.rttMs });
    });
    if (this.#options.intervalMs > 0) this.#timer = setInterval(() => void this.sync(2), this.#options.intervalMs);
  }

  /** @internal The connection is gone; keep the estimate, stop sampling. */
  _detach(): void {
    this.#generation++;
    this.#ping = undefined;
    clearInterval(this.#timer);
  }

  /** @internal Stops for good. */
  _close(): void {
    this._detach();
    this.#closed = true;
    this.removeAllListeners();
  }

  async #sample(ping: PingFn): Promise<void> {
    const t0 = localNow();
    const { serverTime } = await ping(Math.round(t0));
    const t1 = localNow();
    const sample: ClockSample = { offsetMs: serverTime - (t0 + t1) / 2, rttMs: t1 - t0, at: t1 };
    this.#samples.push(sample);
    if (this.#samples.length > this.#options.window) this.#samples.shift();
    this.#best = this.#samples.reduce((a, b) => (b.rttMs < a.rttMs ? b : a));
    this.emit('update', { offsetMs: this.offsetMs, rttMs: this.rttMs });
  }
}
