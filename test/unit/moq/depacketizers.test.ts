import { describe, expect, it } from 'vitest';
import { H264Depacketizer } from '../../../src/moq/rtp/H264Depacketizer';
import { OpusDepacketizer } from '../../../src/moq/rtp/OpusDepacketizer';
import { parseRtp, TimestampUnwrapper, type RtpPacket } from '../../../src/moq/rtp/RtpPacket';
import { vp8KeyframeSize, Vp8Depacketizer } from '../../../src/moq/rtp/Vp8Depacketizer';

let seq = 1000;
const pkt = (payload: number[] | Uint8Array, timestamp: number, marker = false, sequenceNumber = seq++): RtpPacket => ({
  payloadType: 102,
  marker,
  sequenceNumber: sequenceNumber & 0xffff,
  timestamp,
  ssrc: 1,
  payload: payload instanceof Uint8Array ? payload : new Uint8Array(payload),
});

const SPS = [0x67, 0x42, 0xc0, 0x1e, 0xd9];
const PPS = [0x68, 0xcb, 0x83];
const IDR = [0x65, 0x88, 0x84, 0x00, 0x01];
const P = [0x41, 0x9a, 0x02];
const annexB = (...nals: number[][]) => new Uint8Array(nals.flatMap((n) => [0, 0, 0, 1, ...n]));

describe('RTP parsing', () => {
  it('skips CSRCs, header extensions and padding', () => {
    const buf = new Uint8Array([
      0xb1,
      0xe6,
      0x12,
      0x34,
      0,
      0,
      0x10,
      0,
      0,
      0,
      0,
      1, // V=2 P=1 X=1 CC=1, M=1 PT=102
      0,
      0,
      0,
      9, // CSRC
      0xbe,
      0xde,
      0,
      1,
      0x10,
      0xaa,
      0,
      0, // one-byte extension block, 1 word
      7,
      8,
      9, // payload
      0,
      2, // padding (2 bytes)
    ]);
    expect(parseRtp(buf)).toMatchObject({
      marker: true,
      payloadType: 102,
      sequenceNumber: 0x1234,
      timestamp: 0x1000,
      ssrc: 1,
      payload: new Uint8Array([7, 8, 9]),
    });
    expect(parseRtp(new Uint8Array([0x80, 0]))).toBeUndefined();
  });

  it('unwraps 32-bit timestamps', () => {
    const u = new TimestampUnwrapper();
    expect(u.unwrap(0xfffffff0)).toBe(0xfffffff0);
    expect(u.unwrap(0x10)).toBe(0x100000010);
  });
});

describe('H264 depacketizer', () => {
  it('rebuilds access units from single NALs, STAP-A and FU-A as Annex-B', () => {
    const d = new H264Depacketizer();
    // STAP-A with SPS + PPS, then the IDR in three FU-A fragments.
    const stap = [24, 0, SPS.length, ...SPS, 0, PPS.length, ...PPS];
    expect(d.push(pkt(stap, 3000))).toEqual([]);
    const fuIndicator = (IDR[0]! & 0xe0) | 28;
    expect(d.push(pkt([fuIndicator, 0x80 | 5, ...IDR.slice(1, 2)], 3000))).toEqual([]);
    expect(d.push(pkt([fuIndicator, 5, ...IDR.slice(2, 4)], 3000))).toEqual([]);
    const [key] = d.push(pkt([fuIndicator, 0x40 | 5, ...IDR.slice(4)], 3000, true));
    expect(key).toEqual({ data: annexB(SPS, PPS, IDR), rtpTimestamp: 3000, keyframe: true });
    const [delta] = d.push(pkt(P, 6000, true));
    expect(delta).toEqual({ data: annexB(P), rtpTimestamp: 6000, keyframe: false });
  });

  it('prepends cached parameter sets to an IDR that arrives without them', () => {
    const d = new H264Depacketizer();
    d.push(pkt(SPS, 0));
    d.push(pkt(PPS, 0));
    d.push(pkt(IDR, 0, true));
    const [key] = d.push(pkt(IDR, 3000, true));
    expect(key!.data).toEqual(annexB(SPS, PPS, IDR));
  });

  it('drops everything after a loss until the next IDR, and asks for one', () => {
    const d = new H264Depacketizer();
    const asked: string[] = [];
    d.onKeyframeNeeded = (r) => asked.push(r);
    d.push(pkt([24, 0, SPS.length, ...SPS, 0, PPS.length, ...PPS, 0, IDR.length, ...IDR], 0, true));
    seq++; // a lost packet
    expect(d.push(pkt(P, 3000, true))).toEqual([]);
    expect(d.push(pkt(P, 6000, true))).toEqual([]);
    expect(asked).toEqual(['packet loss']);
    const [key] = d.push(pkt(IDR, 9000, true));
    expect(key!.keyframe).toBe(true);
    expect(d.push(pkt(P, 12000, true))).toHaveLength(1);
  });

  it('treats an FU-A without its start as corrupt and ignores duplicates', () => {
    const d = new H264Depacketizer();
    d.push(pkt(IDR, 0, true));
    expect(d.push(pkt([28, 5, 1, 2], 3000, true))).toEqual([]);
    const s = seq;
    d.push(pkt(IDR, 6000, true, s));
    expect(d.push(pkt(IDR, 6000, true, s))).toEqual([]);
  });
});

describe('VP8 depacketizer', () => {
  // A key frame's first bytes: frame tag (key), start code, 640x360.
  const keyframe = [0x50, 0x2d, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01, 0xaa, 0xbb];
  it('joins partitions, strips the descriptor (with picture id) and reads key frame sizes', () => {
    const d = new Vp8Depacketizer();
    expect(d.push(pkt([0x90, 0x80, 0x85, 0x01, ...keyframe.slice(0, 6)], 0))).toEqual([]);
    const [f] = d.push(pkt([0x80, 0x80, 0x85, 0x01, ...keyframe.slice(6)], 0, true));
    expect(f).toEqual({ data: new Uint8Array(keyframe), rtpTimestamp: 0, keyframe: true });
    expect(vp8KeyframeSize(f!.data)).toEqual({ width: 640, height: 360 });
    const [delta] = d.push(pkt([0x10, 0x51, 0x00], 3000, true));
    expect(delta!.keyframe).toBe(false);
  });

  it('waits for a key frame after loss', () => {
    const d = new Vp8Depacketizer();
    let asked = 0;
    d.onKeyframeNeeded = () => asked++;
    d.push(pkt([0x10, ...keyframe], 0, true));
    seq++;
    expect(d.push(pkt([0x10, 0x51], 3000, true))).toEqual([]);
    expect(asked).toBe(1);
    expect(d.push(pkt([0x10, ...keyframe], 6000, true))).toHaveLength(1);
  });
});

describe('Opus depacketizer', () => {
  it('passes every packet through as an independent frame', () => {
    const d = new OpusDepacketizer();
    expect(d.push(pkt([1, 2, 3], 960, true))).toEqual([{ data: new Uint8Array([1, 2, 3]), rtpTimestamp: 960, keyframe: true }]);
    expect(d.push(pkt([], 1920, true))).toEqual([]);
  });
});
