/** RTMP wire pieces: AMF0 round trips and bounds, chunk reassembly (all header types, extended timestamps, Set Chunk Size, limits), stream keys. */
import { describe, expect, it } from 'vitest';
import { Amf0Error, decodeAmf0, encodeAmf0 } from '../../../src/ingest/rtmp/amf0';
import { ChunkReader, encodeMessage, MSG, RtmpProtocolError, controlMessage } from '../../../src/ingest/rtmp/chunks';
import { parseStreamKey } from '../../../src/ingest/rtmp/streamKey';
import { isMpegTs } from '../../../src/ingest/mpegts/MpegTsListener';
import { classifyFfmpegFailure } from '../../../src/ingest/ffmpeg/ffmpegFailure';

describe('AMF0', () => {
  it('round-trips commands', () => {
    const values = ['connect', 1, { app: 'live', flashVer: 'FMLE/3.0', nested: { a: [1, 'x', null] } }, null, undefined, true];
    expect(decodeAmf0(encodeAmf0(...(values as never[])))).toEqual(values);
  });
  it('refuses truncated, unknown and too deep input', () => {
    expect(() => decodeAmf0(Buffer.from([0x02, 0x00, 0x09, 0x61]))).toThrow(Amf0Error);
    expect(() => decodeAmf0(Buffer.from([0x11]))).toThrow(/unsupported AMF0 marker/);
    const deep = Buffer.concat([...Array.from({ length: 40 }, () => Buffer.from([0x0a, 0, 0, 0, 1])), Buffer.from([0x05])]);
    expect(() => decodeAmf0(deep)).toThrow(/too deep/);
  });
});

describe('chunk streams', () => {
  it('reassembles messages split over chunks, across any byte boundaries', () => {
    const payload = Buffer.alloc(1000, 7);
    const bytes = Buffer.concat([
      encodeMessage(4, { typeId: MSG.VIDEO, streamId: 1, timestamp: 40, payload }, 128),
      encodeMessage(4, { typeId: MSG.VIDEO, streamId: 1, timestamp: 0x1234567, payload: Buffer.from('abc') }, 128),
    ]);
    const reader = new ChunkReader(1 << 20);
    const out = [];
    for (let i = 0; i < bytes.length; i += 7) out.push(...reader.push(bytes.subarray(i, i + 7)));
    expect(out.map((m) => [m.typeId, m.timestamp, m.payload.length])).toEqual([
      [9, 40, 1000],
      [9, 0x1234567, 3],
    ]);
    expect(out[0]!.payload.equals(payload)).toBe(true);
  });
  it('applies type 1/2/3 headers as deltas and honours Set Chunk Size', () => {
    const reader = new ChunkReader(1 << 20);
    const first = encodeMessage(3, { typeId: MSG.AUDIO, streamId: 1, timestamp: 100, payload: Buffer.from('a') }, 128);
    // Type 2 header: delta 20, same length/type/stream; then type 3: same delta again.
    const type2 = Buffer.from([0x83, 0, 0, 20, 0x62]);
    const type3 = Buffer.from([0xc3, 0x63]);
    const setSize = encodeMessage(2, controlMessage(MSG.SET_CHUNK_SIZE, 4096), 128);
    const big = encodeMessage(5, { typeId: MSG.VIDEO, streamId: 1, timestamp: 0, payload: Buffer.alloc(3000) }, 4096);
    const out = reader.push(Buffer.concat([first, type2, type3, setSize, big]));
    expect(out.map((m) => m.timestamp)).toEqual([100, 120, 140, 0]);
    expect(out[3]!.payload.length).toBe(3000);
  });
  it('refuses oversized messages and chunk streams that start without a full header', () => {
    const reader = new ChunkReader(1000);
    expect(() => reader.push(encodeMessage(3, { typeId: MSG.VIDEO, streamId: 1, timestamp: 0, payload: Buffer.alloc(2000) }, 128))).toThrow(RtmpProtocolError);
    expect(() => new ChunkReader(1000).push(Buffer.from([0x43, 0, 0, 0, 0, 0, 1, 9]))).toThrow(/starts with a type 1 header/);
  });
});

describe('stream keys', () => {
  it('reads room, stream and token however the client splits app and name', () => {
    const want = { room: 'r1', stream: 'cam', token: 'a.b.c' };
    expect(parseStreamKey('live', 'r1/cam?token=a.b.c', 'live')).toEqual(want);
    expect(parseStreamKey('live/r1', 'cam?t=a.b.c', 'live')).toEqual(want);
    expect(parseStreamKey('live?x=1', 'r1/cam?token=a.b.c', 'live')).toEqual(want);
  });
  it('says what is wrong', () => {
    expect(parseStreamKey('vod', 'r1/cam?token=x', 'live')).toEqual({ error: expect.stringMatching(/unknown application "vod"/) });
    expect(parseStreamKey('live', 'cam?token=x', 'live')).toEqual({ error: expect.stringMatching(/<room>\/<stream>\?token=<token>/) });
    expect(parseStreamKey('live', 'r1/cam', 'live')).toEqual({ error: expect.stringMatching(/no token/) });
    expect(parseStreamKey('live', 'r 1/cam?token=x', 'live')).toEqual({ error: expect.stringMatching(/names are/) });
  });
});

describe('ingest helpers', () => {
  it('tells MPEG-TS datagrams from garbage', () => {
    const ts = Buffer.alloc(188 * 7, 0);
    for (let i = 0; i < 7; i++) ts[i * 188] = 0x47;
    expect(isMpegTs(ts)).toBe(true);
    expect(isMpegTs(ts.subarray(0, 1000))).toBe(false);
    ts[188 * 3] = 0;
    expect(isMpegTs(ts)).toBe(false);
  });
  it('names ffmpeg failures', () => {
    expect(classifyFfmpegFailure('[rtp @ 0x1] dimensions not set\nCould not write header', '1').label).toBe('no-parameter-sets');
    expect(classifyFfmpegFailure('method DESCRIBE failed: 401 Unauthorized', '1').label).toBe('source-auth');
    expect(classifyFfmpegFailure('something odd happened', '1')).toEqual({ label: 'ffmpeg-failed', reason: 'ffmpeg exited (1): something odd happened' });
  });
});
