/**
 * LL-HLS with hls.js (the SDK's `watch()` on the hls path) behind the `congested` profile: a
 * Chromium viewer in its own lab host plays the node's ladder (copied source, 240p, 160p) over a
 * 3 Mbit/s link that drops to 400 kbit/s for 20 s and recovers. The player switches down the
 * ladder during the drop when its rendition overflows the 400 kbit/s link, and rebuffering
 * stays bounded. Glass-to-glass latency (clock code)
 * before the drop and after the recovery is measured and printed; that it returns to the live
 * target is not asserted yet: measured 6–8 s after the recovery against 1.6–1.9 s before (hls.js
 * stays behind after stalls; see docs/network-lab.md, "Findings").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distribution } from '../../loadtest/netlab/measureLink';
import { MediaLab, type LabViewer } from '../../loadtest/netlab/MediaLab';
import { PROFILES } from '../../loadtest/netlab/profiles';

let rig: MediaLab;
let viewer: LabViewer;

beforeAll(async () => {
  rig = await MediaLab.start({ nodeConfig: { hls: { partTargetMs: 200, segmentTargetMs: 1000 } } });
  await rig.publish();
  viewer = await rig.addViewer('viewer-congested', 'congested', { startSchedule: false });
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

/** Total time (ms) of gaps between presented frames longer than `minGapMs`. */
function stalledMs(times: number[], minGapMs: number): { total: number; longest: number } {
  let total = 0;
  let longest = 0;
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    if (gap > minGapMs) total += gap;
    longest = Math.max(longest, gap);
  }
  return { total, longest };
}

describe('LL-HLS on congested (lab)', () => {
  it('switches down during the drop and keeps rebuffering bounded', async () => {
    const schedule = PROFILES.congested!.schedule;
    const dropAt = schedule[0]!.atMs;
    const recoverAt = schedule[1]!.atMs;
    const started = await viewer.start(rig, 'hls');
    expect(started.transport).toBe('hls');
    // ABR first climbs above the lowest rendition (160p) on the 3 Mbit/s link, so the drop has
    // somewhere to push it down from.
    const deadline = Date.now() + 30_000;
    let height = 0;
    while (Date.now() < deadline) {
      height = (await viewer.page.evaluate('document.querySelector("video")?.videoHeight ?? 0')) as number;
      if (height > 160) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(height, 'hls.js above the lowest rendition within 30 s on 3 Mbit/s').toBeGreaterThan(160);
    // Measure latency before the drop.
    const before = await viewer.sample(5000);
    const t0 = Date.now();
    viewer.host.startSchedule();
    const watchMs = recoverAt + 20_000;
    const times = await viewer.frameTimes(watchMs);
    const after = await viewer.sample(6000);
    const timeline = (await viewer.timeline()).filter((p) => p.at >= t0);
    const heightBefore = before.videoHeight;
    const during = timeline.filter((p) => p.at >= t0 + dropAt && p.at < t0 + recoverAt);
    const atDrop = timeline.filter((p) => p.at < t0 + dropAt && p.frameHeight > 0).pop()?.frameHeight ?? heightBefore;
    const lowest = Math.min(...during.map((p) => p.frameHeight || heightBefore));
    const firstDown = during.find((p) => p.frameHeight && p.frameHeight < atDrop);
    const stall = stalledMs(times, 500);
    const rebufferMs = (await viewer.stalls()).filter((s) => s.at >= t0).reduce((a, s) => a + s.ms, 0);
    const figures = {
      heightBefore,
      lowestDuringDrop: lowest,
      downswitchMs: firstDown ? firstDown.at - (t0 + dropAt) : null,
      heightAfter: after.videoHeight,
      rebufferPct: +((100 * rebufferMs) / watchMs).toFixed(2),
      gapsOver500MsPct: +((100 * stall.total) / watchMs).toFixed(2),
      longestGapMs: stall.longest,
      g2gBeforeP50Ms: Math.round(distribution(before.g2gMs).p50),
      g2gAfterP50Ms: Math.round(distribution(after.g2gMs).p50),
      schedule: viewer.host.scheduleLog,
      queueDrops: (await rig.lab.stats()).pipes[String(viewer.host.downPipe)]?.dropQueue,
      framesPresented: times.length,
    };
    console.log(`NETLAB_LLHLS_CONGESTED ${JSON.stringify(figures)}`);
    expect(viewer.host.scheduleLog.map((s) => s.note)).toEqual(schedule.map((s) => s.note));
    // The link dropped packets at its queue only if the rendition playing at the drop needed more
    // than 400 kbit/s; then the player must have moved down the ladder. (When hls.js was already on
    // a rung that fits — 240p at ~350 kbit/s was seen — nothing overflowed and no switch is due.)
    if ((figures.queueDrops ?? 0) > 0) expect(lowest, 'a lower rendition after queue drops on the 400 kbit/s link').toBeLessThan(atDrop);
    // Rebuffering bounded: stalled ('waiting') at most 20 % of the 50 s — 20 s of it at 400 kbit/s
    // — and no frame gap over 5 s. Playing again after the recovery.
    expect(figures.rebufferPct).toBeLessThan(20);
    expect(stall.longest).toBeLessThan(5000);
    // Still playing after the recovery (frames presented in its last 10 s).
    expect(times.filter((t) => t > t0 + recoverAt + 10_000).length).toBeGreaterThan(100);
    expect(viewer.errors).toEqual([]);
  }, 120_000);

  it.todo('returns to its glass-to-glass latency target within 10 s of the recovery (measured 6–8 s behind; docs/network-lab.md)');
});
