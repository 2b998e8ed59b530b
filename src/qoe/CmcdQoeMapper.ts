/**
 * Maps CMCD (v1/v2) from LL-HLS players that do not use the SDK onto the five QoE figures of the
 * `hls` path, as far as CMCD allows:
 *
 * - startup: `msd` (media start delay, v2), once per `sid`;
 * - rebuffering: watch time is the time between a session's requests (at most 10 s each, none
 *   while `pr=0`); stalled time is `bsd` (v2) clamped to it; a stall is `bs` or `sta=r`;
 * - bitrate: `br` (encoded bitrate of the object requested) over that watch time;
 * - latency: `ltc` (v2);
 * - failure: `sta=f` (reason `cmcd_fatal`); `sta=e`/`q` end the session normally.
 *
 * Sessions are CMCD `sid`s; requests without one count nothing here. A `sid` an SDK client made
 * (`sq-…`, from `client.qoe.cmcdSessionId()`) or declared in a report (`cmcdSid`) is skipped:
 * that viewer is already counted by its SDK reports.
 */
import type { CmcdData, CmcdTarget, CmcdValue } from '../hls/CmcdIntake';
import { QOE_CMCD_SID_PREFIX } from '../protocol/signaling';
import type { QoeIntakeContext } from './QoeIntake';
import type { QoeSample } from './QoeSeries';

/** Longest gap between two requests of a session still counted as watching (ms). */
const MAX_GAP_MS = 10_000;

function num(v: CmcdValue | undefined): number | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined;
}

/** The CMCD → QoE mapping. */
export class CmcdQoeMapper {
  readonly #ctx: QoeIntakeContext;

  constructor(ctx: QoeIntakeContext) {
    this.#ctx = ctx;
  }

  /** Counts one valid CMCD payload of an HLS request. */
  record(target: CmcdTarget, d: CmcdData, nowMs = Date.now()): void {
    const ctx = this.#ctx;
    const sid = typeof d.sid === 'string' ? d.sid : undefined;
    if (!sid || sid.startsWith(QOE_CMCD_SID_PREFIX) || ctx.sessions.isClaimedCmcd(sid)) return;
    const key = `cmcd\u0000${target.room}\u0000${target.stream}\u0000${sid}`;
    let session = ctx.sessions.get(key);
    let started = false;
    let gapMs = 0;
    if (session) {
      gapMs = Math.min(MAX_GAP_MS, Math.max(0, nowMs - session.lastSeenMs));
      ctx.label(target.room, target.stream, nowMs);
    } else {
      const label = ctx.label(target.room, target.stream, nowMs);
      session = {
        key,
        viewer: 'cmcd',
        label,
        path: 'hls',
        stream: target.stream,
        rendition: 'unknown',
        startedAtMs: nowMs,
        lastSeenMs: nowMs,
        firstFrame: false,
      };
      const refusal = ctx.sessions.admit(session);
      if (refusal) {
        ctx.ignored(refusal);
        return;
      }
      started = true;
    }
    session.lastSeenMs = nowMs;
    const br = num(d.br);
    if (br !== undefined) session.rendition = ctx.rendition(session.label, `${Math.round(br)}k`);
    // Time between requests is watching once playback began, unless the player says it is paused.
    const watching = session.firstFrame && d.pr !== 0 && d.sta !== 'a';
    const watchMs = watching ? gapMs : 0;
    const sample: QoeSample = {
      watchMs,
      stallMs: Math.min(num(d.bsd) ?? 0, watchMs),
      stalls: d.bs === true || d.sta === 'r' ? 1 : 0,
      bytes: br !== undefined ? (br * watchMs) / 8 : 0,
      started,
    };
    const msd = num(d.msd);
    if (msd !== undefined && !session.firstFrame) {
      session.firstFrame = true;
      sample.startupMs = Math.min(msd, 120_000);
    } else if (!session.firstFrame && (d.sta === 'p' || d.ot === 'v' || d.ot === 'av')) {
      // A v1 player (no msd) that fetches media or says it plays has started; its startup is unknown.
      session.firstFrame = true;
    }
    const ltc = num(d.ltc);
    if (ltc !== undefined) sample.latencyMs = Math.min(ltc, 120_000);
    const end = d.sta === 'f' ? { failed: true, reason: 'cmcd_fatal' } : d.sta === 'e' || d.sta === 'q' ? { failed: false } : undefined;
    ctx.record(session, sample, nowMs, end);
  }
}
