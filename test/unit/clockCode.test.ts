/**
 * The synthetic source's clock code: ffmpeg draws it (the synthetic source's own filter chain,
 * H264-encoded and decoded again, and downscaled as an LL-HLS rendition would be) and the
 * browser-side reader gets back the wall-clock time of each frame; a frame whose blocks disagree
 * with their complements is rejected.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLOCK_CODE, clockCodeAgeMs, clockCodeArea, clockCodeFilters, readClockCode } from '../../src/protocol/clockCode';
import { syntheticFfmpegArgs } from '../../src/synthetic/SyntheticSource';

/** Runs ffmpeg, returning stdout; rejects with its stderr on failure. */
function ffmpeg(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg exited with ${code}: ${err}`))));
  });
}

/** Reads every frame of raw RGBA `frames` (each `width` × `height`). */
function readAll(frames: Buffer, width: number, height: number): Array<number | undefined> {
  const size = width * height * 4;
  const values: Array<number | undefined> = [];
  for (let at = 0; at + size <= frames.length; at += size) values.push(readClockCode(frames.subarray(at, at + size), width, height));
  return values;
}

describe('clock code', () => {
  it('reads back the time ffmpeg drew, through H264, at the source size and downscaled', async () => {
    const height = 360;
    const area = clockCodeArea(height);
    const encoded = await ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=30',
      '-frames:v',
      '30',
      '-vf',
      clockCodeFilters(height).join(','),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-b:v',
      '600k',
      '-f',
      'h264',
      'pipe:1',
    ]);
    const madeBy = Date.now();
    const file = `/tmp/subsec-clock-code-${process.pid}.h264`;
    await import('node:fs/promises').then((fs) => fs.writeFile(file, encoded));
    try {
      for (const scaledHeight of [360, 160]) {
        const scale = scaledHeight / height;
        const w = Math.round(area.width * scale);
        const h = Math.round(area.height * scale);
        const raw = await ffmpeg([
          '-f',
          'h264',
          '-i',
          file,
          '-vf',
          `scale=-2:${scaledHeight},crop=${w}:${h}:0:0`,
          '-f',
          'rawvideo',
          '-pix_fmt',
          'rgba',
          'pipe:1',
        ]);
        const values = readAll(raw, w, h);
        expect(values).toHaveLength(30);
        const read = values.filter((v): v is number => v !== undefined);
        // Nearly every frame decodes; each says when ffmpeg drew it: before the encode ended, not long before.
        expect(read.length).toBeGreaterThanOrEqual(27);
        for (const value of read) {
          const age = clockCodeAgeMs(value, madeBy);
          expect(age).toBeGreaterThanOrEqual(0);
          expect(age).toBeLessThan(10_000);
        }
        // Later frames were drawn later (wall clock, not frame numbers).
        expect(clockCodeAgeMs(read[0]!, madeBy)).toBeGreaterThanOrEqual(clockCodeAgeMs(read.at(-1)!, madeBy));
      }
    } finally {
      await import('node:fs/promises').then((fs) => fs.rm(file, { force: true }));
    }
  }, 60_000);

  it('rejects a frame whose block and complement agree', () => {
    const width = CLOCK_CODE.perRow * 4;
    const height = 4 * 4;
    const grey = new Uint8ClampedArray(width * height * 4).fill(255);
    expect(readClockCode(grey, width, height)).toBeUndefined();
  });

  it('takes ages modulo the code period, signed', () => {
    const period = 2 ** CLOCK_CODE.bits;
    const now = 1_765_000_000_123;
    expect(clockCodeAgeMs((now - 250) % period, now)).toBe(250);
    expect(clockCodeAgeMs(now % period, now)).toBe(0);
    // A reader whose clock is a little behind the node's: a small negative age, not ~2^bits.
    expect(clockCodeAgeMs((now + 7) % period, now)).toBe(-7);
    // Just after the code wrapped.
    expect(clockCodeAgeMs(period - 100, period + 50)).toBe(150);
  });

  it("the synthetic source's filter chain is valid ffmpeg and draws the code", async () => {
    const options = { room: 'r', width: 640, height: 360, fps: 30, bitrateKbps: 600, listenIp: '127.0.0.1' };
    const args = syntheticFfmpegArgs(options, { video: { port: 9, ssrc: 1, payloadType: 96, codec: 'H264' } }, '127.0.0.1');
    const filters = args[args.indexOf('-vf') + 1]!;
    const area = clockCodeArea(options.height);
    const raw = await ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=30',
      '-frames:v',
      '5',
      '-vf',
      `${filters},crop=${area.width}:${area.height}:0:0`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgba',
      'pipe:1',
    ]);
    const values = readAll(raw, area.width, area.height);
    expect(values).toHaveLength(5);
    for (const value of values) expect(clockCodeAgeMs(value!, Date.now())).toBeLessThan(10_000);
  }, 30_000);
});
