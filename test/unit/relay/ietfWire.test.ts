import { describe, expect, it } from 'vitest';
import { ProtocolViolation } from '../../../relay/errors';
import { BufferReader } from '../../../relay/wire/BufferReader';
import { Encoder } from '../../../relay/wire/Encoder';
import {
  decodeClientSetup,
  decodeIetfSubscribe,
  decodeKeyValues,
  Draft14Error,
  encodeControl,
  encodeDraft14Error,
  encodeIetfSubscribeOk,
  encodeKeyValues,
  encodeObjectHeader,
  encodePublishDone,
  encodeRequestError,
  encodeServerSetup,
  encodeSubgroupHeader,
  IetfMessage,
  readControl,
} from '../../../relay/wire/ietf';
import { selectAlpn, isIetfAlpn, LISTENER_ALPNS } from '../../../relay/wire/alpn';
import { StreamReader } from '../../../relay/wire/StreamReader';

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
}

/** Splits one encoded control message into type and payload, checking the 16-bit length. */
function control(bytes: Uint8Array): { type: number; body: BufferReader } {
  const r = new BufferReader(bytes);
  const type = r.varint();
  const len = (r.u8() << 8) | r.u8();
  expect(r.remaining).toBe(len);
  return { type, body: new BufferReader(r.bytes(len)) };
}

