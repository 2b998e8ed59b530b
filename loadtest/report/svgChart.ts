/**
 * A small dependency-free SVG line chart: a few series over time, nice axis ticks, a legend.
 * Null values break a line (no data that second) instead of drawing it down to zero.
 */

/** One line of a chart. */
export interface ChartSeries {
  label: string;
  points: Array<[x: number, y: number | null]>;
  /** CSS colour; a palette colour by default. */
  color?: string;
  /** Draw dashed (secondary figures such as a limit). */
  dashed?: boolean;
}

/** Options of {@link lineChart}. */
export interface ChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Force the y axis to start at zero (default true). */
  yFromZero?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Renders an SVG document (a string) of the series. */
export function lineChart(series: ChartSeries[], options: ChartOptions): string {
  const W = options.width ?? 720;
  const H = options.height ?? 280;
  const m = { left: 64, right: 16, top: 34, bottom: 58 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x)) continue;
      xs.push(x);
      if (y !== null && Number.isFinite(y)) ys.push(y);
    }
  }
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  let yMin = ys.length ? Math.min(...ys) : 0;
  let yMax = ys.length ? Math.max(...ys) : 1;
  if (options.yFromZero ?? true) yMin = Math.min(0, yMin);
  if (yMax === yMin) yMax = yMin + 1;
  const yTicks = niceTicks(yMin, yMax, 5);
  yMin = Math.min(yMin, yTicks[0]!);
  yMax = Math.max(yMax, yTicks[yTicks.length - 1]!);
  const xTicks = niceTicks(xMin, xMax === xMin ? xMin + 1 : xMax, 8);
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const sy = (y: number) => m.top + ph - ((y - yMin) / (yMax - yMin || 1)) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(options.title)}</text>`);
  for (const t of yTicks) {
    if (t < yMin || t > yMax) continue;
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    if (t < xMin || t > xMax) continue;
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#444"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (options.xLabel) out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 32}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  if (options.yLabel) {
    out.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`);
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const runs: string[] = [];
    let current: string[] = [];
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x)) continue;
      if (y === null || !Number.isFinite(y)) {
        if (current.length) runs.push(current.join(' '));
        current = [];
        continue;
      }
      current.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    }
    if (current.length) runs.push(current.join(' '));
    for (const run of runs) {
      const pts = run.split(' ');
      if (pts.length === 1) {
        const [cx, cy] = pts[0]!.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="2" fill="${color}"/>`);
      } else {
        out.push(`<polyline points="${run}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
      }
    }
  });
  // Legend under the plot, left to right.
  let lx = m.left;
  const ly = H - 10;
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text x="${lx + 22}" y="${ly}">${esc(s.label)}</text>`);
    lx += 30 + s.label.length * 6.2;
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min || Math.abs(max) || 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  if (ticks[ticks.length - 1]! < max) ticks.push(ticks[ticks.length - 1]! + step);
  return ticks;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return String(+v.toFixed(2));
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
