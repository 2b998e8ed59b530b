/**
 * Writer over a transport's send stream with backpressure (waits for `ready` before each
 * write), FIN (`close`) and RESET with a stream code (`reset`). Write failures surface on the
 * next call or on `closed`, never as unhandled rejections.
 */
import { StreamError } from '../errors';

/** Writes bytes to one send stream. */
export class StreamWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #failed: unknown;
  #done = false;

  constructor(writable: WritableStream<Uint8Array>) {
    this.#writer = writable.getWriter();
    this.#writer.closed.catch((err: unknown) => {
      this.#failed ??= err ?? new Error('stream closed');
    });
  }

  /** True once closed, reset or failed. */
  get done(): boolean {
    return this.#done || this.#failed !== undefined;
  }

  /** Resolves when the stream ends (FIN acknowledged or reset); rejects on a peer STOP_SENDING. */
  get closed(): Promise<void> {
    return this.#writer.closed;
  }

  /** Queues bytes once the transport has room. Throws when the stream already failed. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#done) throw new Error('stream already closed');
    await this.#writer.ready;
    this.#writer.write(bytes).catch((err: unknown) => {
      this.#failed ??= err ?? new Error('write failed');
    });
  }

  /** Finishes the stream (FIN). Idempotent; never throws. */
  close(): void {
    if (this.done) return;
    this.#done = true;
    this.#writer.close().catch(() => undefined);
  }

  /** Resets the stream with `code`. Idempotent; never throws. */
  reset(code: number, message = 'reset'): void {
    if (this.#done) return;
    this.#done = true;
    this.#writer.abort(new StreamError(code, message)).catch(() => undefined);
  }
}
