/**
 * Bytes received on one stream and not yet parsed: chunks are appended as they arrive and HTTP/3
 * values (QUIC varints, fixed-size fields) are taken off the front once complete. A read that
 * needs more bytes returns undefined and consumes nothing.
 */

/** An append-only byte queue with non-consuming varint peeks. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** Bytes buffered. */
  get length(): number {
    return this.#length;
  }

  /** Appends a chunk (kept by reference). */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.byteLength;
  }

  #byteAt(i: number): number {
    for (const c of this.#chunks) {
      if (i < c.byteLength) return c[i]!;
      i -= c.byteLength;
    }
    throw new RangeError('byte queue underflow');
  }

  /** The varint at `offset` (value and encoded size) without consuming it, or undefined if incomplete. */
  peekVarint(offset = 0): { value: number; size: number } | undefined {
    if (this.#length <= offset) return undefined;
    const first = this.#byteAt(offset);
    const size = 1 << (first >> 6);
    if (this.#length < offset + size) return undefined;
    let value = first & 0x3f;
    for (let i = 1; i < size; i++) value = value * 256 + this.#byteAt(offset + i);
    return { value, size };
  }

  /** Takes a varint off the front, or undefined if incomplete. */
  varint(): number | undefined {
    const v = this.peekVarint();
    if (v) this.skip(v.size);
    return v?.value;
  }

  /** Takes `n` bytes off the front (n ≤ length). */
  take(n: number): Uint8Array {
    if (n > this.#length) throw new RangeError('byte queue underflow');
    const first = this.#chunks[0];
    if (first && first.byteLength >= n) {
      const out = first.subarray(0, n);
      this.#drop(n);
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      this.#drop(k);
    }
    return out;
  }

  /** Drops `n` bytes off the front (n ≤ length). */
  skip(n: number): void {
    if (n > this.#length) throw new RangeError('byte queue underflow');
    while (n > 0) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.byteLength, n);
      this.#drop(k);
      n -= k;
    }
  }

  /** Everything buffered, emptying the queue. */
  takeAll(): Uint8Array[] {
    const out = this.#chunks;
    this.#chunks = [];
    this.#length = 0;
    return out;
  }

  #drop(n: number): void {
    const c = this.#chunks[0]!;
    if (n === c.byteLength) this.#chunks.shift();
    else this.#chunks[0] = c.subarray(n);
    this.#length -= n;
  }
}

/** Encodes a QUIC varint (RFC 9000 §16). */
export function encodeVarint(v: number): Uint8Array {
  if (v < 0 || !Number.isSafeInteger(v)) throw new RangeError(`varint out of range: ${v}`);
  if (v < 0x40) return Uint8Array.of(v);
  if (v < 0x4000) return Uint8Array.of(0x40 | (v >> 8), v & 0xff);
  if (v < 0x40000000) return Uint8Array.of(0x80 | (v >>> 24), (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const out = new Uint8Array(8);
  let x = v;
  for (let i = 7; i >= 0; i--) {
    out[i] = x % 256;
    x = Math.floor(x / 256);
  }
  out[0]! |= 0xc0;
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