describe('moq-transport draft-14/16 wire', () => {
  it('key-value parameters: delta-encoded sorted keys, varints on even keys, bytes on odd ones', () => {
    const e = new Encoder();
    encodeKeyValues(e, {
      varints: new Map([
        [0x20n, 5n],
        [2n, 100n],
      ]),
      bytes: new Map([[7n, new Uint8Array([1, 2])]]),
    });
    const bytes = e.finish();
    // count 3; key 2 (delta 2) = 100; key 7 (delta 5) = [1, 2]; key 0x20 (delta 25) = 5.
    expect([...bytes]).toEqual([3, 2, 0x40, 100, 5, 2, 1, 2, 25, 5]);
    const kv = decodeKeyValues(new BufferReader(bytes));
    expect(kv.varints.get(2n)).toBe(100n);
    expect(kv.varints.get(0x20n)).toBe(5n);
    expect([...kv.bytes.get(7n)!]).toEqual([1, 2]);
  });

  it('refuses repeated keys and too many parameters', () => {
    expect(() => decodeKeyValues(new BufferReader(new Uint8Array([2, 2, 1, 0, 1])))).toThrow(/repeated/);
    expect(() => decodeKeyValues(new BufferReader(new Encoder().varint(65).finish()))).toThrow(ProtocolViolation);
  });

  it('frames control messages with a varint type and a 16-bit length', async () => {
    const setup = encodeServerSetup(128n);
    const { type, body } = control(setup);
    expect(type).toBe(IetfMessage.SERVER_SETUP);
    expect(decodeKeyValues(body).varints.get(2n)).toBe(128n);
    const m = await readControl(new StreamReader(streamOf(setup.subarray(0, 2), setup.subarray(2))), 1024);
    expect(m?.type).toBe(IetfMessage.SERVER_SETUP);
    await expect(readControl(new StreamReader(streamOf(encodeControl(3, (e) => e.bytes(new Uint8Array(300))))), 100)).rejects.toThrow(
      /exceeds the 100-byte limit/,
    );
    expect(await readControl(new StreamReader(streamOf()), 100)).toBeUndefined();
  });

  it('decodes CLIENT_SETUP and SUBSCRIBE (namespace tuple, track, subscriber priority)', () => {
    const setup = encodeControl(IetfMessage.CLIENT_SETUP, (e) => encodeKeyValues(e, { varints: new Map([[2n, 42069n]]) }));
    expect(decodeClientSetup(control(setup).body).params.varints.get(2n)).toBe(42069n);
    const sub = encodeControl(IetfMessage.SUBSCRIBE, (e) => {
      e.varint(4).varint(2).string('room').string('cam').string('video');
      encodeKeyValues(e, { varints: new Map([[0x20n, 7n]]), bytes: new Map([[0x21n, new Uint8Array([1])]]) });
    });
    expect(decodeIetfSubscribe(control(sub).body)).toEqual({ requestId: 4n, namespace: ['room', 'cam'], track: 'video', priority: 7 });
    const noPriority = encodeControl(IetfMessage.SUBSCRIBE, (e) => {
      e.varint(0).varint(1).string('a').string('t');
      encodeKeyValues(e, {});
    });
    expect(decodeIetfSubscribe(control(noPriority).body).priority).toBe(128);
    const deep = encodeControl(IetfMessage.SUBSCRIBE, (e) => e.varint(0).varint(33));
    expect(() => decodeIetfSubscribe(control(deep).body)).toThrow(/at most 32/);
  });

  it('draft-14: non-delta parameters, CLIENT_SETUP version list, inline SUBSCRIBE fields, SUBSCRIBE_OK with expires and group order', () => {
    const e = new Encoder();
    encodeKeyValues(
      e,
      {
        varints: new Map([
          [0x20n, 5n],
          [2n, 100n],
        ]),
      },
      14,
    );
    expect([...e.finish()]).toEqual([2, 2, 0x40, 100, 0x20, 5]);
    const setup = encodeControl(IetfMessage.CLIENT_SETUP, (w) => w.varint(2).varint(0xff0dad02).varint(0xff00000e).varint(0));
    expect(decodeClientSetup(control(setup).body, 14).versions).toEqual([0xff0dad02, 0xff00000e]);
    const server = control(encodeServerSetup(64n, 14));
    expect(server.body.varint()).toBe(0xff00000e);
    const sub = encodeControl(IetfMessage.SUBSCRIBE, (w) =>
      w.varint(0).varint(1).string('a').string('t').u8(9).u8(2).bool(true).varint(4).varint(1).varint(0).varint(5).varint(0),
    );
    expect(decodeIetfSubscribe(control(sub).body, 14)).toEqual({ requestId: 0n, namespace: ['a'], track: 't', priority: 9 });
    const badFilter = encodeControl(IetfMessage.SUBSCRIBE, (w) => w.varint(0).varint(1).string('a').string('t').u8(9).u8(2).bool(true).varint(9).varint(0));
    expect(() => decodeIetfSubscribe(control(badFilter).body, 14)).toThrow(/filter type 9/);
    const ok = control(encodeIetfSubscribeOk(2n, 1n, 14));
    expect([ok.body.varint(), ok.body.varint(), ok.body.varint(), ok.body.u8(), ok.body.u8(), ok.body.varint()]).toEqual([2, 1, 0, 2, 0, 0]);
    const err = control(encodeDraft14Error(Draft14Error.PUBLISH_NAMESPACE_ERROR, 4n, 3, 'no'));
    expect([err.type, err.body.varint(), err.body.varint(), err.body.string()]).toEqual([0x08, 4, 3, 'no']);
  });

  it('encodes SUBSCRIBE_OK, REQUEST_ERROR and PUBLISH_DONE with their request id first', () => {
    const ok = control(encodeIetfSubscribeOk(6n, 3n));
    expect([ok.type, ok.body.varint(), ok.body.varint(), ok.body.varint()]).toEqual([IetfMessage.SUBSCRIBE_OK, 6, 3, 0]);
    const err = control(encodeRequestError(2n, 0x10, 'nope'));
    expect([err.type, err.body.varint(), err.body.varint(), err.body.varint(), err.body.string()]).toEqual([IetfMessage.REQUEST_ERROR, 2, 0x10, 0, 'nope']);
    const done = control(encodePublishDone(2n, 2, 'track ended'));
    expect([done.type, done.body.varint(), done.body.varint(), done.body.varint(), done.body.string()]).toEqual([
      IetfMessage.PUBLISH_DONE,
      2,
      2,
      0,
      'track ended',
    ]);
  });

  it('subgroup streams: header type 0x10, alias, group, priority; objects as id delta 0 and size', () => {
    expect([...encodeSubgroupHeader(1n, 70, 128)]).toEqual([0x10, 1, 0x40, 70, 128]);
    expect([...encodeObjectHeader(5)]).toEqual([0, 5]);
    expect([...encodeObjectHeader(0)]).toEqual([0, 0, 0]); // an empty object carries its status
  });

  it('listeners accept moq-lite first, then moqt-16, then moql (version in a pre-ALPN CLIENT_SETUP)', () => {
    expect(LISTENER_ALPNS).toEqual(['moq-lite-05', 'moq-lite-06-wip', 'moq-lite-04', 'moq-lite-03', 'moqt-16', 'moql']);
    expect(selectAlpn(['moqt-20', 'moqt-16', 'moq-lite-04'])).toBe('moq-lite-04');
    expect(selectAlpn(['moqt-17', 'moqt-16', 'moql'])).toBe('moqt-16');
    expect(selectAlpn(['moqt-17', 'moql'])).toBe('moql');
    expect(selectAlpn(['moqt-17', 'moqt-18'])).toBe('');
    expect(isIetfAlpn('moqt-16')).toBe(true);
    expect(isIetfAlpn('moq-lite-05')).toBe(false);
  });
});
