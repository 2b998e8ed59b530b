/**
 * Buffered async reader over a transport's receive stream: varints, size-prefixed messages
 * (with a size limit, so an oversized message is a protocol violation before it is buffered)
 * and length-prefixed frames.
 */
import { ProtocolViolation } from '../errors';
import { BufferReader } from './BufferReader';

/** Reads moq-lite values from a ReadableStream of byte chunks. */
export class StreamReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #eof = false;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#eof = true;
      return false;
    }
    if (value.byteLength > 0) {
      this.#chunks.push(value instanceof Uint8Array ? value : new Uint8Array(value));
      this.#buffered += value.byteLength;
    }
    return true;
  }

  async #ensure(n: number): Promise<void> {
    while (this.#buffered < n) {
      if (!(await this.#fill())) throw new ProtocolViolation('stream ended mid-message');
    }
  }

  #peekByte(): number {
    return this.#chunks[0]![0]!;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength === n) {
      this.#chunks.shift();
      this.#buffered -= n;
      return first;
    }
    if (first.byteLength > n) {
      this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const take = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, take), off);
      off += take;
      if (take === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    this.#buffered -= n;
    return out;
  }

  /** True once the peer finished the stream and every byte was read. */
  async done(): Promise<boolean> {
    while (this.#buffered === 0) {
      if (!(await this.#fill())) return true;
    }
    return false;
  }

  /** A QUIC varint that fits a JS number. */
  async varint(): Promise<number> {
    await this.#ensure(1);
    const size = 1 << (this.#peekByte() >> 6);
    await this.#ensure(size);
    return new BufferReader(this.#take(size)).varint();
  }

  /** A QUIC varint with all 62 bits (bigint). */
  async varintBig(): Promise<bigint> {
    await this.#ensure(1);
    const size = 1 << (this.#peekByte() >> 6);
    await this.#ensure(size);
    return new BufferReader(this.#take(size)).varintBig();
  }

  /** `n` bytes. */
  async bytes(n: number): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0);
    await this.#ensure(n);
    return this.#take(n);
  }

  /**
   * A size-prefixed message body, at most `maxSize` bytes; the size is checked before any
   * of the body is buffered.
   */
  async message(maxSize: number): Promise<BufferReader> {
    const size = await this.varint();
    if (size > maxSize) throw new ProtocolViolation(`message of ${size} bytes exceeds the ${maxSize}-byte limit`);
    return new BufferReader(await this.bytes(size));
  }

  /** Like {@link message} but resolves undefined on a clean end of stream. */
  async messageOrEnd(maxSize: number): Promise<BufferReader | undefined> {
    if (await this.done()) return undefined;
    return this.message(maxSize);
  }

  /** Stops reading, telling the peer with `reason` (STOP_SENDING). */
  cancel(reason?: unknown): void {
    this.#reader.cancel(reason).catch(() => undefined);
  }

  /** Resolves when the peer finishes the stream; rejects when it resets it. */
  get closed(): Promise<void> {
    return this.#reader.closed;
  }
}
