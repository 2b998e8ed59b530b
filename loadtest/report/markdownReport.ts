/**
 * Writes a run's report: `report.md` with the headline figures, the conditions of the run and
 * SVG charts beside it (latency percentiles over time, the scenario's throughput charts, server
 * CPU and memory from `/metrics`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ChartSpec, Figure, LoadResult } from '../core/result';
import { lineChart, type ChartSeries } from './svgChart';

/** Charts every report has when the data exists. */
const STANDARD_CHARTS: ChartSpec[] = [
  {
    id: 'latency',
    title: 'Latency percentiles per second',
    yLabel: 'ms',
    series: [
      { key: 'p50', label: 'p50', from: 'timeline' },
      { key: 'p95', label: 'p95', from: 'timeline' },
      { key: 'p99', label: 'p99', from: 'timeline' },
    ],
  },
  {
    id: 'server-cpu',
    title: 'Server CPU (from /metrics)',
    yLabel: '% of one core',
    series: [
      { key: 'nodeCpuPct', label: 'node process', from: 'server' },
      { key: 'workerCpuPct', label: 'mediasoup workers', from: 'server' },
      { key: 'totalCpuPct', label: 'whole process tree (/proc)', from: 'server' },
    ],
  },
  {
    id: 'server-memory',
    title: 'Server memory',
    yLabel: 'MB',
    series: [
      { key: 'rssMb', label: 'node RSS', from: 'server' },
      { key: 'totalRssMb', label: 'node + workers RSS (/proc)', from: 'server' },
    ],
  },
];

/** Formats a figure's value for tables. */
export function formatValue(f: Pick<Figure, 'value' | 'unit'>): string {
  if (f.value === null) return 'n/a';
  const v = f.value;
  const abs = Math.abs(v);
  const s = Number.isInteger(v)
    ? v.toLocaleString('en-US')
    : abs >= 1000
      ? Math.round(v).toLocaleString('en-US')
      : abs >= 100
        ? v.toFixed(0)
        : abs >= 10
          ? v.toFixed(1)
          : v.toFixed(2);
  return f.unit === 'count' ? s : `${s} ${f.unit}`;
}

function seriesOf(result: LoadResult, spec: ChartSpec): ChartSeries[] {
  const out: ChartSeries[] = [];
  for (const s of spec.series) {
    const rows = s.from === 'timeline' ? result.timeline : result.server;
    const xKey = spec.x?.key ?? 't';
    const points = rows.map((r) => [Number(r[xKey] ?? NaN), typeof r[s.key] === 'number' ? (r[s.key] as number) : null] as [number, number | null]);
    if (spec.x) points.sort((a, b) => a[0] - b[0]);
    if (points.some(([x, y]) => y !== null && Number.isFinite(x))) out.push({ label: s.label, points });
  }
  return out;
}

/** Writes report.md and its SVG charts into `dir`; returns the report's path. */
export function writeReport(result: LoadResult, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const charts: Array<{ file: string; title: string }> = [];
  for (const spec of [...STANDARD_CHARTS.slice(0, 1), ...result.charts, ...STANDARD_CHARTS.slice(1)]) {
    const series = seriesOf(result, spec);
    if (series.length === 0) continue;
    const file = `${spec.id}.svg`;
    fs.writeFileSync(path.join(dir, file), lineChart(series, { title: spec.title, xLabel: spec.x?.label ?? 'seconds since start', yLabel: spec.yLabel }));
    charts.push({ file, title: spec.title });
  }
  const env = result.environment;
  const lines: string[] = [];
  lines.push(`# Load test: \`${result.scenario}\``, '');
  lines.push(
    `${result.startedAt} · ${result.durationS.toFixed(1)} s · target ${result.target.local ? 'a local node started by the tool' : result.target.url}`,
    '',
  );
  lines.push('## Figures', '');
  lines.push('| Figure | Value | Better |', '|---|---:|---|');
  for (const f of Object.values(result.figures)) lines.push(`| ${f.label} | ${formatValue(f)} | ${f.better === 'none' ? '' : f.better} |`);
  lines.push('');
  if (result.notes.length) {
    lines.push('## Notes', '');
    for (const n of result.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  if (charts.length) {
    lines.push('## Charts', '');
    for (const c of charts) lines.push(`![${c.title}](${c.file})`, '');
  }
  lines.push('## Conditions', '');
  lines.push(`- Machine: ${env.host}, ${env.cpus} × ${env.cpuModel}, ${env.memoryGb} GB, ${env.platform}, Node ${env.nodeVersion}`);
  lines.push(
    `- Load average (1/5/15 min): ${env.loadavgStart.join(' / ')} at start, ${env.loadavgEnd.join(' / ')} at end` +
      (Math.max(env.loadavgStart[0] ?? 0, env.loadavgEnd[0] ?? 0) > env.cpus * 0.5
        ? ' — **the machine was busy; compare only with runs under similar load**'
        : ''),
  );
  lines.push(`- Code: ${env.commit ?? 'unknown'}`);
  lines.push(`- Options: \`${JSON.stringify(result.options)}\``);
  lines.push('- Load generator and node share the machine unless the target is remote: client CPU limits the figures too.');
  lines.push('');
  const file = path.join(dir, 'report.md');
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}
