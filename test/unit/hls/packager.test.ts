import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mp4BoxReader, parseMoof } from '../../../src/hls/Mp4BoxReader';
import { ClockAnchor, Packager } from '../../../src/hls/Packager';
import { makeFmp4 } from './fmp4Fixture';

let fx: ReturnType<typeof makeFmp4>;
beforeAll(() => {
  fx = makeFmp4(6);
}, 30_000);
afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

function packager(extra: Partial<ConstructorParameters<typeof Packager>[0]> = {}): Packager {
  return new Packager({ partTargetMs: 200, segmentTargetMs: 2000, targetDurationSec: 3, dvrWindowSec: 60, ...extra });
}

function feed(p: Packager, file: Buffer): void {
  for (const box of new Mp4BoxReader().push(file)) p.pushBox(box);
}

describe('Packager', () => {
  it('cuts parts within the part target, INDEPENDENT exactly on keyframe parts, segments on keyframes', () => {
    const p = packager();
    feed(p, fx.video);
    p.end();
    const segments = p.segments;
    expect(segments.map((s) => s.msn)).toEqual([0, 1, 2]);
    for (const s of segments) {
      expect(s.complete).toBe(true);
      expect(s.independent).toBe(true);
      expect(s.parts[0]!.independent).toBe(true);
      expect(s.duration).toBeCloseTo(2, 3);
      for (const part of s.parts) {
        expect(part.duration).toBeLessThanOrEqual(0.2 + 1e-9);
        // Independence is what the media says: the part's first frame is a sync sample.
        const first = new Mp4BoxReader().push(part.data)[0]!;
        expect(parseMoof(first.data, p.initInfo!).tracks[0]!.startsWithSync).toBe(part.independent);
      }
      // A 1 s GOP inside a 2 s segment: the mid-segment keyframe starts an independent part too.
      expect(s.parts.filter((x) => x.independent).length).toBe(2);
      expect(Buffer.concat(s.parts.map((x) => x.data)).equals(s.data!)).toBe(true);
    }
    // Global part numbering runs across segments; parts stay contiguous in time.
    const all = segments.flatMap((s) => s.parts);
    expect(all.map((x) => x.seq)).toEqual(all.map((_, i) => i));
    expect(segments[1]!.startTime).toBeCloseTo(segments[0]!.startTime + segments[0]!.duration, 6);
    expect(p.frameRate).toBeCloseTo(30, 0);
  });

  it('never packs several frames past PART-TARGET when decode times jitter around the nominal frame duration', () => {
    // Real sources carry RTP-derived decode times: a frame may start a few ticks before the previous
    // frame's nominal end, or after it. Shift each fragment's tfdt by up to ±8 ticks.
    const p = packager();
    let tick = 0;
    for (const box of new Mp4BoxReader().push(Buffer.from(fx.video))) {
      if (box.type === 'moof') shiftDecodeTime(box.data, ((tick++ * 7) % 17) - 8);
      p.pushBox(box);
    }
    p.end();
    const timescale = p.initInfo!.tracks[0]!.timescale;
    const parts = p.segments.flatMap((s) => s.parts);
    expect(parts.length).toBeGreaterThan(20);
    let packed = 0;
    for (const part of parts) {
      const runs = new Mp4BoxReader()
        .push(part.data)
        .filter((b) => b.type === 'moof')
        .map((b) => parseMoof(b.data, p.initInfo!).tracks[0]!);
      if (runs.length < 2) continue;
      packed++;
      const span = (runs.at(-1)!.baseDecodeTime + runs.at(-1)!.duration - runs[0]!.baseDecodeTime) / timescale;
      expect(span).toBeLessThanOrEqual(0.2 + 1e-6);
      expect(part.duration).toBeLessThanOrEqual(0.2 + 1e-6);
    }
    expect(packed).toBeGreaterThan(20);
  });

  it('packages an audio-only stream (every AAC frame is a sync sample)', () => {
    const p = packager();
    feed(p, fx.audio);
    p.end();
    expect(p.segments.length).toBeGreaterThanOrEqual(2);
    const parts = p.segments.flatMap((s) => s.parts);
    expect(parts.every((x) => x.independent && x.duration <= 0.2 + 1e-9)).toBe(true);
    // Only a segment's last part may fall short of 85 % of the target.
    expect(p.segments.flatMap((s) => s.parts.slice(0, -1)).every((x) => x.duration >= 0.17)).toBe(true);
  });

  it('keeps a bounded DVR window (never under 3 target durations) and the dropped media briefly downloadable', () => {
    let now = 1_000_000;
    const p = packager({ segmentTargetMs: 1000, targetDurationSec: 1, dvrWindowSec: 3, now: () => now });
    const boxes = new Mp4BoxReader().push(fx.video);
    for (const b of boxes) {
      now += 5;
      p.pushBox(b);
    }
    const complete = p.segments.filter((s) => s.complete);
    expect(complete.reduce((t, s) => t + s.duration, 0)).toBeGreaterThanOrEqual(3 - 1e-6);
    expect(p.segments[0]!.msn).toBeGreaterThan(0);
    expect(p.segment(0)).toBeDefined(); // retired, still served for the grace period
    now += 60_000;
    for (const b of boxes.slice(-2)) p.pushBox(b);
    p.end();
    expect(p.segment(0)).toBeUndefined();
  });

  it('wakes waiters on each part, times out, and ends them when the stream ends', async () => {
    const p = packager();
    const boxes = new Mp4BoxReader().push(fx.video);
    const first = p.waitUntil(() => p.nextPartSeq >= 1, 5000);
    for (const b of boxes.slice(0, 40)) p.pushBox(b);
    expect(await first).toBe(true);
    expect(await p.waitUntil(() => false, 20)).toBe(false);
    const ac = new AbortController();
    const aborted = p.waitUntil(() => false, 5000, ac.signal);
    ac.abort();
    expect(await aborted).toBe(false);
    const never = p.waitUntil(() => p.nextPartSeq > 1000, 5000);
    expect(p.waiting).toBe(1);
    p.end();
    expect(await never).toBe(false);
    expect(p.waiting).toBe(0);
    expect(p.ended).toBe(true);
    expect(p.openSegment).toBeUndefined();
  });

  it('maps media time to one wall clock shared by renditions', () => {
    const anchor = new ClockAnchor();
    expect(anchor.map(10, 5000)).toBe(5000);
    expect(anchor.map(12.5, 99999)).toBe(7500);
  });
});

/** Moves a one-track moof's tfdt by `ticks` (in place), keeping it non-negative. */
function shiftDecodeTime(moof: Buffer, ticks: number): void {
  const at = moof.indexOf('tfdt');
  expect(at).toBeGreaterThan(0);
  const version = moof[at + 4];
  if (version === 1) moof.writeBigUInt64BE(BigInt(Math.max(0, Number(moof.readBigUInt64BE(at + 8)) + ticks)), at + 8);
  else moof.writeUInt32BE(Math.max(0, moof.readUInt32BE(at + 8) + ticks), at + 8);
}
