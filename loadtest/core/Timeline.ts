/**
 * Per-second client-side measurements of a run: latency histograms and counters for each
 * second, plus run-wide totals, turned into the `timeline` of a result.
 */
import { LatencyHistogram } from './LatencyHistogram';
import type { TimelinePoint } from './result';

interface Slot {
  latency: LatencyHistogram;
  counters: Map<string, number>;
  gauges: Map<string, number>;
}

/** A per-second recorder started at `t0` (ms epoch). */
export class Timeline {
  readonly t0: number;
  /** Every latency sample of the run. */
  readonly total = new LatencyHistogram();
  readonly #slots: Slot[] = [];
  readonly #totals = new Map<string, number>();

  constructor(t0 = Date.now()) {
    this.t0 = t0;
  }

  #slot(at: number): Slot {
    const i = Math.max(0, Math.floor((at - this.t0) / 1000));
    while (this.#slots.length <= i) this.#slots.push({ latency: new LatencyHistogram(), counters: new Map(), gauges: new Map() });
    return this.#slots[i]!;
  }

  /** Records a latency sample (ms) at time `at`. */
  latency(ms: number, at = Date.now()): void {
    this.#slot(at).latency.record(ms);
    this.total.record(ms);
  }

  /** Adds `n` to a counter in the current second and to the run total. */
  count(name: string, n = 1, at = Date.now()): void {
    const s = this.#slot(at);
    s.counters.set(name, (s.counters.get(name) ?? 0) + n);
    this.#totals.set(name, (this.#totals.get(name) ?? 0) + n);
  }

  /** Sets a gauge for the current second (last value wins). */
  gauge(name: string, value: number, at = Date.now()): void {
    this.#slot(at).gauges.set(name, value);
  }

  /** Run total of a counter. */
  totalOf(name: string): number {
    return this.#totals.get(name) ?? 0;
  }

  /**
   * One point per second: `p50/p95/p99` (ms) when latencies were recorded, every counter as a
   * per-second value, and every gauge. `upTo` (s) drops the trailing partial second.
   */
  points(upTo?: number): TimelinePoint[] {
    const n = upTo === undefined ? this.#slots.length : Math.min(this.#slots.length, Math.floor(upTo));
    const names = new Set<string>();
    const gauges = new Set<string>();
    for (const s of this.#slots) {
      for (const k of s.counters.keys()) names.add(k);
      for (const k of s.gauges.keys()) gauges.add(k);
    }
    const out: TimelinePoint[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.#slots[i]!;
      const p: TimelinePoint = { t: i + 1 };
      if (s.latency.count > 0) {
        p.p50 = r(s.latency.percentile(50));
        p.p95 = r(s.latency.percentile(95));
        p.p99 = r(s.latency.percentile(99));
      } else if (this.total.count > 0) {
        p.p50 = p.p95 = p.p99 = null;
      }
      for (const k of names) p[k] = s.counters.get(k) ?? 0;
      for (const k of gauges) p[k] = s.gauges.get(k) ?? null;
      out.push(p);
    }
    return out;
  }
}

function r(v: number): number | null {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : null;
}
