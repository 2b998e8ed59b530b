/**
 * `compare a.json b.json`: a verdict per headline figure (b relative to a: better, worse, or
 * same within the noise tolerance), an overall verdict, and warnings when the two runs are not
 * comparable (other scenario, other options, a much busier machine).
 */
import fs from 'node:fs';
import { RESULT_SCHEMA, type Figure, type LoadResult } from '../core/result';
import { UsageError } from '../core/safety';
import { formatValue } from './markdownReport';

/** Verdict on one figure. */
export type Verdict = 'better' | 'worse' | 'same' | 'info' | 'n/a';

/** One row of a comparison. */
export interface ComparisonRow {
  key: string;
  label: string;
  unit: string;
  a: number | null;
  b: number | null;
  /** (b − a) / |a| in %, null when undefined. */
  changePct: number | null;
  verdict: Verdict;
}

/** A comparison of two results. */
export interface Comparison {
  scenario: string;
  rows: ComparisonRow[];
  overall: 'better' | 'worse' | 'same' | 'mixed';
  warnings: string[];
}

/** Reads and checks a results file. */
export function readResult(file: string): LoadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const r = raw as Partial<LoadResult>;
  if (r?.schema !== RESULT_SCHEMA || typeof r.figures !== 'object' || r.figures === null) {
    throw new UsageError(`${file} is not a loadtest result (${RESULT_SCHEMA})`);
  }
  return r as LoadResult;
}

function judge(f: Figure, a: number | null, b: number | null, threshold: number): Verdict {
  if (a === null || b === null) return 'n/a';
  if (f.better === 'none') return 'info';
  const tolerance = f.tolerance ?? threshold;
  const scale = Math.abs(a);
  // Around zero (0 errors vs 0 errors, 0 % loss) a relative change means nothing: compare absolutely.
  const change = scale < 1e-9 ? (Math.abs(b) < 1e-9 ? 0 : Math.sign(b) * Infinity) : (b - a) / scale;
  if (Math.abs(change) <= tolerance) return 'same';
  const up = change > 0;
  return (f.better === 'higher') === up ? 'better' : 'worse';
}

/** Compares result `b` against baseline `a`. `threshold` is the default relative tolerance (0.1 = 10 %). */
export function compareResults(a: LoadResult, b: LoadResult, threshold = 0.1): Comparison {
  const warnings: string[] = [];
  if (a.scenario !== b.scenario) warnings.push(`different scenarios (${a.scenario} vs ${b.scenario}): only shared figures are compared`);
  const optsA = JSON.stringify(a.options);
  const optsB = JSON.stringify(b.options);
  if (optsA !== optsB) warnings.push(`options differ: ${optsA} vs ${optsB}`);
  const loadA = a.environment?.loadavgStart?.[0];
  const loadB = b.environment?.loadavgStart?.[0];
  if (loadA !== undefined && loadB !== undefined && Math.abs(loadA - loadB) > Math.max(1, 0.5 * (a.environment.cpus ?? 1))) {
    warnings.push(`the machine's load differed (1-min load average ${loadA} vs ${loadB}): differences may be the neighbours, not the code`);
  }
  if (a.environment?.cpus !== b.environment?.cpus || a.environment?.cpuModel !== b.environment?.cpuModel) {
    warnings.push('the runs come from different machines');
  }
  const rows: ComparisonRow[] = [];
  for (const [key, fa] of Object.entries(a.figures)) {
    const fb = b.figures[key];
    if (!fb) continue;
    const va = fa.value;
    const vb = fb.value;
    const changePct = va === null || vb === null || Math.abs(va) < 1e-9 ? null : Math.round(((vb - va) / Math.abs(va)) * 1000) / 10;
    rows.push({ key, label: fa.label, unit: fa.unit, a: va, b: vb, changePct, verdict: judge(fa, va, vb, threshold) });
  }
  const worse = rows.some((r) => r.verdict === 'worse');
  const better = rows.some((r) => r.verdict === 'better');
  const overall = worse && better ? 'mixed' : worse ? 'worse' : better ? 'better' : 'same';
  return { scenario: b.scenario, rows, overall, warnings };
}

/** The comparison as a Markdown table with warnings. */
export function comparisonMarkdown(c: Comparison, nameA: string, nameB: string): string {
  const lines = [`# Compare \`${c.scenario}\`: ${nameB} against ${nameA}`, ''];
  lines.push('| Figure | A | B | Change | Verdict |', '|---|---:|---:|---:|---|');
  for (const r of c.rows) {
    const change = r.changePct === null ? '' : `${r.changePct > 0 ? '+' : ''}${r.changePct} %`;
    const mark = r.verdict === 'worse' ? '**worse**' : r.verdict;
    lines.push(`| ${r.label} | ${formatValue({ value: r.a, unit: r.unit })} | ${formatValue({ value: r.b, unit: r.unit })} | ${change} | ${mark} |`);
  }
  lines.push('', `Overall: **${c.overall}**`);
  for (const w of c.warnings) lines.push(`- warning: ${w}`);
  return lines.join('\n') + '\n';
}
