/**
 * A log-bucketed latency histogram (about 1 % relative precision, like a coarse HdrHistogram):
 * constant memory however many samples a run records, mergeable across seconds and clients.
 */

/** Relative width of a bucket: values within 1 % share a bucket. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Smallest resolved value (ms); smaller values land in bucket 0. */
const FLOOR_MS = 0.01;

/** A histogram of durations in milliseconds. */
export class LatencyHistogram {
  readonly #buckets = new Map<number, number>();
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Records one duration (ms); negative and non-finite values are ignored. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const index = ms <= FLOOR_MS ? 0 : Math.ceil(Math.log(ms / FLOOR_MS) / LOG_GROWTH);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds every sample of `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    for (const [i, n] of other.#buckets) this.#buckets.set(i, (this.#buckets.get(i) ?? 0) + n);
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }

  /** Number of samples. */
  get count(): number {
    return this.#count;
  }

  /** Mean (ms), NaN when empty. */
  get mean(): number {
    return this.#count ? this.#sum / this.#count : NaN;
  }

  /** Largest sample (ms), NaN when empty. */
  get max(): number {
    return this.#count ? this.#max : NaN;
  }

  /** Smallest sample (ms), NaN when empty. */
  get min(): number {
    return this.#count ? this.#min : NaN;
  }

  /** The p-th percentile (0–100) in ms, NaN when empty; exact at the extremes. */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    if (p <= 0) return this.#min;
    if (p >= 100) return this.#max;
    const rank = Math.ceil((p / 100) * this.#count);
    let seen = 0;
    for (const index of [...this.#buckets.keys()].sort((a, b) => a - b)) {
      seen += this.#buckets.get(index)!;
      if (seen >= rank) {
        const upper = index === 0 ? FLOOR_MS : FLOOR_MS * GROWTH ** index;
        return Math.min(this.#max, Math.max(this.#min, upper));
      }
    }
    return this.#max;
  }
}

/** The p-th percentile (0–100) of plain values by nearest rank; NaN when empty. */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Rounds to `digits` decimals, keeping NaN as null so results stay valid JSON. */
export function round(value: number, digits = 2): number | null {
  if (!Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
