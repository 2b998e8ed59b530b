/**
 * A rung joining a running ladder starts on one of the reference rung's segment boundaries and
 * takes its Media Sequence Number there (src/hls/ladder/SegmentGate.ts), whether it joins behind
 * the reference (a boundary already cut) or ahead of it (held until the reference cuts there);
 * from then on both rungs' segments match in start time and number.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mp4BoxReader, parseInit, parseMoof, type Mp4Box } from '../../../src/hls/Mp4BoxReader';
import { ClockAnchor, Packager } from '../../../src/hls/Packager';
import { SegmentGate } from '../../../src/hls/ladder/SegmentGate';
import { makeFmp4 } from './fmp4Fixture';

let fx: ReturnType<typeof makeFmp4>;
let headers: Mp4Box[];
let frames: Array<[Mp4Box, Mp4Box]>;
let keyframes: number[];

beforeAll(() => {
  fx = makeFmp4(9);
  const boxes = [...new Mp4BoxReader().push(fx.video)];
  headers = boxes.filter((b) => b.type !== 'moof' && b.type !== 'mdat');
  frames = [];
  for (let i = 0; i < boxes.length; i++) if (boxes[i]!.type === 'moof') frames.push([boxes[i]!, boxes[i + 1]!]);
  const init = parseInit(headers.find((b) => b.type === 'moov')!.data);
  keyframes = frames.flatMap(([moof], i) => (parseMoof(moof.data, init).tracks[0]!.startsWithSync ? [i] : []));
}, 60_000);

afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

/** Two-second segments over a 1 s GOP: a boundary at every other keyframe. */
function packager(anchor: ClockAnchor): Packager {
  return new Packager({ partTargetMs: 200, segmentTargetMs: 2000, targetDurationSec: 2, dvrWindowSec: 60, anchor });
}

/** Feeds the reference every frame, and the follower (through a gate) from frame `joinAt`, `lead` frames ahead of the reference. */
function run(joinAt: number, lead: number) {
  const anchor = new ClockAnchor();
  const reference = packager(anchor);
  const follower = packager(anchor);
  const gate = new SegmentGate(reference, follower, (b) => follower.pushBox(b));
  for (const h of headers) {
    reference.pushBox(h);
    gate.push(h);
  }
  for (let i = 0; i < frames.length + lead; i++) {
    const f = i + lead; // the follower's frame read at this step
    if (f >= joinAt && f < frames.length) for (const b of frames[f]!) gate.push(b);
    if (i < frames.length) for (const b of frames[i]!) reference.pushBox(b);
  }
  reference.end();
  follower.end();
  gate.close();
  return { reference, follower, gate };
}

function expectSameSegments(reference: Packager, follower: Packager): void {
  const first = follower.segments[0]!;
  const twin = reference.segments.find((s) => s.msn === first.msn)!;
  expect(twin, `the reference has segment ${first.msn}`).toBeDefined();
  const refFrom = reference.segments.indexOf(twin);
  const pairs = follower.segments.map((s, i) => [s, reference.segments[refFrom + i]!] as const);
  expect(pairs.length).toBeGreaterThan(1);
  for (const [s, r] of pairs) {
    expect(s.msn).toBe(r.msn);
    expect(s.startTime).toBeCloseTo(r.startTime, 6);
    expect(s.programDateTime).toBe(r.programDateTime);
  }
}

describe('SegmentGate', () => {
  it('a rung joining behind the reference, mid-segment, starts at the next boundary with its number', () => {
    // Boundaries are at the keyframes of 0, 2, 4 … s; it joins just before the 3 s keyframe, mid-segment.
    const joinAt = keyframes[3]! - 5;
    const { reference, follower, gate } = run(joinAt, 0);
    expect(gate.started).toBe(true);
    expect(follower.segments[0]!.msn).toBeGreaterThan(0);
    // It did not start on the 3 s keyframe (no boundary there) but on the 4 s one.
    const fps = frames.length / 9;
    expect(follower.segments[0]!.startTime - reference.segments[0]!.startTime).toBeCloseTo(keyframes[4]! / fps, 1);
    expectSameSegments(reference, follower);
  });

  it('a rung read ahead of the reference is held until the reference cuts there', () => {
    const { reference, follower, gate } = run(keyframes[2]!, 12);
    expect(gate.started).toBe(true);
    expect(follower.segments[0]!.startTime - reference.segments[0]!.startTime).toBeCloseTo(2, 1);
    expectSameSegments(reference, follower);
  });

  it('without the gate a late rung numbers from 0 — the mismatch players stumble on', () => {
    const anchor = new ClockAnchor();
    const reference = packager(anchor);
    const alone = packager(anchor);
    for (const h of headers) {
      reference.pushBox(h);
      alone.pushBox(h);
    }
    frames.forEach((f, i) => {
      for (const b of f) reference.pushBox(b);
      if (i >= keyframes[4]!) for (const b of f) alone.pushBox(b);
    });
    expect(alone.segments[0]!.msn).toBe(0);
    expect(reference.segments.find((s) => Math.abs(s.startTime - alone.segments[0]!.startTime) < 0.001)!.msn).toBe(2);
  });
});
