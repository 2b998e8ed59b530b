import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mp4BoxReader, Mp4FormatError, parseInit, parseMoof } from '../../../src/hls/Mp4BoxReader';
import { makeFmp4 } from './fmp4Fixture';

let fx: ReturnType<typeof makeFmp4>;
beforeAll(() => {
  fx = makeFmp4(3);
}, 30_000);
afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

describe('Mp4BoxReader', () => {
  it('splits ffmpeg fMP4 into the same boxes whatever the chunking', () => {
    const whole = new Mp4BoxReader().push(fx.video);
    expect(whole.slice(0, 2).map((b) => b.type)).toEqual(['ftyp', 'moov']);
    expect(whole.filter((b) => b.type === 'moof').length).toBe(90);
    const reader = new Mp4BoxReader();
    const chunked = [];
    let pos = 0;
    let size = 1;
    while (pos < fx.video.length) {
      chunked.push(...reader.push(fx.video.subarray(pos, pos + size)));
      pos += size;
      size = (size * 7 + 3) % 5000 || 1;
    }
    expect(chunked.map((b) => b.type)).toEqual(whole.map((b) => b.type));
    expect(Buffer.concat(chunked.map((b) => b.data)).equals(fx.video)).toBe(true);
    expect(reader.buffered).toBe(0);
  });

  it('reads tracks, timescales and RFC 6381 codecs from the init segment', () => {
    const [ftyp, moov] = new Mp4BoxReader().push(fx.video);
    const v = parseInit(Buffer.concat([ftyp!.data, moov!.data])).tracks[0]!;
    expect(v).toMatchObject({ kind: 'video', timescale: 90000, width: 320, height: 180 });
    expect(v.codec).toMatch(/^avc1\.[0-9a-f]{6}$/);
    const [, amoov] = new Mp4BoxReader().push(fx.audio);
    expect(parseInit(amoov!.data).tracks[0]).toMatchObject({ kind: 'audio', codec: 'mp4a.40.2', sampleRate: 48000, channels: 2 });
  });

  it('reads decode times, durations and sync flags of every moof, contiguous and keyframed every second', () => {
    const boxes = new Mp4BoxReader().push(fx.video);
    const init = parseInit(boxes[1]!.data);
    const frags = boxes.filter((b) => b.type === 'moof').map((b) => parseMoof(b.data, init).tracks[0]!);
    expect(frags[0]!.baseDecodeTime).toBe(10 * 90000);
    for (let i = 1; i < frags.length; i++) expect(frags[i]!.baseDecodeTime).toBe(frags[i - 1]!.baseDecodeTime + frags[i - 1]!.duration);
    expect(frags.filter((f) => f.startsWithSync).length).toBe(3);
    expect(frags.every((f) => f.sampleCount === 1 && f.duration === 3000)).toBe(true);
  });

  it('rejects a corrupt size field instead of buffering without bound', () => {
    const bad = Buffer.from([0, 0, 0, 4, 0x6d, 0x6f, 0x6f, 0x66]);
    expect(() => new Mp4BoxReader().push(bad)).toThrow(Mp4FormatError);
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x6d, 0x64, 0x61, 0x74]);
    expect(() => new Mp4BoxReader(1024).push(huge)).toThrow(/too large/);
  });
});
