/**
 * Turns `reportQoe` batches from SDK viewers into samples: rate-limited per viewer identity,
 * each entry matched to its playback session (admitted within the per-viewer and node limits, for
 * a stream of the viewer's own room only), and every value clamped to what the time since the
 * session's previous report allows, so a hostile or broken client adds at most its own real
 * watching time and never touches another room's figures.
 */
import { SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { RequestParams, ResponseData } from '../protocol/signaling';
import type { QoeConfig } from './qoeConfig';
import type { PlaybackSession, PlaybackSessions } from './PlaybackSessions';
import type { QoeSample } from './QoeSeries';
import type { StreamLabel } from './StreamLabels';

/** Who sent a report: the signaling session's room and token identity. */
export interface QoeReporter {
  room: string;
  identity: string;
}

/** What the intake needs from the QoE service. */
export interface QoeIntakeContext {
  readonly sessions: PlaybackSessions;
  /** Whether `stream` is (or recently was) published in `room`. */
  knownStream(room: string, stream: string): boolean;
  /** The bounded label of a stream (marks it active). */
  label(room: string, stream: string, nowMs: number): StreamLabel;
  /** The bounded rendition name within a stream. */
  rendition(label: StreamLabel, rendition: string): string;
  /** Counts a sample of a session; `ended` closes it (failed when `reason` is given). */
  record(session: PlaybackSession, sample: QoeSample, nowMs: number, end?: { failed: boolean; reason?: string }): void;
  /** Counts an entry that was not used. */
  ignored(reason: string): void;
  /** Counts a whole batch by outcome. */
  reportOutcome(outcome: string): void;
}

/** Longest startup or latency kept (ms); more is clamped. */
const MAX_FIGURE_MS = 120_000;
/** Longest span one report may cover for one session (ms). */
const MAX_REPORT_SPAN_MS = 60_000;
/** Slack for timers and network delay when clamping watch time to the time since the last report (ms). */
const SPAN_SLACK_MS = 2_000;

interface Bucket {
  tokens: number;
  atMs: number;
}

/** The SDK report intake. */
export class QoeIntake {
  readonly #config: QoeConfig;
  readonly #ctx: QoeIntakeContext;
  readonly #buckets = new Map<string, Bucket>();

  constructor(config: QoeConfig, ctx: QoeIntakeContext) {
    this.#config = config;
    this.#ctx = ctx;
  }

  /** Handles one batch. @throws RATE_LIMITED when the viewer sent too many batches. */
  report(from: QoeReporter, params: RequestParams<'reportQoe'>, nowMs = Date.now()): ResponseData['reportQoe'] {
    const viewer = `${from.room}\u0000${from.identity}`;
    if (!this.#take(viewer, nowMs)) {
      this.#ctx.reportOutcome('rate_limited');
      throw new SubsecError(ErrorCode.RATE_LIMITED, `more than ${this.#config.maxReportsPerMinute} QoE reports per minute`);
    }
    this.#ctx.reportOutcome('accepted');
    let accepted = 0;
    let ignored = 0;
    for (const entry of params.sessions) {
      const reason = this.#entry(viewer, from.room, entry, nowMs);
      if (reason) {
        ignored++;
        this.#ctx.ignored(reason);
      } else accepted++;
    }
    return { accepted, ignored, intervalMs: this.#config.reportIntervalMs };
  }

  /** Drops rate-limit state of viewers whose bucket has refilled (called every few seconds). */
  sweep(nowMs: number): void {
    const full = this.#config.maxReportsPerMinute;
    for (const [viewer, b] of this.#buckets) if (b.tokens + ((nowMs - b.atMs) / 60_000) * full >= full) this.#buckets.delete(viewer);
  }

  #take(viewer: string, nowMs: number): boolean {
    const capacity = this.#config.maxReportsPerMinute;
    const b = this.#buckets.get(viewer) ?? { tokens: capacity, atMs: nowMs };
    b.tokens = Math.min(capacity, b.tokens + ((nowMs - b.atMs) / 60_000) * capacity);
    b.atMs = nowMs;
    this.#buckets.set(viewer, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Applies one entry; returns why it was ignored, if it was. */
  #entry(viewer: string, room: string, e: RequestParams<'reportQoe'>['sessions'][number], nowMs: number): string | undefined {
    const ctx = this.#ctx;
    const key = `sdk\u0000${viewer}\u0000${e.id}`;
    let session = ctx.sessions.get(key);
    let started = false;
    let spanMs: number;
    if (session) {
      if (session.stream !== e.stream || session.path !== e.path) return 'mismatch';
      spanMs = nowMs - session.lastSeenMs + SPAN_SLACK_MS;
      ctx.label(room, e.stream, nowMs);
    } else {
      if (!ctx.knownStream(room, e.stream)) return 'unknown_stream';
      const label = ctx.label(room, e.stream, nowMs);
      session = { key, viewer, label, path: e.path, stream: e.stream, rendition: 'unknown', startedAtMs: nowMs, lastSeenMs: nowMs, firstFrame: false };
      const refusal = ctx.sessions.admit(session);
      if (refusal) return refusal;
      started = true;
      // The first report covers the time since playback began, which the node did not see.
      spanMs = MAX_REPORT_SPAN_MS;
    }
    session.lastSeenMs = nowMs;
    if (e.rendition) session.rendition = ctx.rendition(session.label, e.rendition);
    if (e.cmcdSid) ctx.sessions.claimCmcd(session, e.cmcdSid);
    const watchMs = Math.min(e.watchMs, spanMs, MAX_REPORT_SPAN_MS);
    const stallMs = Math.min(e.stallMs ?? 0, watchMs);
    const sample: QoeSample = {
      watchMs,
      stallMs,
      // A stall needs some stalled time; a report cannot hold more stalls than 10 per second watched.
      stalls: Math.min(e.stalls ?? 0, Math.ceil(watchMs / 100) + 1),
      bytes: Math.min(e.bytes ?? 0, (watchMs * this.#config.maxBitrateKbps) / 8),
      started,
    };
    if (e.startupMs !== undefined && !session.firstFrame) {
      session.firstFrame = true;
      sample.startupMs = Math.min(e.startupMs, MAX_FIGURE_MS);
    }
    if (e.latencyMs !== undefined) sample.latencyMs = Math.min(e.latencyMs, MAX_FIGURE_MS);
    const end = e.end === undefined ? undefined : { failed: e.end === 'failed', reason: e.end === 'failed' ? (e.reason ?? 'unknown') : undefined };
    ctx.record(session, sample, nowMs, end);
    return undefined;
  }
}
