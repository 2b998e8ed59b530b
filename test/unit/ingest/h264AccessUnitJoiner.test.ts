/**
 * H264AccessUnitJoiner on RTP packets shaped as ffmpeg sends a camera whose key frames repeat
 * SPS/PPS before every slice (what test/integration/rtsp-chromium.test.ts shows end to end):
 * pieces of one picture joined under one timestamp and one marker, inner parameter sets removed
 * with the sequence numbers closed up, FU-A slices, whole pictures passed untouched.
 */
import { describe, expect, it } from 'vitest';
import { H264AccessUnitJoiner, firstMbInSlice } from '../../../src/ingest/ffmpeg/H264AccessUnitJoiner';

const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1f, 0x8c]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const AUD = Buffer.from([0x09, 0xf0]);

/** A slice NAL unit (type 5 IDR or 1) starting at macroblock `firstMb`, with `size` bytes of filler data after its header. */
function slice(type: 1 | 5, firstMb: number, size = 20): Buffer {
  const code = (firstMb + 1).toString(2);
  const bits = '0'.repeat(code.length - 1) + code + '1';
  const bytes = Buffer.alloc(Math.ceil(bits.length / 8) + size, 0x55);
  for (let i = 0; i < Math.ceil(bits.length / 8); i++) bytes[i] = parseInt(bits.slice(i * 8, i * 8 + 8).padEnd(8, '0'), 2);
  return Buffer.concat([Buffer.from([type === 5 ? 0x65 : 0x41]), bytes]);
}

const stap = (...nals: Buffer[]) => Buffer.concat([Buffer.from([0x78]), ...nals.flatMap((n) => [Buffer.from([n.length >> 8, n.length & 0xff]), n])]);

/** FU-A fragments of one NAL unit, `parts` of them. */
function fuA(nal: Buffer, parts: number): Buffer[] {
  const body = nal.subarray(1);
  const step = Math.ceil(body.length / parts);
  return Array.from({ length: parts }, (_, i) =>
    Buffer.concat([
      Buffer.from([(nal[0]! & 0xe0) | 28, (i === 0 ? 0x80 : 0) | (i === parts - 1 ? 0x40 : 0) | (nal[0]! & 0x1f)]),
      body.subarray(i * step, (i + 1) * step),
    ]),
  );
}

/** An RTP packet as ffmpeg writes one (PT 102, SSRC 7). */
function rtp(seq: number, timestamp: number, marker: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | 102;
  h.writeUInt16BE(seq, 2);
  h.writeUInt32BE(timestamp, 4);
  h.writeUInt32BE(7, 8);
  return Buffer.concat([h, payload]);
}

const view = (p: Buffer) => ({ seq: p.readUInt16BE(2), ts: p.readUInt32BE(4), marker: (p[1]! & 0x80) !== 0, payload: p.subarray(12) });

/** Feeds packets in order; returns everything forwarded. */
function run(joiner: H264AccessUnitJoiner, packets: Buffer[]): ReturnType<typeof view>[] {
  return packets.flatMap((p) => joiner.push(p)).map(view);
}

const P_FRAME = (ts: number, seq: number) => rtp(seq, ts, true, stap(AUD, slice(1, 0), slice(1, 240), slice(1, 480), slice(1, 680)));

