/**
 * Synchronous encoder for moq-lite messages: QUIC variable-length integers (RFC 9000 §16),
 * length-prefixed strings and raw bytes into a growable buffer.
 */

/** Largest value a QUIC varint carries (2^62 - 1). */
export const MAX_VARINT = (1n << 62n) - 1n;

const utf8 = new TextEncoder();

/** Bytes needed to encode `v` as a QUIC varint. */
export function varintSize(v: number | bigint): number {
  const n = BigInt(v);
  if (n < 0n || n > MAX_VARINT) throw new RangeError(`varint out of range: ${v}`);
  if (n < 64n) return 1;
  if (n < 16384n) return 2;
  if (n < 1073741824n) return 4;
  return 8;
}

/** Appends encoded values to an internal buffer; `finish()` returns the bytes. */
export class Encoder {
  #buf: Uint8Array;
  #len = 0;

  constructor(initialCapacity = 64) {
    this.#buf = new Uint8Array(initialCapacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** One byte. */
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`u8 out of range: ${v}`);
    this.#reserve(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  /** A boolean as one byte (0/1). */
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  /** A QUIC varint (number up to 2^53 or bigint up to 2^62). */
  varint(v: number | bigint): this {
    const size = varintSize(v);
    this.#reserve(size);
    const b = this.#buf;
    let i = this.#len;
    if (size === 1) {
      b[i] = Number(v);
    } else if (size === 2) {
      const n = Number(v);
      b[i++] = 0x40 | (n >> 8);
      b[i] = n & 0xff;
    } else if (size === 4) {
      const n = Number(v);
      b[i++] = 0x80 | ((n >>> 24) & 0x3f);
      b[i++] = (n >>> 16) & 0xff;
      b[i++] = (n >>> 8) & 0xff;
      b[i] = n & 0xff;
    } else {
      let n = BigInt(v);
      for (let k = 7; k >= 0; k--) {
        b[i + k] = Number(n & 0xffn);
        n >>= 8n;
      }
      b[i] = (b[i]! & 0x3f) | 0xc0;
    }
    this.#len += size;
    return this;
  }

  /** Raw bytes, no prefix. */
  bytes(v: Uint8Array): this {
    this.#reserve(v.byteLength);
    this.#buf.set(v, this.#len);
    this.#len += v.byteLength;
    return this;
  }

  /** A varint length followed by the bytes. */
  lengthPrefixed(v: Uint8Array): this {
    return this.varint(v.byteLength).bytes(v);
  }

  /** A UTF-8 string with a varint length prefix. */
  string(v: string): this {
    return this.lengthPrefixed(utf8.encode(v));
  }

  /** The encoded bytes (a copy-free view). */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/** Encodes one size-prefixed message whose body `body` writes. */
export function encodeMessage(body: (e: Encoder) => void): Uint8Array {
  const inner = new Encoder();
  body(inner);
  const bytes = inner.finish();
  return new Encoder(bytes.byteLength + 8).lengthPrefixed(bytes).finish();
}
