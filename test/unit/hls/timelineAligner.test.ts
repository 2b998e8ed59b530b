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

  it('puts a late follower on the reference timeline at a matching keyframe', () => {
    const init = parseInit(boxes.find((b) => b.type === 'moov')!.data);
    const timescale = init.tracks[0]!.timescale;
    const offset = 2 * timescale; // the follower's time zero is 2 s later
    // Frame i (a moof + its mdat) is read at 1000 + 33·i ms by both; the follower joins at frame 15 (mid-GOP).
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
    const joinAt = 15;
    frames.forEach(([moof, mdat], i) => {
      clock = 1000 + 33 * i;
      aligner.observeReference(moof, clock);
      if (i < joinAt) return;
      follower.push({ type: 'moof', data: shiftTfdt(moof.data, -offset) });
      follower.push(mdat);
    });
    expect(follower.offset()).toBe(offset);
    const moofs = out.filter((b) => b.type === 'moof').map((b) => parseMoof(b.data, init).tracks[0]!);
    // It starts at the first keyframe after joining (1 s GOP at 30 fps: frame 30), on the reference's decode times.
    expect(moofs[0]!.startsWithSync).toBe(true);
    expect(moofs[0]!.baseDecodeTime).toBe(parseMoof(frames[30]![0].data, init).tracks[0]!.baseDecodeTime);
    expect(moofs).toHaveLength(frames.length - 30);
    expect(out.filter((b) => b.type === 'mdat')).toHaveLength(frames.length - 30);
    follower.close();
  });
});
