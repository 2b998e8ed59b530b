import { describe, expect, it } from 'vitest';
import { ProtocolViolation } from '../../../relay/errors';
import { BufferReader } from '../../../relay/wire/BufferReader';
import { Encoder, encodeMessage } from '../../../relay/wire/Encoder';
import { StreamReader } from '../../../relay/wire/StreamReader';
import {
  decodeAnnounce,
  decodeAnnounceRequest,
  decodeGroupHeader,
  decodeSubscribe,
  decodeSubscribeOk,
  decodePath,
  encodeAnnounce,
  encodeAnnounceRequest,
  encodeGroupHeader,
  encodeSubscribe,
  encodeSubscribeOk,
  Version,
  versionOfAlpn,
} from '../../../relay/wire/messages';

/** Strips the size prefix of one encoded message, checking it. */
function body(msg: Uint8Array): BufferReader {
  const r = new BufferReader(msg);
  const size = r.varint();
  expect(r.remaining).toBe(size);
  return new BufferReader(r.bytes(size));
}

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
}

describe('QUIC varints', () => {
  it('round-trip at every size boundary, including 62-bit bigints', () => {
    const values: Array<number | bigint> = [0, 63, 64, 16383, 16384, 1073741823, 1073741824, Number.MAX_SAFE_INTEGER, (1n << 62n) - 1n];
    for (const v of values) {
      const bytes = new Encoder().varint(v).finish();
      expect(bytes.byteLength).toBe(v === 0 || v === 63 ? 1 : v === 64 || v === 16383 ? 2 : v === 16384 || v === 1073741823 ? 4 : 8);
      expect(new BufferReader(bytes).varintBig()).toBe(BigInt(v));
    }
    expect(() => new Encoder().varint(1n << 62n)).toThrow(RangeError);
    expect(() => new Encoder().varint(-1)).toThrow(RangeError);
  });

  it('refuses a varint beyond 53 bits where a number is expected', () => {
    const bytes = new Encoder().varint(1n << 60n).finish();
    expect(() => new BufferReader(bytes).varint()).toThrow(ProtocolViolation);
  });
});

describe('moq-lite messages', () => {
  it('ANNOUNCE_REQUEST carries the exclude hop only in lite-04', () => {
    const m = { prefix: 'room/a', excludeHop: 123456789012345n };
    expect(decodeAnnounceRequest(body(encodeAnnounceRequest(m, Version.LITE_04)), Version.LITE_04)).toEqual(m);
    expect(decodeAnnounceRequest(body(encodeAnnounceRequest(m, Version.LITE_03)), Version.LITE_03)).toEqual({ prefix: 'room/a', excludeHop: 0n });
  });

  it('ANNOUNCE carries hop ids in lite-04 and only their count in lite-03', () => {
    const m = { active: true, suffix: 'cam', hops: [5n, 7n] };
    expect(decodeAnnounce(body(encodeAnnounce(m, Version.LITE_04)), Version.LITE_04)).toEqual(m);
    expect(decodeAnnounce(body(encodeAnnounce(m, Version.LITE_03)), Version.LITE_03)).toEqual({ active: true, suffix: 'cam', hops: [0n, 0n] });
    expect(decodeAnnounce(body(encodeAnnounce({ active: false, suffix: 'cam', hops: [1n] }, Version.LITE_04)), Version.LITE_04)).toEqual({
      active: false,
      suffix: 'cam',
      hops: [],
    });
  });

  it('SUBSCRIBE round-trips with optional start/end groups (encoded +1, 0 = none)', () => {
    const m = { id: 9n, broadcast: 'r/alice', track: 'video', priority: 60, ordered: false, maxLatency: 500, startGroup: 0, endGroup: undefined };
    expect(decodeSubscribe(body(encodeSubscribe(m)))).toEqual(m);
    const ok = encodeSubscribeOk({ priority: 1, ordered: true, maxLatency: 0 });
    expect(ok[0]).toBe(0);
    expect(decodeSubscribeOk(body(ok.subarray(1)))).toEqual({ priority: 1, ordered: true, maxLatency: 0, startGroup: undefined, endGroup: undefined });
  });

  it('GROUP headers start with the data stream type', () => {
    const bytes = encodeGroupHeader({ subscribe: 3n, sequence: 70000 });
    expect(bytes[0]).toBe(0);
    expect(decodeGroupHeader(body(bytes.subarray(1)))).toEqual({ subscribe: 3n, sequence: 70000 });
  });

  it('normalises paths and refuses more than 32 parts', () => {
    expect(decodePath('//a//b/')).toBe('a/b');
    expect(() => decodePath(Array.from({ length: 33 }, (_, i) => `p${i}`).join('/'))).toThrow(ProtocolViolation);
  });

  it('maps ALPNs to versions', () => {
    expect(versionOfAlpn('moq-lite-04')).toBe(Version.LITE_04);
    expect(versionOfAlpn('moq-lite-03')).toBe(Version.LITE_03);
    expect(versionOfAlpn('moq-lite-05')).toBeUndefined();
  });
});

describe('decoding bad input', () => {
  it('treats truncation, trailing bytes, bad booleans and bad UTF-8 as protocol violations', () => {
    expect(() => decodeSubscribe(new BufferReader(new Uint8Array([0x01])))).toThrow(ProtocolViolation);
    const withTrailing = encodeMessage((e) => e.string('p').varint(0).varint(7));
    expect(() => decodeAnnounceRequest(body(withTrailing), Version.LITE_04)).toThrow(/trailing/);
    expect(() => new BufferReader(new Uint8Array([2])).bool()).toThrow(/boolean/);
    expect(() => new BufferReader(new Uint8Array([2, 0xc3, 0x28])).string()).toThrow(/UTF-8/);
    expect(() => new BufferReader(new Encoder().string('x'.repeat(20)).finish()).string(10)).toThrow(/exceeds/);
  });

  it('checks a message size against the limit before buffering the body', async () => {
    const reader = new StreamReader(streamOf(new Encoder().varint(1_000_000).finish()));
    await expect(reader.message(1024)).rejects.toThrow(/exceeds the 1024-byte limit/);
  });

  it('reads messages split across chunks and reports a clean end', async () => {
    const msg = encodeAnnounceRequest({ prefix: 'a/b/c', excludeHop: 0n }, Version.LITE_03);
    const reader = new StreamReader(streamOf(msg.subarray(0, 2), msg.subarray(2, 4), msg.subarray(4)));
    expect(decodeAnnounceRequest(await reader.message(100), Version.LITE_03).prefix).toBe('a/b/c');
    expect(await reader.messageOrEnd(100)).toBeUndefined();
  });

  it('reports a stream that ends mid-message', async () => {
    const msg = encodeAnnounceRequest({ prefix: 'abc', excludeHop: 0n }, Version.LITE_03);
    await expect(new StreamReader(streamOf(msg.subarray(0, 3))).message(100)).rejects.toThrow(/ended mid-message/);
  });
});
