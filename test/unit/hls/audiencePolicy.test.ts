/**
 * The audience-shaped ladder's decisions (src/hls/ladder/AudiencePolicy.ts): drops an unrequested
 * rung, lowers a top rung nobody sustains, restores both when demand returns, adds a rung for a
 * stranded cluster, and holds still inside the hysteresis (change interval, dwell, thresholds,
 * min/max rungs, the floor).
 */
import { describe, expect, it } from 'vitest';
import { decideLadder, heightFor, snapDownKbps, type PolicyInput, type Rung } from '../../../src/hls/ladder/AudiencePolicy';
import { ladderAdaptationConfigSchema } from '../../../src/hls/ladder/ladderConfig';

const config = ladderAdaptationConfigSchema.parse({ enabled: true, dropAfterMs: 60_000, minDwellMs: 120_000, minChangeIntervalMs: 30_000, minViewers: 2 });
const HIGH: Rung = { name: 'high', kbps: 2500, height: 720, copySource: false, configName: 'high' };
const MID: Rung = { name: 'mid', kbps: 800, height: 360, copySource: false, configName: 'mid' };
const LOW: Rung = { name: 'low', kbps: 250, height: 160, copySource: false, configName: 'low' };
const CONFIGURED = [HIGH, MID, LOW];
const T0 = 1_000_000;

function input(over: Partial<PolicyInput>): PolicyInput {
  return {
    now: T0 + 600_000,
    config,
    configured: CONFIGURED,
    current: CONFIGURED,
    floor: 'low',
    startedAt: T0,
    changedAt: {},
    lastRequestAt: { high: T0 + 599_000, mid: T0 + 599_000, low: T0 + 599_000 },
    viewers: [],
    ...over,
  };
}

const viewers = (...kbps: number[]) => kbps.map((k, i) => ({ id: `v${i}`, throughputKbps: k }));

