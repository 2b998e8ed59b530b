/**
 * AMF0 (Adobe Action Message Format 0), the encoding of RTMP commands and data messages:
 * numbers, booleans, strings, objects, null/undefined, ECMA and strict arrays, dates.
 * Decoding is bounded (nesting depth, value count) and throws {@link Amf0Error} on bad input.
 */

/** A decoded AMF0 value. */
export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Value[] | { [key: string]: Amf0Value };

/** Malformed AMF0 input. */
export class Amf0Error extends Error {}

const MAX_DEPTH = 16;
const MAX_VALUES = 10_000;

/** Decodes every value in `buf` (a command: name, transaction id, object, arguments...). */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const state = { buf, pos: 0, values: 0 };
  const out: Amf0Value[] = [];
  while (state.pos < buf.length) out.push(readValue(state, 0));
  return out;
}

interface ReadState {
  buf: Buffer;
  pos: number;
  values: number;
}

function need(s: ReadState, n: number): void {
  if (s.pos + n > s.buf.length) throw new Amf0Error('truncated AMF0 value');
}

function readString(s: ReadState, long: boolean): string {
  need(s, long ? 4 : 2);
  const len = long ? s.buf.readUInt32BE(s.pos) : s.buf.readUInt16BE(s.pos);
  s.pos += long ? 4 : 2;
  need(s, len);
  const str = s.buf.toString('utf8', s.pos, s.pos + len);
  s.pos += len;
  return str;
}

function readProperties(s: ReadState, depth: number): { [key: string]: Amf0Value } {
  const obj: { [key: string]: Amf0Value } = Object.create(null);
  for (;;) {
    need(s, 3);
    if (s.buf.readUInt16BE(s.pos) === 0 && s.buf[s.pos + 2] === 0x09) {
      s.pos += 3;
      return obj;
    }
    const key = readString(s, false);
    obj[key] = readValue(s, depth + 1);
  }
}

function readValue(s: ReadState, depth: number): Amf0Value {
  if (depth > MAX_DEPTH) throw new Amf0Error('AMF0 nesting too deep');
  if (++s.values > MAX_VALUES) throw new Amf0Error('too many AMF0 values');
  need(s, 1);
  const marker = s.buf[s.pos++]!;
  switch (marker) {
    case 0x00: {
      need(s, 8);
      const n = s.buf.readDoubleBE(s.pos);
      s.pos += 8;
      return n;
    }
    case 0x01:
      need(s, 1);
      return s.buf[s.pos++] !== 0;
    case 0x02:
      return readString(s, false);
    case 0x03:
      return readProperties(s, depth);
    case 0x05:
      return null;
    case 0x06:
      return undefined;
    case 0x08:
      need(s, 4);
      s.pos += 4; // advisory count
      return readProperties(s, depth);
    case 0x0a: {
      need(s, 4);
      const count = s.buf.readUInt32BE(s.pos);
      s.pos += 4;
      if (count > MAX_VALUES) throw new Amf0Error('AMF0 array too long');
      const arr: Amf0Value[] = [];
      for (let i = 0; i < count; i++) arr.push(readValue(s, depth + 1));
      return arr;
    }
    case 0x0b: {
      need(s, 10);
      const ms = s.buf.readDoubleBE(s.pos);
      s.pos += 10; // + 2 bytes time zone
      return new Date(ms);
    }
    case 0x0c:
      return readString(s, true);
    default:
      throw new Amf0Error(`unsupported AMF0 marker 0x${marker.toString(16)}`);
  }
}

/** Encodes values one after another (a command or a data message). */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) writeValue(parts, v);
  return Buffer.concat(parts);
}

function stringBytes(str: string): Buffer {
  const body = Buffer.from(str, 'utf8');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(Math.min(body.length, 0xffff));
  return Buffer.concat([head, body.subarray(0, 0xffff)]);
}

function writeValue(parts: Buffer[], v: Amf0Value): void {
  if (v === null) parts.push(Buffer.from([0x05]));
  else if (v === undefined) parts.push(Buffer.from([0x06]));
  else if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') parts.push(Buffer.from([0x01, v ? 1 : 0]));
  else if (typeof v === 'string') parts.push(Buffer.from([0x02]), stringBytes(v));
  else if (v instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = 0x0b;
    b.writeDoubleBE(v.getTime(), 1);
    parts.push(b);
  } else if (Array.isArray(v)) {
    const head = Buffer.alloc(5);
    head[0] = 0x0a;
    head.writeUInt32BE(v.length, 1);
    parts.push(head);
    for (const item of v) writeValue(parts, item);
  } else {
    parts.push(Buffer.from([0x03]));
    for (const [key, value] of Object.entries(v)) {
      parts.push(stringBytes(key));
      writeValue(parts, value);
    }
    parts.push(Buffer.from([0x00, 0x00, 0x09]));
  }
}