describe('H264AccessUnitJoiner', () => {
  it('reads first_mb_in_slice', () => {
    for (const mb of [0, 1, 239, 240, 680, 3599]) expect(firstMbInSlice(slice(5, mb))).toBe(mb);
  });

  it('joins a key frame split into one packet per slice, timestamps bumped by a tick each, under one timestamp and one marker', () => {
    const joiner = new H264AccessUnitJoiner();
    const T = 90_000;
    const out = run(joiner, [
      P_FRAME(T - 6000, 10),
      P_FRAME(T - 3000, 11),
      rtp(12, T, true, stap(SPS, PPS, AUD, SPS, PPS, slice(5, 0))),
      rtp(13, T + 1, true, stap(SPS, PPS, slice(5, 240))),
      rtp(14, T + 2, true, stap(SPS, PPS, slice(5, 480))),
    ]);
    // The key frame's last piece comes a frame later (ffmpeg's parser waits for the next picture).
    expect(joiner.holding).toBe(true);
    out.push(...run(joiner, [rtp(15, T + 3, true, stap(SPS, PPS, slice(5, 680))), P_FRAME(T + 3003, 16)]));
    const key = out.filter((p) => p.ts === T);
    expect(key.map((p) => p.seq)).toEqual([12, 13, 14, 15]);
    expect(key.map((p) => p.marker)).toEqual([false, false, false, true]);
    // SPS/PPS lead the picture; none is left between its slices.
    expect(key[0]!.payload).toEqual(stap(SPS, PPS, AUD, SPS, PPS, slice(5, 0)));
    expect(key.slice(1).map((p) => p.payload)).toEqual([stap(slice(5, 240)), stap(slice(5, 480)), stap(slice(5, 680))]);
    expect(out.map((p) => p.seq)).toEqual([10, 11, 12, 13, 14, 15, 16]);
    expect(joiner.stats).toMatchObject({ joined: 3, nalsRemoved: 6, lateSlices: 0 });
  });

  it('drops a packet left empty and closes the sequence gap; FU-A slices join and keep their fragments', () => {
    const joiner = new H264AccessUnitJoiner();
    const T = 180_000;
    const big0 = slice(5, 0, 3000);
    const big1 = slice(5, 240, 3000);
    const packets = [
      P_FRAME(T - 6000, 100),
      P_FRAME(T - 3000, 101),
      // ffmpeg puts small NAL units in a STAP-A and sends a slice over the payload size as FU-A.
      rtp(102, T, false, stap(SPS, PPS)),
      ...fuA(big0, 3).map((f, i) => rtp(103 + i, T, i === 2, f)),
      rtp(106, T + 1, false, stap(SPS, PPS)),
      ...fuA(big1, 3).map((f, i) => rtp(107 + i, T + 1, i === 2, f)),
      P_FRAME(T + 3000, 110),
      P_FRAME(T + 6000, 111),
    ];
    const out = run(joiner, packets);
    expect(out.map((p) => p.seq)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110]);
    const key = out.filter((p) => p.ts === T);
    expect(key.map((p) => p.marker)).toEqual([false, false, false, false, false, false, true]);
    // The second slice's fragments, without the STAP-A of parameter sets before them.
    expect(key.slice(4).map((p) => p.payload)).toEqual(fuA(big1, 3));
    expect(joiner.stats).toMatchObject({ joined: 1, packetsDropped: 1, nalsRemoved: 2 });
  });

  it('passes a stream of whole pictures untouched and, once it knows the slice layout, holds nothing', () => {
    const joiner = new H264AccessUnitJoiner();
    const packets = [
      P_FRAME(0, 1),
      P_FRAME(3000, 2),
      P_FRAME(6000, 3),
      rtp(4, 9000, true, stap(SPS, PPS, slice(5, 0), slice(5, 240), slice(5, 480), slice(5, 680))),
    ];
    const out = packets.flatMap((p) => joiner.push(Buffer.from(p)));
    // The first picture of each kind waits for the next (the layout is not known yet).
    expect(out).toEqual(packets.slice(0, 3));
    expect(joiner.holding).toBe(true);
    const next = [P_FRAME(12_000, 5), P_FRAME(15_000, 6)];
    expect(next.flatMap((p) => joiner.push(Buffer.from(p)))).toEqual([packets[3], ...next]);
    expect(joiner.holding).toBe(false);
    expect(joiner.stats).toMatchObject({ joined: 0, nalsRemoved: 0, packetsDropped: 0 });
  });

  it('release() sends a held frame end as it came', () => {
    const joiner = new H264AccessUnitJoiner();
    const last = P_FRAME(0, 1);
    expect(joiner.push(Buffer.from(last))).toEqual([]);
    expect(joiner.release()).toEqual([last]);
    expect(joiner.holding).toBe(false);
  });
});
