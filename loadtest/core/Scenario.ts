/** What a scenario declares and what it gets while it runs. */
import type { ParseArgsConfig } from 'node:util';
import type { LocalNodeOptions } from './LocalNode';
import type { ChartSpec, Figure, ServerSample } from './result';
import type { Target } from './Target';
import type { Timeline } from './Timeline';
import type { MetricsScraperOptions } from './MetricsScraper';

/** Options every scenario understands (after defaults and validation). */
export interface CommonOptions {
  /** Planned measurement time (s). */
  durationS: number;
  /** mediasoup workers of a node the tool starts. */
  workers: number;
  quiet: boolean;
}

/** What a scenario's `run` gets. */
export interface ScenarioContext {
  target: Target;
  common: CommonOptions;
  /** The scenario's own parsed options (strings/booleans as parseArgs gives them). */
  values: Record<string, string | boolean | undefined>;
  /** Per-second client measurements; its `t0` is the start of the measurement. */
  timeline: Timeline;
  /** Aborted on Ctrl-C: stop early and report what was measured. */
  signal: AbortSignal;
  /** Sets the progress bar's phase text. */
  phase(text: string): void;
  /** `/metrics` samples taken so far. */
  server(): readonly ServerSample[];
  /** Sets the progress bar's status line. */
  status(fn: () => string): void;
}

/** What a scenario returns. */
export interface ScenarioOutput {
  figures: Record<string, Figure>;
  /** Labels/units of the timeline series it recorded. */
  series: Record<string, { label: string; unit: string }>;
  charts: ChartSpec[];
  notes: string[];
  /** The options it actually used (recorded in the result). */
  options: Record<string, unknown>;
}

/** A load scenario. */
export interface Scenario {
  name: string;
  /** One line for `loadtest --help`. */
  summary: string;
  /** Help lines for its own options. */
  help: string[];
  options: NonNullable<ParseArgsConfig['options']>;
  /** What a local node must have for this scenario. */
  localNode(values: Record<string, string | boolean | undefined>, common: CommonOptions): LocalNodeOptions;
  /** Extra `/metrics` gauges/rates worth sampling. */
  scrape?: Pick<MetricsScraperOptions, 'gauges' | 'rates'>;
  run(ctx: ScenarioContext): Promise<ScenarioOutput>;
}
