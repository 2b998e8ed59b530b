/** Rounds a plotted value to 4 decimals (1 decimal from 100 on) so the dashboard JSON stays small. */
export function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v * 10) / 10 : Math.round(v * 10_000) / 10_000;
}
