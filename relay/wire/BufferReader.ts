/**
 * Synchronous decoder over one message body already in memory. Every read is bounds-checked;
 * running short or a bad value throws a {@link ProtocolViolation}, which ends the session.
 */
import { ProtocolViolation } from '../errors';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads moq-lite primitives from a byte array. */
export class BufferReader {
  readonly #buf: Uint8Array;
  #pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#buf.byteLength - this.#pos;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.byteLength) throw new ProtocolViolation('message truncated');
  }

  /** One byte. */
  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  /** A boolean byte; anything but 0/1 is a violation. */
  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new ProtocolViolation(`invalid boolean ${v}`);
    return v === 1;
  }

  /** A QUIC varint as bigint (full 62 bits). */
  varintBig(): bigint {
    this.#need(1);
    const first = this.#buf[this.#pos]!;
    const size = 1 << (first >> 6);
    this.#need(size);
    let v = BigInt(first & 0x3f);
    for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(this.#buf[this.#pos + i]!);
    this.#pos += size;
    return v;
  }

  /** A QUIC varint that must fit a JS number (≤ 2^53 - 1). */
  varint(): number {
    this.#need(1);
    const first = this.#buf[this.#pos]!;
    const size = 1 << (first >> 6);
    if (size <= 4) {
      this.#need(size);
      let v = first & 0x3f;
      for (let i = 1; i < size; i++) v = v * 256 + this.#buf[this.#pos + i]!;
      this.#pos += size;
      return v;
    }
    const big = this.varintBig();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolViolation('varint exceeds 53 bits');
    return Number(big);
  }

  /** `n` raw bytes (a view, not a copy). */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** A varint-length-prefixed UTF-8 string of at most `max` bytes. */
  string(max = 4096): string {
    const len = this.varint();
    if (len > max) throw new ProtocolViolation(`string of ${len} bytes exceeds ${max}`);
    try {
      return utf8.decode(this.bytes(len));
    } catch (err) {
      if (err instanceof ProtocolViolation) throw err;
      throw new ProtocolViolation('invalid UTF-8', { cause: err });
    }
  }

  /** Throws unless every byte was consumed (trailing bytes are a violation). */
  end(): void {
    if (this.remaining !== 0) throw new ProtocolViolation(`${this.remaining} trailing bytes in message`);
  }
}
