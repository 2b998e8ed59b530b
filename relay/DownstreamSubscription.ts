/**
 * One subscription a peer holds on a track at this relay: opens a unidirectional stream per
 * group (newest groups and higher priorities get the higher send order), copies frames as they
 * arrive, and drops a stale group when a newer one has started and the old one still has not
 * gone out `staleGroupMs` later (the link is congested; the player wants the new keyframe).
 */
import type { Logger } from '../src/core/logger';
import { StreamCode, streamCodeOf } from './errors';
import type { Group } from './model/Group';
import type { Track } from './model/Track';
import type { RelayStats } from './RelayStats';
import type { MoqTransport } from './transport/MoqTransport';
import { encodeFrameHeader05 } from './wire/lite05';
import { encodeFrameSize, encodeGroupHeader } from './wire/messages';
import { StreamWriter } from './wire/StreamWriter';

const GROUP_SPAN = 2 ** 40;

/** The WebTransport send order of a group: priority dominates, newer groups first. */
export function groupSendOrder(priority: number, sequence: number): number {
  const p = Math.min(Math.max(Math.trunc(priority), 0), 255);
  // Negative so control streams (send order 0) are never starved by media.
  return -((255 - p) * GROUP_SPAN + (GROUP_SPAN - 1 - (sequence % GROUP_SPAN)) + 1);
}

interface Pump {
  group: Group;
  writer: StreamWriter | undefined;
  finished: boolean;
  cancelled: boolean;
  staleTimer: NodeJS.Timeout | undefined;
  /** Resolves when the pump is cancelled, to unblock a wait for frames. */
  abort: Promise<void>;
  wakeAbort: () => void;
}

/** How a group stream is framed: moq-lite's GROUP header and frames, or another protocol's. */
export interface GroupFraming {
  /** Bytes that open the stream of group `sequence` (stream type and header). */
  header(sequence: number): Uint8Array;
  /** Bytes before the frame at `index` (its size; lite-05+ also its timestamp delta from `previous`). */
  frameHeader(index: number, timestamp: number, previous: number, size: number): Uint8Array;
}

/** moq-lite group framing for subscription `id`, with timestamps (lite-05+) or without. */
export function liteFraming(id: bigint, timestamps: boolean): GroupFraming {
  return {
    header: (sequence) => encodeGroupHeader({ subscribe: id, sequence }),
    frameHeader: (_index, timestamp, previous, size) => (timestamps ? encodeFrameHeader05(timestamp, previous, size) : encodeFrameSize(size)),
  };
}

/** Options of {@link DownstreamSubscription}. */
export interface DownstreamSubscriptionOptions {
  transport: MoqTransport;
  /** Subscription id chosen by the peer. */
  id: bigint;
  track: Track;
  priority: number;
  staleGroupMs: number;
  stats: RelayStats;
  log: Logger;
  /** moq-lite-05+: every frame is preceded by its timestamp (zigzag delta from the previous one). */
  timestamps?: boolean;
  /** Group stream framing (default: moq-lite's, per `timestamps`). */
  framing?: GroupFraming;
  /** Called once with the sequence of the first group delivered (moq-lite-05's SUBSCRIBE_START). */
  onFirstGroup?: (sequence: number) => void;
}

/** Serves one track to one peer until closed. */
export class DownstreamSubscription {
  readonly id: bigint;
  #priority: number;
  readonly #options: DownstreamSubscriptionOptions;
  readonly #pumps = new Set<Pump>();
  readonly #onGroup = (g: Group) => this.#start(g);
  #idle: Array<() => void> = [];
  #closed = false;
  #newest = -1;
  #started = false;
  #end = 0;
  readonly #framing: GroupFraming;

  constructor(options: DownstreamSubscriptionOptions) {
    this.#options = options;
    this.#framing = options.framing ?? liteFraming(options.id, options.timestamps ?? false);
    this.id = options.id;
    this.#priority = options.priority;
  }

