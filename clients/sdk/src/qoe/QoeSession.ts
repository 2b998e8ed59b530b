/**
 * The QoE collector of one playback session, whatever the path: a player tells it what happens
 * (first frame, stalls, pauses, bytes or bitrate, latency, rendition, end or failure) and the
 * {@link QoeReporter} drains it into `reportQoe` entries. The WebRTC and media-element trackers
 * feed it themselves; a custom player (a MoQ one) can call `frame()` for every frame it shows
 * and get stalls detected from frame gaps.
 */
import type { QoeSessionReport } from '../../../../src/protocol/signaling';

/** A delivery path. */
export type QoePath = 'webrtc' | 'moq' | 'hls';

/** What a playback session is doing. */
export type QoeSessionState = 'starting' | 'playing' | 'stalled' | 'ended' | 'failed';

/** Options of {@link QoeReporter.startSession}. */
export interface QoeSessionInit {
  /** Identity of the publisher watched. */
  stream: string;
  path: QoePath;
  /** When playback was asked for (`performance.now()`; default now): startup time counts from here. */
  startedAt?: number;
  /** The CMCD session id the player also sends (so the node does not count the viewer twice). */
  cmcdSid?: string;
}

/** Information a custom player passes with each frame it shows. */
export interface QoeFrameInfo {
  /** Encoded size of the frame (bytes). */
  bytes?: number;
  /** Latency of this frame: the node's clock now minus the frame's capture time (ms). */
  latencyMs?: number;
}

let counter = 0;

/** A short random session id (letters and digits). */
function sessionId(): string {
  const random = globalThis.crypto?.randomUUID?.().replace(/-/g, '').slice(0, 16) ?? Math.random().toString(36).slice(2, 14);
  return `${random}${(counter++).toString(36)}`;
}

/** Reasons are reported as short codes: letters, digits, `_ . : -`, at most 64. */
function cleanReason(reason: string): string {
  return reason.replace(/[^A-Za-z0-9_.:-]+/g, '_').slice(0, 64) || 'unknown';
}

/** One playback session's collector. Create with `client.qoe.startSession()`. */
export class QoeSession {
  readonly id = sessionId();
  readonly stream: string;
  readonly path: QoePath;
  readonly startedAt: number;
  readonly cmcdSid?: string;
  #state: QoeSessionState = 'starting';
  #paused = false;
  #firstFrameAt?: number;
  #startupPending?: number;
  /** Time counted as watched/stalled up to `#accountedAt`. */
  #accountedAt = 0;
  #watchMs = 0;
  #stallMs = 0;
  #stalls = 0;
  #bytes = 0;
  #bitrateBps = 0;
  #latencySum = 0;
  #latencyN = 0;
  #rendition?: string;
  #reason?: string;
  #lastFrameAt?: number;
  #frameIntervalMs = 0;
  readonly #onChange: () => void;

  /** @internal Use `client.qoe.startSession()`. */
  constructor(init: QoeSessionInit, onChange: () => void) {
    if (typeof init.stream !== 'string' || init.stream.length === 0 || init.stream.length > 128) throw new TypeError('stream must be 1-128 characters');
    if (init.path !== 'webrtc' && init.path !== 'moq' && init.path !== 'hls') throw new TypeError("path must be 'webrtc', 'moq' or 'hls'");
    this.stream = init.stream;
    this.path = init.path;
    this.startedAt = init.startedAt ?? performance.now();
    if (init.cmcdSid) this.cmcdSid = init.cmcdSid.slice(0, 64);
    this.#onChange = onChange;
  }

  /** What the session is doing now. */
  get state(): QoeSessionState {
    return this.#state;
  }

  /** Whether the session ended or failed. */
  get done(): boolean {
    return this.#state === 'ended' || this.#state === 'failed';
  }

  /** Startup time, once the first frame was shown (ms). */
  get startupMs(): number | undefined {
    return this.#firstFrameAt === undefined ? undefined : this.#firstFrameAt - this.startedAt;
  }

