/**
 * Scrapes the node's `/metrics` during a run and turns counters into rates: node CPU, mediasoup
 * worker CPU, resident memory and any gauges a scenario names. Scraping has a cost on the node
 * (RTP counters are sampled per producer/consumer at scrape time), so the interval is coarse.
 */
import type { ServerSample } from './result';
import type { Target } from './Target';

/**
 * Sums of every metric by name (labels summed away), and by name plus one label
 * (`subsec_rtp_packets_total{direction="out"}`) so a scenario can select a series.
 */
export type MetricSums = Map<string, number>;

/** Parses Prometheus text exposition into per-name and per-name-and-label sums. */
export function parsePrometheus(text: string): MetricSums {
  const sums: MetricSums = new Map();
  const add = (key: string, v: number) => sums.set(key, (sums.get(key) ?? 0) + v);
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    add(m[1]!, value);
    for (const pair of m[2]?.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) ?? []) {
      if (pair[1] !== 'node') add(`${m[1]}{${pair[1]}="${pair[2]}"}`, value);
    }
  }
  return sums;
}

/** Options of {@link MetricsScraper}. */
export interface MetricsScraperOptions {
  intervalMs?: number;
  /** Extra gauges to record: sample key → metric name, optionally with one label (`name{label="value"}`). */
  gauges?: Record<string, string>;
  /** Counters to record as per-second rates: sample key → metric name. */
  rates?: Record<string, string>;
}

/** Periodic `/metrics` sampler. */
export class MetricsScraper {
  readonly samples: ServerSample[] = [];
  readonly #target: Target;
  readonly #options: Required<MetricsScraperOptions>;
  readonly #t0: number;
  #timer: NodeJS.Timeout | undefined;
  #last: { at: number; sums: MetricSums; treeCpu?: number } | undefined;
  #inFlight = false;
  #failures = 0;

  constructor(target: Target, t0: number, options: MetricsScraperOptions = {}) {
    this.#target = target;
    this.#t0 = t0;
    this.#options = { intervalMs: 2000, gauges: {}, rates: {}, ...options };
  }

  /** Scrapes failed (the node did not answer in time). */
  get failures(): number {
    return this.#failures;
  }

  /** Takes a first sample and starts the timer. */
  async start(): Promise<void> {
    await this.#scrape();
    this.#timer = setInterval(() => void this.#scrape(), this.#options.intervalMs);
  }

  /** Takes a last sample and stops. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#inFlight) await new Promise((r) => setTimeout(r, 20));
    await this.#scrape();
  }

  /** The latest raw sums (for scenarios that read a counter at the end). */
  get latest(): MetricSums | undefined {
    return this.#last?.sums;
  }

  async #scrape(): Promise<void> {
    if (this.#inFlight) return;
    this.#inFlight = true;
    try {
      const res = await fetch(`${this.#target.url}/metrics`, { signal: AbortSignal.timeout(Math.max(1500, this.#options.intervalMs)) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const sums = parsePrometheus(await res.text());
      const at = Date.now();
      const tree = this.#target.processStats();
      const prev = this.#last;
      this.#last = { at, sums, treeCpu: tree?.cpuSeconds };
      if (!prev) return;
      const dt = (at - prev.at) / 1000;
      if (dt <= 0) return;
      const rate = (name: string) => {
        const a = prev.sums.get(name);
        const b = sums.get(name);
        return a === undefined || b === undefined || b < a ? null : (b - a) / dt;
      };
      const pct = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 10);
      const rss = sums.get('process_resident_memory_bytes');
      const sample: ServerSample = {
        t: Math.round(((at - this.#t0) / 1000) * 10) / 10,
        nodeCpuPct: pct(rate('process_cpu_seconds_total')),
        workerCpuPct: pct(rate('subsec_worker_cpu_seconds')),
        rssMb: rss === undefined ? null : Math.round(rss / 2 ** 20),
      };
      if (tree) sample.totalRssMb = Math.round(tree.rssMb);
      if (tree && prev.treeCpu !== undefined) sample.totalCpuPct = Math.round(((tree.cpuSeconds - prev.treeCpu) / dt) * 1000) / 10;
      for (const [key, name] of Object.entries(this.#options.gauges)) sample[key] = sums.get(name) ?? null;
      for (const [key, name] of Object.entries(this.#options.rates)) {
        const r = rate(name);
        sample[key] = r === null ? null : Number(r.toPrecision(6));
      }
      this.samples.push(sample);
    } catch {
      this.#failures++;
    } finally {
      this.#inFlight = false;
    }
  }
}
