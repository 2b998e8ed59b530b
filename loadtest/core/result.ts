/**
 * The results file every scenario writes (`result.json`): headline figures with units and a
 * direction (what `compare` judges), per-second timelines (what the report plots), server
 * samples scraped from `/metrics`, and the conditions of the run (machine, load, options).
 */
import os from 'node:os';
import { execFileSync } from 'node:child_process';

/** Version tag of the results format; `compare` refuses other majors. */
export const RESULT_SCHEMA = 'subsec-loadtest/1';

/** Which way a figure improves; `none` figures are shown but never judged. */
export type Better = 'higher' | 'lower' | 'none';

/** One headline figure. */
export interface Figure {
  /** The value; null when it could not be measured (e.g. no samples). */
  value: number | null;
  /** Unit as printed: `ms`, `req/s`, `%`, `kbps`, `count`… */
  unit: string;
  better: Better;
  /** Human label for tables. */
  label: string;
  /**
   * Relative change (0.1 = 10 %) below which `compare` calls two values the same; defaults to
   * the compare threshold. Noisy figures (CPU on a shared box) set a wider one.
   */
  tolerance?: number;
}

/** A per-second point of a timeline: seconds since the start and named values. */
export interface TimelinePoint {
  t: number;
  [series: string]: number | null;
}

/** One `/metrics` sample turned into rates between scrapes. */
export interface ServerSample {
  t: number;
  /** CPU of the node process (its JS thread and libuv threads), % of one core. */
  nodeCpuPct: number | null;
  /** CPU of all mediasoup workers together, % of one core. */
  workerCpuPct: number | null;
  /** Resident memory of the node process (MB). */
  rssMb: number | null;
  /** Resident memory of node + workers from /proc (MB; only for a node the tool started). */
  totalRssMb?: number | null;
  /** Any other gauges the scenario asked for (consumers, sockets…). */
  [gauge: string]: number | null | undefined;
}

/** Where and under what conditions a run happened. */
export interface RunEnvironment {
  host: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  nodeVersion: string;
  platform: string;
  /** Load averages (1, 5, 15 min) when the run started and ended: the box is shared. */
  loadavgStart: number[];
  loadavgEnd: number[];
  /** `git describe` of the working tree, when available. */
  commit: string | null;
}

/** A chart the report draws: series of the timeline or of the server samples. */
export interface ChartSpec {
  /** File name stem of the SVG (`latency` → latency.svg). */
  id: string;
  title: string;
  yLabel: string;
  series: Array<{ key: string; label: string; from: 'timeline' | 'server' }>;
  /** Timeline key for the x axis instead of time (e.g. `consumers`), with its label. */
  x?: { key: string; label: string };
}

/** A scenario's results. */
export interface LoadResult {
  schema: typeof RESULT_SCHEMA;
  scenario: string;
  startedAt: string;
  endedAt: string;
  /** Measured wall time (s). */
  durationS: number;
  target: { url: string; local: boolean };
  /** Options the scenario ran with (after defaults). */
  options: Record<string, unknown>;
  environment: RunEnvironment;
  figures: Record<string, Figure>;
  /** Per-second client-side measurements; keys described by `series`. */
  timeline: TimelinePoint[];
  /** Labels and units of timeline series, for the report. */
  series: Record<string, { label: string; unit: string }>;
  server: ServerSample[];
  /** Charts of this scenario besides the standard ones (latency, server CPU, memory). */
  charts: ChartSpec[];
  /** Things a reader must know (skipped steps, caveats, warnings). */
  notes: string[];
}

/** Describes this machine and its current load. */
export function describeEnvironment(): RunEnvironment {
  const cpus = os.cpus();
  return {
    host: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    nodeVersion: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavgStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    loadavgEnd: [],
    commit: gitDescribe(),
  };
}

function gitDescribe(): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** A figure with the given fields (helper for scenarios). */
export function figure(label: string, value: number | null, unit: string, better: Better, tolerance?: number): Figure {
  return {
    label,
    value: value === null || !Number.isFinite(value) ? null : Math.round(value * 1000) / 1000,
    unit,
    better,
    ...(tolerance !== undefined ? { tolerance } : {}),
  };
}
