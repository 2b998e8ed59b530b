/**
 * The decision logic of the audience-shaped ladder, pure and clock-free: from a stream's current
 * rungs, its configured ladder and what its viewers did in the last minutes (which rung they
 * requested, what throughput they measured), decide at most one change — drop a rung nobody
 * plays, restore a dropped rung or a lowered top rung when demand returns, lower the top rung
 * when nobody can sustain it, add a rung for a cluster of viewers stranded far between two rungs
 * — or none, and say why. Hysteresis: one change per `minChangeIntervalMs`, a rung keeps its
 * state for `minDwellMs` (longer for a rung that flapped: restored, then dropped unplayed), a viewer "sustains" a bitrate only with `headroom`, clusters need
 * `minViewers` and a `gapRatio`. The lowest configured rung (the floor, every player's fallback,
 * encoded with the audio) is never touched. docs/abr-ladder.md describes the policy.
 */
import type { LadderAdaptationConfig } from './ladderConfig';

/** One video rung as the policy sees it. */
export interface Rung {
  /** Rendition name (path segment). */
  name: string;
  /** Video bitrate (kbps). */
  kbps: number;
  /** Encoded height (px); undefined = the source's. */
  height?: number;
  /** Passes the source through (cannot be retuned). */
  copySource: boolean;
  /** The configured rung it derives from (added rungs: none). */
  configName?: string;
}

/** One viewer seen in the window. */
export interface Viewer {
  /** Session id (CMCD `sid`). */
  id: string;
  /** Measured throughput (kbps), e.g. the median of its recent CMCD `mtp`. */
  throughputKbps: number;
}

/** Everything a decision depends on. */
export interface PolicyInput {
  now: number;
  config: Pick<
    LadderAdaptationConfig,
    'dropAfterMs' | 'minDwellMs' | 'minChangeIntervalMs' | 'headroom' | 'gapRatio' | 'minViewers' | 'minRungs' | 'maxRungs' | 'allowedKbps' | 'allowedHeights'
  >;
  /** The configured ladder (`hls.renditions`). */
  configured: readonly Rung[];
  /** The rungs in the ladder now. */
  current: readonly Rung[];
  /** Name of the floor rung (never dropped or retuned). */
  floor: string;
  /** When the ladder started (ms). */
  startedAt: number;
  /** When the ladder last changed (ms); undefined = never. */
  lastChangeAt?: number;
  /** When each rung name last changed state (added, dropped, lowered, restored; ms). */
  changedAt: Readonly<Record<string, number>>;
  /**
   * Multiplies `minDwellMs` per rung name (default 1): the ladder doubles it for a rung that was
   * restored or added and then dropped again without a request, so it cannot flap.
   */
  dwellFactor?: Readonly<Record<string, number>>;
  /** When each current rung was last requested by a player (ms); absent = never. */
  lastRequestAt: Readonly<Record<string, number>>;
  /** Viewers with throughput reports in the window. */
  viewers: readonly Viewer[];
}

/** What a decision does. */
export type LadderAction = 'none' | 'drop' | 'restore' | 'lower' | 'add';

/** A decision: the ladder after it and why. */
export interface LadderDecision {
  action: LadderAction;
  /** The rung dropped, restored, lowered (its new form) or added. */
  rung?: Rung;
  /** For `lower` and a restore of a lowered rung: the rung it replaces. */
  replaces?: Rung;
  /** The rungs after the decision (highest bitrate first); equal to the input's when `none`. */
  after: Rung[];
  /** Why, in words (shown in the API and the webhook). */
  reason: string;
}

const byKbpsDesc = (a: Rung, b: Rung) => b.kbps - a.kbps;

/** The largest allowed bitrate at or below `kbps`; undefined when none is. */
export function snapDownKbps(kbps: number, allowed: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const a of allowed) if (a <= kbps && (best === undefined || a > best)) best = a;
  return best;
}

/**
 * The height of a rung of `kbps` between a lower and an upper rung: scaled from the lower rung's
 * height by √(bitrate ratio) (pixels grow with bitrate), kept between the neighbours' heights and
 * snapped to the nearest allowed height.
 */