  /** One past the highest group sequence delivered so far (moq-lite-05's SUBSCRIBE_END). */
  get end(): number {
    return this.#end;
  }

  /** Groups currently being sent. */
  get inflight(): number {
    return this.#pumps.size;
  }

  /** Starts at the latest cached group (or `startGroup` if still cached), then follows live. */
  start(startGroup?: number): void {
    const { track } = this.#options;
    const first = (startGroup !== undefined ? track.cached(startGroup) : undefined) ?? track.latest();
    track.on('group', this.#onGroup);
    if (first && !(first.closed && first.error)) this.#start(first);
  }

  /** Applies a SUBSCRIBE_UPDATE's priority to groups still in flight. */
  setPriority(priority: number): void {
    this.#priority = priority;
  }

  /** Resolves once every in-flight group finished (used before FIN on track end). */
  drain(): Promise<void> {
    if (this.#pumps.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops: cancels in-flight groups with `code`. Idempotent. */
  close(code: number = StreamCode.CANCELLED): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.track.off('group', this.#onGroup);
    for (const p of this.#pumps) this.#cancel(p, code);
  }

  #start(group: Group): void {
    if (this.#closed) return;
    if (!this.#started) {
      this.#started = true;
      this.#options.onFirstGroup?.(group.sequence);
    }
    this.#end = Math.max(this.#end, group.sequence + 1);
    if (group.sequence > this.#newest) {
      this.#newest = group.sequence;
      // Older groups still going out now have a deadline.
      for (const p of this.#pumps) {
        if (p.group.sequence < group.sequence && !p.staleTimer && !p.finished) {
          p.staleTimer = setTimeout(() => {
            if (p.finished) return;
            this.#options.stats.groupsDropped++;
            this.#cancel(p, StreamCode.OLD);
          }, this.#options.staleGroupMs);
        }
      }
    }
    let wakeAbort!: () => void;
    const abort = new Promise<void>((resolve) => {
      wakeAbort = resolve;
    });
    const pump: Pump = { group, writer: undefined, finished: false, cancelled: false, staleTimer: undefined, abort, wakeAbort };
    this.#pumps.add(pump);
    this.#run(pump).then(
      () => this.#finish(pump),
      (err: unknown) => {
        this.#options.log.debug('group delivery failed', { sub: String(this.id), group: group.sequence, error: err });
        this.#finish(pump);
      },
    );
  }

  #finish(p: Pump): void {
    p.finished = true;
    clearTimeout(p.staleTimer);
    this.#pumps.delete(p);
    if (this.#pumps.size === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  #cancel(p: Pump, code: number): void {
    if (p.cancelled || p.finished) return;
    p.cancelled = true;
    clearTimeout(p.staleTimer);
    p.wakeAbort();
    p.writer?.reset(code, 'group cancelled');
  }

  async #run(p: Pump): Promise<void> {
    const { transport, stats } = this.#options;
    const writable = await transport.createUnidirectionalStream({ sendOrder: groupSendOrder(this.#priority, p.group.sequence) });
    const writer = new StreamWriter(writable);
    p.writer = writer;
    if (p.cancelled || this.#closed) {
      writer.reset(StreamCode.CANCELLED);
      return;
    }
    stats.groupsOut++;
    await writer.write(this.#framing.header(p.group.sequence));
    let index = 0;
    let previous = 0;
    for (;;) {
      if (p.cancelled) return;
      const frame = p.group.frame(index);
      if (frame) {
        const ts = p.group.timestamp(index)!;
        await writer.write(this.#framing.frameHeader(index, ts, previous, frame.byteLength));
        previous = ts;
        await writer.write(frame);
        stats.framesOut++;
        stats.bytesOut += frame.byteLength;
        index++;
        continue;
      }
      if (p.group.closed) break;
      await Promise.race([p.group.wait(index), p.abort]);
    }
    if (p.cancelled) return;
    const err = p.group.error;
    if (err) writer.reset(streamCodeOf(err) ?? StreamCode.INTERNAL, err.message);
    else writer.close();
  }
}