describe('AudiencePolicy', () => {
  it('keeps a ladder its audience uses', () => {
    const d = decideLadder(input({ viewers: viewers(5000, 5000, 1200) }));
    expect(d.action).toBe('none');
    expect(d.after.map((r) => r.name)).toEqual(['high', 'mid', 'low']);
  });

  it('drops the rung nobody requested for dropAfterMs, never the floor', () => {
    const d = decideLadder(input({ viewers: viewers(5000, 5000), lastRequestAt: { high: T0 + 599_000, mid: T0 + 500_000, low: T0 + 100_000 } }));
    expect(d.action).toBe('drop');
    expect(d.rung?.name).toBe('mid');
    expect(d.after.map((r) => r.name)).toEqual(['high', 'low']);
    expect(d.reason).toMatch(/no player requested mid/);
  });

  it('does not drop before the stream has run dropAfterMs, nor below minRungs', () => {
    expect(decideLadder(input({ now: T0 + 30_000, lastRequestAt: {} })).action).toBe('none');
    const two = decideLadder(input({ current: [HIGH, LOW], lastRequestAt: {}, config: { ...config, minRungs: 2 } }));
    expect(two.action).toBe('none');
  });

  it('holds still within minChangeIntervalMs and a rung within its dwell', () => {
    const stale = { high: T0, mid: T0, low: T0 };
    expect(decideLadder(input({ lastRequestAt: stale, lastChangeAt: T0 + 590_000 })).reason).toMatch(/minChangeIntervalMs/);
    // high and mid changed recently (dwell): neither is dropped even though unrequested.
    const d = decideLadder(input({ lastRequestAt: stale, changedAt: { high: T0 + 550_000, mid: T0 + 550_000 } }));
    expect(d.action).toBe('none');
  });

  it('lowers the top rung when no viewer sustains it, to what the best one does, snapped to allowedKbps', () => {
    const d = decideLadder(input({ viewers: viewers(1700, 1500, 900) }));
    expect(d.action).toBe('lower');
    expect(d.replaces?.name).toBe('high');
    // best 1700 / headroom 1.3 ≈ 1308 → 1200 allowed
    expect(d.rung).toMatchObject({ name: 'high-1200k', kbps: 1200, height: 720, configName: 'high' });
    expect(d.after.map((r) => r.name)).toEqual(['high-1200k', 'mid', 'low']);
  });

  it('never lowers a copied source, nor into the next rung, nor for fewer than minViewers', () => {
    const copy = { ...HIGH, copySource: true };
    expect(decideLadder(input({ current: [copy, MID, LOW], configured: [copy, MID, LOW], viewers: viewers(1700, 1500) })).action).toBe('none');
    // best sustain 1000/1.3 ≈ 770 → 600 < mid 800 × 1.2: no lowering (a rung between low and mid instead)
    const between = decideLadder(input({ viewers: viewers(1000, 900) }));
    expect(between.action).toBe('add');
    expect(between.rung?.kbps).toBe(600);
    expect(decideLadder(input({ viewers: viewers(1700) })).action).toBe('none');
  });

  it('restores a lowered top rung when viewers sustain more again', () => {
    const lowered = { ...HIGH, name: 'high-1200k', kbps: 1200 };
    const d = decideLadder(
      input({ current: [lowered, MID, LOW], viewers: viewers(6000, 5000), lastRequestAt: { 'high-1200k': T0 + 599_000, mid: T0 + 599_000, low: T0 } }),
    );
    expect(d.action).toBe('restore');
    expect(d.rung).toMatchObject({ name: 'high', kbps: 2500 });
    expect(d.replaces?.name).toBe('high-1200k');
    // Still within its dwell: no restore yet.
    const early = decideLadder(input({ current: [lowered, MID, LOW], viewers: viewers(6000, 5000), changedAt: { 'high-1200k': T0 + 590_000 } }));
    expect(early.action).toBe('none');
  });

  it('restores a dropped rung when viewers sustain it and play less', () => {
    const d = decideLadder(input({ current: [HIGH, LOW], viewers: viewers(1300, 1200, 5000), lastRequestAt: { high: T0 + 599_000, low: T0 + 599_000 } }));
    expect(d.action).toBe('restore');
    expect(d.rung?.name).toBe('mid');
    expect(d.after.map((r) => r.name)).toEqual(['high', 'mid', 'low']);
    // One viewer is not demand (minViewers 2).
    expect(decideLadder(input({ current: [HIGH, LOW], viewers: viewers(1300, 5000, 5000) })).action).toBe('none');
  });

  it('waits longer before restoring a rung that flapped (dwellFactor)', () => {
    const base = {
      current: [HIGH, LOW],
      viewers: viewers(1300, 1200, 5000),
      lastRequestAt: { high: T0 + 599_000, low: T0 + 599_000 },
      changedAt: { mid: T0 + 400_000 },
    };
    expect(decideLadder(input(base)).action).toBe('restore');
    expect(decideLadder(input({ ...base, dwellFactor: { mid: 2 } })).action).toBe('none');
  });

  it('adds a rung for a cluster far between two rungs, within maxRungs', () => {
    // sustains 2200/1.3 ≈ 1692, 2300/1.3 ≈ 1769: ≥ 2 × mid (800) and < high (2500)
    const d = decideLadder(input({ viewers: viewers(2200, 2300, 9000) }));
    expect(d.action).toBe('add');
    expect(d.rung).toMatchObject({ name: 'a1200k', kbps: 1200, copySource: false });
    expect(d.rung!.height).toBeGreaterThanOrEqual(360);
    expect(d.rung!.height).toBeLessThanOrEqual(720);
    expect(d.after.map((r) => r.name)).toEqual(['high', 'a1200k', 'mid', 'low']);
    const full = decideLadder(input({ viewers: viewers(2200, 2300, 9000), config: { ...config, maxRungs: 3 } }));
    expect(full.action).toBe('none');
    expect(full.reason).toMatch(/maxRungs/);
  });

  it('refuses a configuration whose minRungs exceeds maxRungs, with the reason', () => {
    const r = ladderAdaptationConfigSchema.safeParse({ minRungs: 4, maxRungs: 2 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/minRungs must not exceed maxRungs/);
  });

  it('snaps bitrates down and fits heights between neighbours', () => {
    expect(snapDownKbps(1300, [250, 400, 1200, 1800])).toBe(1200);
    expect(snapDownKbps(100, [250, 400])).toBeUndefined();
    expect(heightFor(1200, MID, HIGH, [160, 240, 360, 480, 720, 1080])).toBe(480);
  });
});