export function heightFor(kbps: number, lower: Rung | undefined, upper: Rung | undefined, allowed: readonly number[]): number | undefined {
  const lo = lower?.height ?? 144;
  const hi = upper?.height ?? 1080;
  const wanted = lower ? lo * Math.sqrt(kbps / lower.kbps) : lo;
  const within = allowed.filter((h) => h >= lo && h <= hi);
  const pool = within.length > 0 ? within : allowed;
  let best: number | undefined;
  for (const h of pool) if (best === undefined || Math.abs(h - wanted) < Math.abs(best - wanted)) best = h;
  return best;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summary(r: Rung): string {
  return `${r.name} (${r.kbps} kbps${r.height ? `, ${r.height}p` : ''})`;
}

/** Decides the ladder's next change (at most one), or none with the reason. */
export function decideLadder(input: PolicyInput): LadderDecision {
  const { now, config: c } = input;
  const current = [...input.current].sort(byKbpsDesc);
  const none = (reason: string): LadderDecision => ({ action: 'none', after: current, reason });
  if (input.lastChangeAt !== undefined && now - input.lastChangeAt < c.minChangeIntervalMs) return none('the ladder changed less than minChangeIntervalMs ago');
  const settled = (name: string) => {
    const at = input.changedAt[name];
    return at === undefined || now - at >= c.minDwellMs * (input.dwellFactor?.[name] ?? 1);
  };
  const sustains = input.viewers.map((v) => v.throughputKbps / c.headroom);
  const videoCount = current.length;
  const replace = (old: Rung, rung: Rung, action: LadderAction, reason: string): LadderDecision => ({
    action,
    rung,
    replaces: old,
    after: current.map((r) => (r === old ? rung : r)).sort(byKbpsDesc),
    reason,
  });

  // 1. Demand returns: a lowered rung goes back up, a dropped configured rung comes back.
  for (const r of current) {
    const cfg = input.configured.find((x) => x.name === r.configName);
    if (!cfg || r.name === cfg.name || r.kbps >= cfg.kbps || !settled(r.name)) continue;
    const able = sustains.filter((s) => s >= r.kbps * 1.25);
    if (able.length < c.minViewers) continue;
    const target = Math.min(cfg.kbps, snapDownKbps(median(able), c.allowedKbps) ?? cfg.kbps);
    if (target < r.kbps * 1.25 && target !== cfg.kbps) continue;
    const rung: Rung = target === cfg.kbps ? { ...cfg } : { ...r, name: `${cfg.name}-${target}k`, kbps: target };
    return replace(r, rung, 'restore', `${able.length} viewer(s) sustain ≥ ${Math.round(r.kbps * 1.25)} kbps again: ${summary(r)} back up to ${summary(rung)}`);
  }
  for (const cfg of [...input.configured].sort(byKbpsDesc)) {
    if (current.some((r) => r.configName === cfg.name) || !settled(cfg.name)) continue;
    if (videoCount >= c.maxRungs) break;
    // Viewers for whom this rung is the best of the configured ladder and better than anything they have now.
    const bestNow = (s: number) => current.filter((r) => r.kbps <= s).reduce((m, r) => Math.max(m, r.kbps), 0);
    const wanting = sustains.filter((s) => s >= cfg.kbps && bestNow(s) < cfg.kbps);
    if (wanting.length < c.minViewers) continue;
    const rung = { ...cfg };
    return {
      action: 'restore',
      rung,
      after: [...current, rung].sort(byKbpsDesc),
      reason: `${wanting.length} viewer(s) sustain ${summary(cfg)} and play less: restored`,
    };
  }

  // 2. Drop a rung nobody requested for dropAfterMs (the highest first: it saves the most).
  if (videoCount > c.minRungs) {
    for (const r of current) {
      if (r.name === input.floor || !settled(r.name)) continue;
      const since = Math.max(input.lastRequestAt[r.name] ?? 0, input.changedAt[r.name] ?? 0, input.startedAt);
      if (now - since < c.dropAfterMs) continue;
      return {
        action: 'drop',
        rung: r,
        after: current.filter((x) => x !== r),
        reason: `no player requested ${summary(r)} for ${Math.round((now - since) / 1000)} s (dropAfterMs ${c.dropAfterMs})`,
      };
    }
  }

  // 3. Lower the top rung when nobody can sustain it.
  const top = current[0];
  if (top && top.name !== input.floor && !top.copySource && settled(top.name) && sustains.length >= c.minViewers) {
    const best = Math.max(...sustains);
    const next = current[1];
    if (best < top.kbps) {
      const target = snapDownKbps(best, c.allowedKbps);
      if (target !== undefined && target < top.kbps && (!next || target >= next.kbps * 1.2)) {
        const base = top.configName ?? top.name;
        const rung: Rung = { ...top, name: `${base}-${target}k`, kbps: target, configName: top.configName };
        return replace(
          top,
          rung,
          'lower',
          `none of ${sustains.length} viewer(s) sustains ${summary(top)} (best ${Math.round(best)} kbps): lowered to ${target} kbps`,
        );
      }
    }
  }

  // 4. Add a rung for a cluster of viewers far between two rungs.
  for (let i = 0; i < current.length; i++) {
    const upper = i === 0 ? undefined : current[i - 1];
    const lower = current[i]!;
    const cluster = sustains.filter((s) => s >= lower.kbps * c.gapRatio && (!upper || s < upper.kbps));
    if (cluster.length < c.minViewers) continue;
    if (!upper) continue; // above the top rung: a restore or the configured ladder's business
    // A dropped configured rung in this gap is restored (or held back by its dwell), not replaced.
    if (input.configured.some((cfg) => cfg.kbps > lower.kbps && cfg.kbps < upper.kbps && !current.some((r) => r.configName === cfg.name))) continue;
    const target = snapDownKbps(median(cluster), c.allowedKbps);
    if (target === undefined || target < lower.kbps * 1.2 || target > upper.kbps / 1.2) continue;
    if (videoCount >= c.maxRungs) return none(`${cluster.length} viewer(s) sit between ${lower.name} and ${upper.name}, but the ladder has maxRungs`);
    const name = `a${target}k`;
    if (!settled(name)) continue;
    const rung: Rung = { name, kbps: target, height: heightFor(target, lower, upper, c.allowedHeights), copySource: false };
    return {
      action: 'add',
      rung,
      after: [...current, rung].sort(byKbpsDesc),
      reason: `${cluster.length} viewer(s) sustain ${Math.round(median(cluster))} kbps (median), far between ${summary(lower)} and ${summary(upper)}: added ${summary(rung)}`,
    };
  }
  return none('the ladder fits its audience');
}
