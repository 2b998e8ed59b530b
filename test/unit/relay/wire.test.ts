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
  spokenAlpns,
  SubscribeResponse05,
  Version,
  versionName,
  versionOfAlpn,
} from '../../../relay/wire/messages';
import {
  Announce06Type,
  decodeAnnounce06,
  decodeAnnounceOk,
  decodeFetch,
  decodeSetup,
  decodeSubscribeBound,
  decodeTrackInfo,
  decodeTrackRequest,
  encodeAnnounce06,
  encodeAnnounceOk,
  encodeFetch,
  encodeFrameHeader05,
  encodeSetup,
  encodeSubscribeDrop05,
  encodeSubscribeEnd,
  encodeSubscribeStart,
  encodeTrackInfo,
  encodeTrackRequest,
  unzigzag,
  zigzag,
} from '../../../relay/wire/lite05';

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

  it('maps ALPNs to versions, lite-05 preferred', () => {
    expect(versionOfAlpn('moq-lite-06-wip')).toBe(Version.LITE_06);
    expect(versionOfAlpn('moq-lite-05')).toBe(Version.LITE_05);
    expect(versionOfAlpn('moq-lite-04')).toBe(Version.LITE_04);
    expect(versionOfAlpn('moq-lite-03')).toBe(Version.LITE_03);
    expect(versionOfAlpn('moq-lite-02')).toBeUndefined();
    expect(versionOfAlpn('moq-transport-16')).toBeUndefined();
    expect(spokenAlpns()[0]).toBe('moq-lite-05');
    expect(versionName(Version.LITE_06)).toBe('moq-lite-06-wip');
  });
});

describe('moq-lite-05 and -06 messages', () => {
  it('ANNOUNCE_REQUEST carries the exclude hop in lite-05 but not in lite-06', () => {
    const m = { prefix: 'room', excludeHop: 42n };
    expect(decodeAnnounceRequest(body(encodeAnnounceRequest(m, Version.LITE_05)), Version.LITE_05)).toEqual(m);
    const six = encodeAnnounceRequest(m, Version.LITE_06);
    expect(decodeAnnounceRequest(body(six), Version.LITE_06)).toEqual({ prefix: 'room', excludeHop: 0n });
    expect(six.byteLength).toBe(1 + 1 + 4);
  });

  it('lite-05 ANNOUNCE accepts status 2 (restart) as active; lite-04 refuses it', () => {
    const restart = encodeMessage((e) => e.u8(2).string('cam').varint(1).varint(9));
    expect(decodeAnnounce(body(restart), Version.LITE_05)).toEqual({ active: true, suffix: 'cam', hops: [9n] });
    expect(() => decodeAnnounce(body(restart), Version.LITE_04)).toThrow(/invalid announce status/);
  });

  it('ANNOUNCE_OK, lite-06 typed announcements with ids and route cost', () => {
    expect(decodeAnnounceOk(body(encodeAnnounceOk({ origin: (1n << 61n) + 3n, active: 2 })))).toEqual({ origin: (1n << 61n) + 3n, active: 2 });
    const start = encodeAnnounce06({ type: Announce06Type.START, suffix: 'a/b', hops: [7n], cost: 0n }, Version.LITE_06);
    expect(start[0]).toBe(Announce06Type.START);
    expect(decodeAnnounce06(start[0]!, body(start.subarray(1)), Version.LITE_06)).toEqual({ type: 0, suffix: 'a/b', hops: [7n], cost: 0n });
    const end = encodeAnnounce06({ type: Announce06Type.END, id: 5n }, Version.LITE_06);
    expect(decodeAnnounce06(end[0]!, body(end.subarray(1)), Version.LITE_06)).toEqual({ type: 1, id: 5n });
    const restart = encodeAnnounce06({ type: Announce06Type.RESTART, id: 1n, hops: [], cost: 4n }, Version.LITE_06);
    expect(decodeAnnounce06(restart[0]!, body(restart.subarray(1)), Version.LITE_06)).toEqual({ type: 2, id: 1n, hops: [], cost: 4n });
    expect(() => decodeAnnounce06(3, new BufferReader(new Uint8Array(0)), Version.LITE_06)).toThrow(/unknown announce message type/);
  });

  it('SETUP carries the origin id; duplicate or too many parameters are violations', () => {
    const setup = decodeSetup(body(encodeSetup(123456789n)));
    expect(setup.origin).toBe(123456789n);
    expect(setup.role).toBe(0);
    expect(decodeSetup(body(encodeSetup(0n))).params.size).toBe(0);
    const dup = encodeMessage((e) =>
      e
        .varint(2)
        .varint(1)
        .lengthPrefixed(new Uint8Array([1]))
        .varint(1)
        .lengthPrefixed(new Uint8Array([1])),
    );
    expect(() => decodeSetup(body(dup))).toThrow(/repeats parameter/);
    expect(() => decodeSetup(body(encodeMessage((e) => e.varint(65))))).toThrow(/at most 64/);
    const role = encodeMessage((e) =>
      e
        .varint(1)
        .varint(3)
        .lengthPrefixed(new Uint8Array([2])),
    );
    expect(decodeSetup(body(role)).role).toBe(2);
    const badOrigin = encodeMessage((e) =>
      e
        .varint(1)
        .varint(5)
        .lengthPrefixed(new Uint8Array([0x40])),
    );
    expect(() => decodeSetup(body(badOrigin))).toThrow(/malformed varint/);
  });

  it('TRACK, TRACK_INFO (timescale never 0) and FETCH round-trip', () => {
    expect(decodeTrackRequest(body(encodeTrackRequest({ broadcast: 'r/cam', track: 'video' })))).toEqual({ broadcast: 'r/cam', track: 'video' });
    const info = { priority: 3, ordered: true, latencyMax: 2000, timescale: 90_000 };
    expect(decodeTrackInfo(body(encodeTrackInfo(info)))).toEqual(info);
    expect(() => decodeTrackInfo(body(encodeMessage((e) => e.u8(0).bool(false).varint(0).varint(0))))).toThrow(/timescale is 0/);
    const f = { broadcast: 'r/cam', track: 'audio', priority: 9, group: 77 };
    expect(decodeFetch(body(encodeFetch(f)))).toEqual(f);
  });

  it('SUBSCRIBE_START / END / DROP use lite-05 response types', () => {
    const start = encodeSubscribeStart(12);
    expect(start[0]).toBe(SubscribeResponse05.START);
    expect(decodeSubscribeBound(body(start.subarray(1)))).toBe(12);
    const end = encodeSubscribeEnd(20);
    expect(end[0]).toBe(SubscribeResponse05.END);
    expect(decodeSubscribeBound(body(end.subarray(1)))).toBe(20);
    expect(encodeSubscribeDrop05({ start: 1, end: 2, error: 3 })[0]).toBe(SubscribeResponse05.DROP);
  });

  it('frame timestamps are zigzag deltas from the previous frame', () => {
    for (const n of [0n, 1n, -1n, 2n, -2n, 1n << 40n, -(1n << 40n)]) expect(unzigzag(zigzag(n))).toBe(n);
    expect([0n, -1n, 1n, -2n, 2n].map(zigzag)).toEqual([0n, 1n, 2n, 3n, 4n]);
    const r = new BufferReader(encodeFrameHeader05(1000, 1033, 5));
    expect(unzigzag(r.varintBig())).toBe(-33n);
    expect(r.varint()).toBe(5);
    r.end();
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
