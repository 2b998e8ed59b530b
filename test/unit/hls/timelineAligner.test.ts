/**
 * A rung started later (its own ffmpeg, its own time zero) lands on the reference rung's decode
 * times (src/hls/ladder/TimelineAligner.ts): fragments before its first keyframe are dropped,
 * the rest are shifted by the exact tick difference of matching keyframes; init boxes pass at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { Mp4BoxReader, parseInit, parseMoof, type Mp4Box } from '../../../src/hls/Mp4BoxReader';
import { shiftTfdt, TimelineAligner } from '../../../src/hls/ladder/TimelineAligner';
import { makeFmp4 } from './fmp4Fixture';

let fx: ReturnType<typeof makeFmp4>;
let boxes: Mp4Box[];

beforeAll(() => {
  fx = makeFmp4(4);
  boxes = [...new Mp4BoxReader().push(fx.video)];
}, 60_000);

afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

describe('TimelineAligner', () => {
  it('shifts every tfdt of a moof by the given ticks', () => {
    const init = parseInit(boxes.find((b) => b.type === 'moov')!.data);
    const moof = boxes.find((b) => b.type === 'moof')!.data;
    const before = parseMoof(moof, init).tracks[0]!.baseDecodeTime;
    expect(parseMoof(shiftTfdt(moof, 12_345), init).tracks[0]!.baseDecodeTime).toBe(before + 12_345);
    expect(parseMoof(moof, init).tracks[0]!.baseDecodeTime).toBe(before); // the input is left alone
  });

  /** Feeds the reference every frame at 1000 + 33·i ms and the follower from frame `joinAt`, read at `followerAt(i)`. */
  function run(joinAt: number, followerAt: (i: number) => number) {
    const init = parseInit(boxes.find((b) => b.type === 'moov')!.data);
    const timescale = init.tracks[0]!.timescale;
    const offset = 7 * timescale + 123; // the follower's own time zero
    const frames: Array<[Mp4Box, Mp4Box]> = [];
    for (let i = 0; i < boxes.length; i++) if (boxes[i]!.type === 'moof') frames.push([boxes[i]!, boxes[i + 1]!]);
    const headers = boxes.filter((b) => b.type !== 'moof' && b.type !== 'mdat');
    const aligner = new TimelineAligner();
    let clock = 0;
    const out: Mp4Box[] = [];
    const follower = aligner.follower(
      (b) => out.push(b),
      () => clock,
    );
    for (const h of headers) aligner.observeReference(h, 0);
    for (const h of headers) follower.push(h);
    expect(out.map((b) => b.type)).toEqual(headers.map((b) => b.type));
    // Events in wall-clock order: the reference's frame i at 1000 + 33·i, the follower's at followerAt(i).
    const events: Array<{ at: number; ref: boolean; i: number }> = [];
    frames.forEach((_, i) => {
      events.push({ at: 1000 + 33 * i, ref: true, i });
      if (i >= joinAt) events.push({ at: followerAt(i), ref: false, i });
    });
    events.sort((a, b) => a.at - b.at || (a.ref ? -1 : 1));
    for (const e of events) {
      clock = e.at;
      const [moof, mdat] = frames[e.i]!;
      if (e.ref) aligner.observeReference(moof, clock);
      else {
        follower.push({ type: 'moof', data: shiftTfdt(moof.data, -offset) });
        follower.push(mdat);
      }
    }
    follower.close();
    return { init, frames, out, offset: follower.offset(), expected: offset };
  }

  it('puts a late follower on the reference timeline at a matching keyframe', () => {
    // Joins at frame 15 (mid-GOP), 20 ms behind the reference.
    const r = run(15, (i) => 1000 + 33 * i + 20);
    expect(r.offset).toBe(r.expected);
    const moofs = r.out.filter((b) => b.type === 'moof').map((b) => parseMoof(b.data, r.init).tracks[0]!);
    // It starts at the first keyframe after joining (1 s GOP at 30 fps: frame 30), on the reference's decode times.
    expect(moofs[0]!.startsWithSync).toBe(true);
    expect(moofs[0]!.baseDecodeTime).toBe(parseMoof(r.frames[30]![0].data, r.init).tracks[0]!.baseDecodeTime);
    expect(moofs).toHaveLength(r.frames.length - 30);
    expect(r.out.filter((b) => b.type === 'mdat')).toHaveLength(r.frames.length - 30);
  });

  it('is not fooled by ffmpeg’s start-up burst (its first keyframe read nearer the next reference keyframe)', () => {
    // Frames 15–49 come out in one burst at frame 50's time (+ 20 ms), then in step: a match by
    // arrival time alone would pair its first keyframe (frame 30) with the reference's frame 60.
    const r = run(15, (i) => (i < 50 ? 1000 + 33 * 50 + 20 + i * 0.1 : 1000 + 33 * i + 20));
    expect(r.offset).toBe(r.expected);
  });
});
