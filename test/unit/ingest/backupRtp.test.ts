/** Primary/backup pieces: RTP continuity across sources, H264 key-frame detection, the `role=` field of RTMP keys and SRT stream ids. */
import { describe, expect, it } from 'vitest';
import { RtpRewriter, h264KeyFrameStart, rtpSeq, rtpTimestamp } from '../../../src/ingest/backup/rtpRewrite';
import { parseStreamKey } from '../../../src/ingest/rtmp/streamKey';
import { parseStreamId } from '../../../src/ingest/srt/streamId';

/** An RTP packet: version 2, `pt`, seq, timestamp, ssrc, payload. */
function rtp(seq: number, ts: number, payload: number[], { ssrc = 0x1111, pt = 96, marker = false, extension = false } = {}): Buffer {
  const ext = extension ? [0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0] : [];
  const head = Buffer.alloc(12);
  head[0] = 0x80 | (extension ? 0x10 : 0);
  head[1] = (marker ? 0x80 : 0) | pt;
  head.writeUInt16BE(seq, 2);
  head.writeUInt32BE(ts, 4);
  head.writeUInt32BE(ssrc, 8);
  return Buffer.concat([head, Buffer.from(ext), Buffer.from(payload)]);
}

describe('RtpRewriter', () => {
  it('keeps SSRC, payload type, sequence numbers and timestamps continuous across a source change', () => {
    const out = new RtpRewriter(0xabcdef, 102, 90000);
    const a1 = rtp(65534, 4_294_960_000, [0x41], { ssrc: 1, pt: 100, marker: true });
    out.rebase(a1, 0);
    const s1 = out.rewrite(a1, 0);
    // The output numbers its packets from 0 and keeps the first source's timestamps.
    expect([rtpSeq(s1), rtpTimestamp(s1), s1.readUInt32BE(8), s1[1]]).toEqual([0, 4_294_960_000, 0xabcdef, 0x80 | 102]);
    const s2 = out.rewrite(rtp(65535, (4_294_960_000 + 3600) >>> 0, [0x41], { ssrc: 1 }), 40);
    expect(rtpSeq(s2)).toBe(1);
    expect(rtpTimestamp(s2)).toBe((4_294_960_000 + 3600) >>> 0);
    // Another source with its own numbers, 100 ms later: seq follows on, the timestamp advances by the wall clock.
    const b1 = rtp(17, 123_456, [0x65], { ssrc: 2, pt: 97 });
    out.rebase(b1, 140);
    const s3 = out.rewrite(b1, 140);
    expect(rtpSeq(s3)).toBe(2);
    expect(rtpTimestamp(s3)).toBe((4_294_960_000 + 3600 + 9000) >>> 0);
    expect(s3.readUInt32BE(8)).toBe(0xabcdef);
    expect(s3[1]).toBe(102);
    const s4 = out.rewrite(rtp(18, 123_456 + 3600, [0x41], { ssrc: 2 }), 180);
    expect(rtpSeq(s4)).toBe(3);
    expect(rtpTimestamp(s4)).toBe((4_294_960_000 + 3600 + 9000 + 3600) >>> 0);
    expect(out.sent).toBe(4);
  });

  it('places a rebase at a given output timestamp and never moves the last timestamp back', () => {
    const out = new RtpRewriter(5, 111, 48000);
    out.rebase(rtp(1, 1000, [1]), 0);
    out.rewrite(rtp(1, 1000, [1]), 0);
    out.rebase(rtp(500, 7, [1]), 10, 5000);
    expect(rtpTimestamp(out.rewrite(rtp(500, 7, [1]), 10))).toBe(5000);
    expect(out.lastTimestamp).toBe(5000);
    // An older packet (a late retransmission) is sent but does not rewind the clock or sequence.
    out.rewrite(rtp(499, 0, [1]), 11);
    expect(out.lastTimestamp).toBe(5000);
    expect(out.expectedTimestamp(11)).toBe(5000 + 48);
  });
});

describe('h264KeyFrameStart', () => {
  it('finds SPS and IDR in single NAL units, STAP-A and FU-A starts, past header extensions', () => {
    expect(h264KeyFrameStart(rtp(1, 0, [0x67, 0x42]))).toBe(true); // SPS
    expect(h264KeyFrameStart(rtp(1, 0, [0x65, 0x88]))).toBe(true); // IDR slice
    expect(h264KeyFrameStart(rtp(1, 0, [0x41, 0x9a]))).toBe(false); // non-IDR slice
    expect(h264KeyFrameStart(rtp(1, 0, [0x68, 0xce]))).toBe(false); // PPS alone
    expect(h264KeyFrameStart(rtp(1, 0, [0x78, 0, 2, 0x09, 0x10, 0, 3, 0x67, 0x42, 0x00]))).toBe(true); // STAP-A: AUD, SPS
    expect(h264KeyFrameStart(rtp(1, 0, [0x78, 0, 2, 0x09, 0x10, 0, 2, 0x68, 0xce]))).toBe(false); // STAP-A: AUD, PPS
    expect(h264KeyFrameStart(rtp(1, 0, [0x7c, 0x85, 0x88]))).toBe(true); // FU-A start of an IDR
    expect(h264KeyFrameStart(rtp(1, 0, [0x7c, 0x05, 0x88]))).toBe(false); // FU-A continuation
    expect(h264KeyFrameStart(rtp(1, 0, [0x7c, 0x81, 0x88]))).toBe(false); // FU-A start of a non-IDR slice
    expect(h264KeyFrameStart(rtp(1, 0, [0x67, 0x42], { extension: true }))).toBe(true);
    expect(h264KeyFrameStart(Buffer.from([0x80, 96, 0, 1]))).toBe(false); // truncated
  });
});

describe('role addressing', () => {
  it('reads role=primary|backup from an RTMP key and refuses other roles', () => {
    expect(parseStreamKey('live', 'r1/cam?token=t&role=backup', 'live')).toEqual({ room: 'r1', stream: 'cam', token: 't', role: 'backup' });
    expect(parseStreamKey('live?role=primary', 'r1/cam?token=t', 'live')).toEqual({ room: 'r1', stream: 'cam', token: 't', role: 'primary' });
    expect(parseStreamKey('live', 'r1/cam?token=t', 'live')).toEqual({ room: 'r1', stream: 'cam', token: 't' });
    expect(parseStreamKey('live', 'r1/cam?token=t&role=spare', 'live')).toEqual({ error: 'role must be primary or backup, not "spare"' });
  });
  it('reads role= from an SRT stream id', () => {
    expect(parseStreamId('#!::r=r1/cam,m=publish,t=tok,role=backup')).toEqual({ room: 'r1', stream: 'cam', mode: 'publish', token: 'tok', role: 'backup' });
    expect(parseStreamId('#!::r=r1/cam,t=tok')).toEqual({ room: 'r1', stream: 'cam', mode: 'publish', token: 'tok' });
    expect(parseStreamId('#!::r=r1/cam,t=tok,role=main')).toEqual({ error: 'role must be primary or backup, not "main"' });
  });
});
