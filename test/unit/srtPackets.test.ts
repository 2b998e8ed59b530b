/** SRT handshake packets and stream ids, checked against the byte layout libsrt 1.5 sends. */
import { describe, expect, it } from 'vitest';
import {
  HS_CONCLUSION,
  inductionFrom,
  inductionResponse,
  parseHandshake,
  rejection,
  RejectReason,
  shutdownPacket,
  withCookie,
  withTimestampDelay,
} from '../../src/ingest/srt/srtPackets';
import { parseStreamId } from '../../src/ingest/srt/streamId';

/** A conclusion request as libsrt writes it: header, 48-byte CIF, SID extension in reversed words. */
function conclusion(streamId: string): Buffer {
  const sid = Buffer.alloc(Math.ceil(streamId.length / 4) * 4);
  sid.write(streamId);
  for (let i = 0; i < sid.length; i += 4) sid.subarray(i, i + 4).reverse();
  const p = Buffer.alloc(16 + 48 + 4 + sid.length);
  p.writeUInt16BE(0x8000, 0);
  const c = p.subarray(16);
  c.writeUInt32BE(5, 0);
  c.writeInt32BE(HS_CONCLUSION, 20);
  c.writeUInt32BE(0x1234, 24);
  c.writeUInt32BE(0xcafe, 28);
  c.writeUInt16BE(5, 48);
  c.writeUInt16BE(sid.length / 4, 50);
  sid.copy(c, 52);
  return p;
}

describe('SRT handshake packets', () => {
  it('reads the stream id of a conclusion and strips NUL padding', () => {
    const hs = parseHandshake(conclusion('#!::r=room/cam,t=abc.def'))!;
    expect(hs).toMatchObject({ version: 5, type: HS_CONCLUSION, socketId: 0x1234, cookie: 0xcafe, streamId: '#!::r=room/cam,t=abc.def' });
  });

  it('builds induction responses, rejections, cookie swaps and shutdowns addressed to the caller', () => {
    const req = conclusion('x');
    const ind = inductionResponse(inductionFrom(req), 77, 99);
    expect(ind.readUInt32BE(12)).toBe(0x1234);
    expect(parseHandshake(ind)).toMatchObject({ version: 5, type: 1, socketId: 99, cookie: 77 });
    expect(ind.readUInt16BE(16 + 6)).toBe(0x4a17);
    const rej = rejection(req, RejectReason.UNAUTHORIZED);
    expect(parseHandshake(rej)!.type).toBe(1000 + 1401);
    expect(parseHandshake(withCookie(req, 5))!.cookie).toBe(5);
    const bye = shutdownPacket(0x1234);
    expect(bye.readUInt16BE(0)).toBe(0x8005);
    expect(bye.readUInt32BE(12)).toBe(0x1234);
  });

  it('moves a held handshake timestamp later by the time it was held, wrapping at 32 bits', () => {
    const req = conclusion('#!::r=live/cam1,t=tok');
    req.writeUInt32BE(1_000, 8);
    const held = withTimestampDelay(req, 250_000);
    expect(held.readUInt32BE(8)).toBe(251_000);
    expect(req.readUInt32BE(8)).toBe(1_000); // the original is untouched
    expect(parseHandshake(held)!.streamId).toBe('#!::r=live/cam1,t=tok');
    req.writeUInt32BE(0xffff_fff0, 8);
    expect(withTimestampDelay(req, 0x20).readUInt32BE(8)).toBe(0x10);
  });

  it('ignores data packets, short packets and lying extension lengths', () => {
    expect(parseHandshake(Buffer.alloc(64))).toBeUndefined();
    expect(parseHandshake(Buffer.from([0x80, 0, 0, 0]))).toBeUndefined();
    const bad = conclusion('abcd');
    bad.writeUInt16BE(500, 16 + 50);
    expect(parseHandshake(bad)).toBeUndefined();
  });
});

describe('parseStreamId', () => {
  it('accepts the access control syntax with room/stream, defaults m to publish', () => {
    expect(parseStreamId('#!::r=live/cam1,t=tok')).toEqual({ room: 'live', stream: 'cam1', mode: 'publish', token: 'tok' });
    expect(parseStreamId('#!::t=tok,m=publish,r=live,s=cam1')).toEqual({ room: 'live', stream: 'cam1', mode: 'publish', token: 'tok' });
  });

  it('explains what is wrong', () => {
    expect(parseStreamId(undefined)).toEqual({ error: expect.stringMatching(/no stream id/) });
    expect(parseStreamId('live/cam1')).toEqual({ error: expect.stringMatching(/#!::/) });
    expect(parseStreamId('#!::r=live,t=x')).toEqual({ error: expect.stringMatching(/stream name/) });
    expect(parseStreamId('#!::r=li ve/cam,t=x')).toEqual({ error: expect.stringMatching(/r=<room>\/<stream>/) });
    expect(parseStreamId('#!::r=live/cam1')).toEqual({ error: expect.stringMatching(/no token/) });
    expect(parseStreamId('#!::junk')).toEqual({ error: expect.stringMatching(/malformed/) });
  });
});
