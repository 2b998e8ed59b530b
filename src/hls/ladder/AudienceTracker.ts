/**
 * What one stream's viewers did lately, as the audience policy needs it: when each rendition was
 * last requested (any playlist, init, part or segment request, CMCD or not), and per playback
 * session (CMCD `sid`) its recent measured throughput (`mtp`) — kept for `windowMs`, bounded in
 * sessions and samples.
 */
import { extractCmcd, type CmcdData } from '../CmcdIntake';
import { median, type Viewer } from './AudiencePolicy';

const MAX_SESSIONS = 10_000;
const SAMPLES_PER_SESSION = 8;

interface Session {
  lastSeen: number;
  rendition?: string;
  /** Recent `mtp` samples (kbps) with their times, oldest first. */
  samples: Array<{ at: number; kbps: number }>;
}

/** Per-stream audience data for the ladder policy. */
export class AudienceTracker {
  readonly #windowMs: number;
  readonly #lastRequest = new Map<string, number>();
  readonly #sessions = new Map<string, Session>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Notes a request for `rendition` (cheap: called on every HLS request of the stream). */
  noteRequest(rendition: string, now = Date.now()): void {
    this.#lastRequest.set(rendition, now);
  }

  /** Records a request's CMCD (`sid`, `mtp`) for `rendition` (also noting the request). */
  record(rendition: string | undefined, data: CmcdData, now = Date.now()): void {
    if (rendition) this.noteRequest(rendition, now);
    const sid = typeof data.sid === 'string' ? data.sid : undefined;
    if (!sid) return;
    let s = this.#sessions.get(sid);
    if (!s) {
      if (this.#sessions.size >= MAX_SESSIONS) this.prune(now);
      if (this.#sessions.size >= MAX_SESSIONS) return;
      this.#sessions.set(sid, (s = { lastSeen: now, samples: [] }));
    }
    s.lastSeen = now;
    if (rendition && rendition !== 'audio') s.rendition = rendition;
    const raw = Array.isArray(data.mtp) ? data.mtp[0] : data.mtp;
    if (typeof raw === 'number' && raw > 0) {
      s.samples.push({ at: now, kbps: raw });
      if (s.samples.length > SAMPLES_PER_SESSION) s.samples.shift();
    }
  }

  /** When each rendition was last requested (ms). */
  lastRequests(): Record<string, number> {
    return Object.fromEntries(this.#lastRequest);
  }

  /** Viewers with a throughput sample in the window: each one's median recent `mtp`. */
  viewers(now = Date.now()): Viewer[] {
    this.prune(now);
    const out: Viewer[] = [];
    for (const [id, s] of this.#sessions) {
      const recent = s.samples.filter((x) => now - x.at <= this.#windowMs).map((x) => x.kbps);
      if (recent.length > 0) out.push({ id, throughputKbps: median(recent) });
    }
    return out;
  }

  /** Sessions seen in the window, by the video rendition they last requested. */
  sessionsByRendition(now = Date.now()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.#sessions.values()) if (now - s.lastSeen <= this.#windowMs && s.rendition) out[s.rendition] = (out[s.rendition] ?? 0) + 1;
    return out;
  }

  /** Forgets sessions not seen in the window. */
  prune(now = Date.now()): void {
    for (const [id, s] of this.#sessions) if (now - s.lastSeen > this.#windowMs) this.#sessions.delete(id);
  }
}

/** Feeds a request to a stream's audience tracker, if its ladder adapts: the rendition fetched and the request's CMCD. */
export function noteAudience(
  stream: { audience?: AudienceTracker },
  rendition: string | undefined,
  query: URLSearchParams,
  headers: Record<string, string>,
  now = Date.now(),
): void {
  const audience = stream.audience;
  if (!audience) return;
  const parsed = extractCmcd(query, headers);
  if (parsed?.ok) audience.record(rendition, parsed.data, now);
  else if (rendition) audience.noteRequest(rendition, now);
}