  /** The first frame is on screen (at `at`, `performance.now()` time; default now). Later calls do nothing. */
  firstFrame(at = performance.now()): void {
    if (this.done || this.#firstFrameAt !== undefined) return;
    this.#firstFrameAt = Math.max(at, this.startedAt);
    this.#startupPending = this.#firstFrameAt - this.startedAt;
    this.#accountedAt = this.#firstFrameAt;
    this.#state = 'playing';
    this.#onChange();
  }

  /** Playback stalled (rebuffering, frozen picture). Ignored before the first frame and while paused. */
  stallStart(at = performance.now()): void {
    if (this.#state !== 'playing' || this.#paused) return;
    this.#account(at);
    this.#state = 'stalled';
    this.#stalls++;
  }

  /** Playback resumed after a stall. */
  stallEnd(at = performance.now()): void {
    if (this.#state !== 'stalled') return;
    this.#account(at);
    this.#state = 'playing';
  }

  /** Adds stalls measured elsewhere (e.g. WebRTC freeze statistics): `durationMs` in total. */
  addStall(durationMs: number, count = 1): void {
    if (this.#firstFrameAt === undefined || this.done || !(durationMs >= 0) || !(count >= 0)) return;
    this.#stallMs += durationMs;
    this.#stalls += Math.round(count);
  }

  /** The viewer (or the publisher) paused: paused time is neither watched nor stalled. */
  setPaused(paused: boolean, at = performance.now()): void {
    if (this.#paused === paused || this.done) return;
    this.#account(at);
    this.#paused = paused;
    if (paused && this.#state === 'stalled') this.#state = 'playing';
    this.#lastFrameAt = undefined;
  }

  /** Media bytes received. */
  addBytes(bytes: number): void {
    if (bytes > 0 && Number.isFinite(bytes)) this.#bytes += bytes;
  }

  /**
   * Bitrate of the rendition playing from `at` on (`performance.now()` time; default now), when
   * bytes are not known (bits/s): bytes accrue with watched time.
   */
  setBitrate(bps: number, at = performance.now()): void {
    if (bps >= 0 && Number.isFinite(bps)) {
      this.#account(at);
      this.#bitrateBps = bps;
    }
  }

  /** An end-to-end latency measurement (ms). */
  latency(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.#latencySum += ms;
    this.#latencyN++;
  }

  /** The rendition playing now (`720p`, `l2`…). */
  rendition(name: string): void {
    const clean = name.replace(/[^A-Za-z0-9_.-]+/g, '').slice(0, 16);
    if (clean) this.#rendition = clean;
  }

  /**
   * A frame was shown (for players that see every frame, like a WebCodecs MoQ player): the first
   * one is the first frame; a gap longer than max(3 × the usual interval, usual + 150 ms) — the
   * WebRTC freeze definition — counts as a stall of the excess.
   */
  frame(info: QoeFrameInfo = {}, at = performance.now()): void {
    if (this.done) return;
    if (info.bytes !== undefined) this.addBytes(info.bytes);
    if (info.latencyMs !== undefined) this.latency(info.latencyMs);
    if (this.#firstFrameAt === undefined) this.firstFrame(at);
    const last = this.#lastFrameAt;
    this.#lastFrameAt = at;
    if (this.#state === 'stalled') {
      // A gap already counted as an ongoing stall by a drain.
      this.stallEnd(at);
      return;
    }
    if (last === undefined || this.#paused) return;
    const gap = at - last;
    const usual = this.#frameIntervalMs;
    if (usual > 0 && gap > Math.max(3 * usual, usual + 150)) {
      this.addStall(gap - usual);
      return;
    }
    this.#frameIntervalMs = usual === 0 ? gap : usual * 0.9 + gap * 0.1;
  }

  /** Playback is over. Idempotent; the last report follows. */
  end(): void {
    this.#finish('ended');
  }

  /** Playback failed with `reason` (an error code or short name). Idempotent. */
  fail(reason: string): void {
    this.#reason = cleanReason(String(reason));
    this.#finish('failed');
  }

  /** @internal The session's figures since the previous drain, as a report entry. */
  _drain(now = performance.now()): QoeSessionReport {
    const usual = this.#frameIntervalMs;
    const last = this.#lastFrameAt;
    // Frames stopped coming: the gap so far is a stall (frame() ends it).
    if (this.#state === 'playing' && last !== undefined && usual > 0 && now - last > Math.max(3 * usual, usual + 150)) this.stallStart(last + usual);
    if (!this.done) this.#account(now);
    const report: QoeSessionReport = {
      id: this.id,
      stream: this.stream,
      path: this.path,
      watchMs: Math.round(this.#watchMs),
    };
    if (this.#stallMs > 0) report.stallMs = Math.round(Math.min(this.#stallMs, this.#watchMs));
    if (this.#stalls > 0) report.stalls = this.#stalls;
    if (this.#bytes > 0) report.bytes = Math.round(this.#bytes);
    if (this.#startupPending !== undefined) report.startupMs = Math.round(this.#startupPending);
    if (this.#latencyN > 0) report.latencyMs = Math.round(this.#latencySum / this.#latencyN);
    if (this.#rendition) report.rendition = this.#rendition;
    if (this.cmcdSid) report.cmcdSid = this.cmcdSid;
    if (this.done) report.end = this.#state === 'failed' ? 'failed' : 'ended';
    if (this.#reason && this.#state === 'failed') report.reason = this.#reason;
    this.#watchMs = this.#stallMs = this.#stalls = this.#bytes = this.#latencySum = this.#latencyN = 0;
    this.#startupPending = undefined;
    return report;
  }

  /** Counts the time since the last accounting as watched (and stalled), unless paused or not started. */
  #account(at: number): void {
    if (this.#firstFrameAt === undefined) return;
    const span = Math.max(0, at - this.#accountedAt);
    this.#accountedAt = Math.max(this.#accountedAt, at);
    if (this.#paused || this.done) return;
    this.#watchMs += span;
    if (this.#state === 'stalled') this.#stallMs += span;
    if (this.#bitrateBps > 0) this.#bytes += (this.#bitrateBps * span) / 8000;
  }

  #finish(state: 'ended' | 'failed'): void {
    if (this.done) return;
    this.#account(performance.now());
    this.#state = state;
    this.#onChange();
  }
}
