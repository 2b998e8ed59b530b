/**
 * The figures of one stream on one delivery path over time: per-second buckets of what viewers
 * reported, the five figures over a trailing window, and a ring of one plotted point per second
 * for the dashboard. Column arrays keep a 300-point history at a few KiB per series.
 */
import { PointRing } from './PointRing';

/** What one report (or CMCD request) adds to a stream's path, already validated and clamped. */
export interface QoeSample {
  /** Playing or stalled time covered (ms). */
  watchMs: number;
  /** Part of it stalled (ms). */
  stallMs: number;
  /** Stalls that began. */
  stalls: number;
  /** Media bytes received. */
  bytes: number;
  /** Time to first frame, once per session (ms). */
  startupMs?: number;
  /** Latency estimate (ms). */
  latencyMs?: number;
  /** A session began with this sample. */
  started?: boolean;
  /** The session failed with this sample. */
  failed?: boolean;
}

/** The five figures over the window (null: no data in the window). */
export interface QoeFigures {
  /** Mean time to first frame of sessions that started in the session window (ms). */
  startupMs: number | null;
  /** Stalled time / watched time. */
  rebufferRatio: number | null;
  /** Media bits / watched time (kbps). */
  bitrateKbps: number | null;
  /** Mean reported latency (ms). */
  latencyMs: number | null;
  /** Failed sessions / session attempts in the session window. */
  failureRate: number | null;
}

/** Columns of a plotted point, in the order the dashboard API sends them. */
export const POINT_COLUMNS = ['t', 'startupMs', 'rebufferRatio', 'bitrateKbps', 'latencyMs', 'failureRate', 'viewers'] as const;

const FIELDS = 11;
const [WATCH, STALL, STALLS, BYTES, STARTUP_SUM, STARTUP_N, LATENCY_SUM, LATENCY_N, STARTED, FAILED, SEC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
const ALL_FIELDS = [WATCH, STALL, STALLS, BYTES, STARTUP_SUM, STARTUP_N, LATENCY_SUM, LATENCY_N, STARTED, FAILED];
/** What counts beyond the short window, up to the session window. */
const SESSION_FIELDS = [STARTUP_SUM, STARTUP_N, STARTED, FAILED];

/** One stream's figures on one path. */
export class QoeSeries {
  readonly #window: number;
  readonly #sessionWindow: number;
  readonly #ring: number;
  /** Ring of per-second buckets: FIELDS numbers each, the last one being the bucket's second. */
  readonly #buckets: Float64Array;
  /** Plotted points, one column per {@link POINT_COLUMNS} entry. */
  readonly #points: PointRing;
  /** Sessions counted in the window (attempts), for alert minimums. */
  #windowSessions = 0;
  #latest: QoeFigures = { startupMs: null, rebufferRatio: null, bitrateKbps: null, latencyMs: null, failureRate: null };
  /** Unix second of the last data added (for idle eviction). */
  lastDataSec = 0;

  /**
   * `windowSeconds`: trailing window of the continuous figures (rebuffering, bitrate, latency);
   * `sessionWindowSeconds`: of the per-session ones (startup, failures), which are sparse;
   * `historySeconds`: plotted points kept.
   */
  constructor(windowSeconds: number, historySeconds: number, sessionWindowSeconds = windowSeconds) {
    this.#window = windowSeconds;
    this.#sessionWindow = Math.max(windowSeconds, sessionWindowSeconds);
    this.#ring = this.#sessionWindow + 1;
    this.#buckets = new Float64Array(this.#ring * FIELDS).fill(-1);
    this.#points = new PointRing(POINT_COLUMNS.length, historySeconds);
  }

  /** Adds a sample to the bucket of `nowMs`. */
  add(sample: QoeSample, nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    const b = this.#bucket(sec);
    const a = this.#buckets;
    a[b + WATCH]! += sample.watchMs;
    a[b + STALL]! += sample.stallMs;
    a[b + STALLS]! += sample.stalls;
    a[b + BYTES]! += sample.bytes;
    if (sample.startupMs !== undefined) {
      a[b + STARTUP_SUM]! += sample.startupMs;
      a[b + STARTUP_N]! += 1;
    }
    if (sample.latencyMs !== undefined) {
      a[b + LATENCY_SUM]! += sample.latencyMs;
      a[b + LATENCY_N]! += 1;
    }
    if (sample.started) a[b + STARTED]! += 1;
    if (sample.failed) a[b + FAILED]! += 1;
    this.lastDataSec = sec;
  }

  /** Computes the figures over the window ending at `nowMs` and appends a plotted point. */
  tick(nowMs: number, viewers: number): QoeFigures {
    const sec = Math.floor(nowMs / 1000);
    const sums = new Float64Array(FIELDS);
    const a = this.#buckets;
    for (let i = 0; i < this.#ring; i++) {
      const b = i * FIELDS;
      const s = a[b + SEC]!;
      if (s <= sec - this.#sessionWindow || s > sec) continue;
      for (const f of s > sec - this.#window ? ALL_FIELDS : SESSION_FIELDS) sums[f]! += a[b + f]!;
    }
    const attempts = Math.max(sums[STARTED]!, sums[FAILED]!);
    const figures: QoeFigures = {
      startupMs: sums[STARTUP_N]! > 0 ? sums[STARTUP_SUM]! / sums[STARTUP_N]! : null,
      rebufferRatio: sums[WATCH]! > 0 ? Math.min(1, sums[STALL]! / sums[WATCH]!) : null,
      bitrateKbps: sums[WATCH]! > 0 ? (sums[BYTES]! * 8) / sums[WATCH]! : null,
      latencyMs: sums[LATENCY_N]! > 0 ? sums[LATENCY_SUM]! / sums[LATENCY_N]! : null,
      failureRate: attempts > 0 ? sums[FAILED]! / attempts : null,
    };
    this.#latest = figures;
    this.#windowSessions = attempts;
    this.#points.push([sec, figures.startupMs, figures.rebufferRatio, figures.bitrateKbps, figures.latencyMs, figures.failureRate, viewers]);
    return figures;
  }

  /** Figures of the last tick. */
  get figures(): QoeFigures {
    return this.#latest;
  }

  /** Session attempts in the session window at the last tick. */
  get windowSessions(): number {
    return this.#windowSessions;
  }

  /** Plotted points newer than unix second `sinceSec`, oldest first, as arrays in {@link POINT_COLUMNS} order (null for no data). */
  points(sinceSec = 0): Array<Array<number | null>> {
    return this.#points.since(sinceSec);
  }

  #bucket(sec: number): number {
    const b = (sec % this.#ring) * FIELDS;
    const a = this.#buckets;
    if (a[b + SEC] !== sec) {
      a.fill(0, b, b + SEC);
      a[b + SEC] = sec;
    }
    return b;
  }
}
