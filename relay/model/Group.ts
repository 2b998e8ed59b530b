/**
 * One group of a track held in memory: frames appended by a producer (an upstream session or
 * an in-process publisher) and read concurrently by any number of downstream pumps, each with
 * its own cursor.
 */
import { StreamCode, StreamError } from '../errors';

/** Size limits of a group. */
export interface GroupLimits {
  /** Largest total payload (bytes) before the group is aborted with GROUP_TOO_LARGE. */
  maxBytes: number;
  /** Most frames before the group is aborted with GROUP_TOO_LARGE. */
  maxFrames: number;
}

/** Default limits: 32 MiB or 8192 frames. */
export const DEFAULT_GROUP_LIMITS: GroupLimits = { maxBytes: 32 * 1024 * 1024, maxFrames: 8192 };

/** Frame timestamp units per second of a track whose producer gave none: microseconds. */
export const DEFAULT_TIMESCALE = 1_000_000;

/** Microseconds since the Unix epoch (the timestamp of a frame that came without one). */
export function wallClockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** A group: an ordered list of frames, finished or aborted once. */
export class Group {
  readonly sequence: number;
  /** When the group was created (performance.now() ms). */
  readonly createdAt = performance.now();
  readonly #frames: Uint8Array[] = [];
  /** Each frame's timestamp in its track's timescale (moq-lite-05 carries one per frame). */
  readonly #timestamps: number[] = [];
  readonly #limits: GroupLimits;
  #bytes = 0;
  #finished = false;
  #error: Error | undefined;
  #waiters: Array<() => void> = [];

  constructor(sequence: number, limits: GroupLimits = DEFAULT_GROUP_LIMITS) {
    this.sequence = sequence;
    this.#limits = limits;
  }

  /** Frames written so far. */
  get frameCount(): number {
    return this.#frames.length;
  }

  /** Total payload bytes written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True once finished or aborted. */
  get closed(): boolean {
    return this.#finished || this.#error !== undefined;
  }

  /** The abort reason, if aborted. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** The frame at `index` (undefined if not written yet). */
  frame(index: number): Uint8Array | undefined {
    return this.#frames[index];
  }

  /** The timestamp of the frame at `index`, in the track's timescale. */
  timestamp(index: number): number | undefined {
    return this.#timestamps[index];
  }

  /**
   * Appends a frame; aborts the group instead when a limit would be exceeded. A frame that
   * arrives without a timestamp (moq-lite-03/04, in-process producers) is stamped with the
   * wall clock in microseconds, the default timescale ({@link DEFAULT_TIMESCALE}).
   */
  write(payload: Uint8Array, timestamp: number = wallClockMicros()): void {
    if (this.closed) throw new StreamError(StreamCode.INTERNAL, `group ${this.sequence} is closed`);
    if (this.#bytes + payload.byteLength > this.#limits.maxBytes || this.#frames.length >= this.#limits.maxFrames) {
      this.abort(new StreamError(StreamCode.GROUP_TOO_LARGE, `group ${this.sequence} exceeds its size budget`));
      return;
    }
    this.#frames.push(payload);
    this.#timestamps.push(timestamp);
    this.#bytes += payload.byteLength;
    this.#wake();
  }

  /** Marks the group complete. Idempotent. */
  finish(): void {
    if (this.closed) return;
    this.#finished = true;
    this.#wake();
  }

  /** Aborts the group; readers see `err`. Idempotent. */
  abort(err: Error): void {
    if (this.closed) return;
    this.#error = err;
    this.#wake();
  }

  /** Resolves once more than `index` frames exist or the group closed. */
  wait(index: number): Promise<void> {
    if (this.#frames.length > index || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
