/**
 * The playback sessions the node currently hears about (SDK reports and CMCD players): what
 * stream and path each watches, whether it reached a first frame, when it last reported. Bounded
 * per viewer and in total; a session that stops reporting expires after the TTL.
 */
import type { QoePath } from '../protocol/signaling';
import type { StreamLabel } from './StreamLabels';

/** One playback session. */
export interface PlaybackSession {
  readonly key: string;
  /** Who reports it (`room\0identity` for SDK viewers, `cmcd` for CMCD players). */
  readonly viewer: string;
  readonly label: StreamLabel;
  readonly path: QoePath;
  /** The stream identity as reported (the label may be `other`). */
  readonly stream: string;
  rendition: string;
  readonly startedAtMs: number;
  lastSeenMs: number;
  firstFrame: boolean;
  /** The CMCD session id an SDK session declared (its CMCD requests are not counted again). */
  cmcdSid?: string;
}

/** Why a new session was not admitted. */
export type AdmitRefusal = 'viewer_limit' | 'node_limit';

/** The session table. */
export class PlaybackSessions {
  readonly #sessions = new Map<string, PlaybackSession>();
  readonly #perViewer = new Map<string, number>();
  readonly #claimedCmcd = new Set<string>();
  readonly #maxTotal: number;
  readonly #maxPerViewer: number;

  /** `maxTotal` sessions on the node, `maxPerViewer` per reporting viewer (CMCD players have none). */
  constructor(maxTotal: number, maxPerViewer: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerViewer = maxPerViewer;
  }

  /** A session by key. */
  get(key: string): PlaybackSession | undefined {
    return this.#sessions.get(key);
  }

  /** Admits a new session, or says why not. */
  admit(session: PlaybackSession): AdmitRefusal | undefined {
    if (this.#sessions.size >= this.#maxTotal) return 'node_limit';
    const n = this.#perViewer.get(session.viewer) ?? 0;
    if (session.viewer !== 'cmcd' && n >= this.#maxPerViewer) return 'viewer_limit';
    this.#sessions.set(session.key, session);
    this.#perViewer.set(session.viewer, n + 1);
    return undefined;
  }

  /** Records the CMCD session id an SDK session also reports under. */
  claimCmcd(session: PlaybackSession, sid: string): void {
    if (session.cmcdSid) return;
    session.cmcdSid = sid;
    this.#claimedCmcd.add(sid);
  }

  /** Whether an SDK session already reports this CMCD session. */
  isClaimedCmcd(sid: string): boolean {
    return this.#claimedCmcd.has(sid);
  }

  /** Removes a session. */
  delete(session: PlaybackSession): void {
    if (this.#sessions.get(session.key) !== session) return;
    this.#sessions.delete(session.key);
    if (session.cmcdSid) this.#claimedCmcd.delete(session.cmcdSid);
    const n = (this.#perViewer.get(session.viewer) ?? 1) - 1;
    if (n <= 0) this.#perViewer.delete(session.viewer);
    else this.#perViewer.set(session.viewer, n);
  }

  /** Removes and returns the sessions silent for `ttlMs`. */
  expire(nowMs: number, ttlMs: number): PlaybackSession[] {
    const out: PlaybackSession[] = [];
    for (const s of this.#sessions.values()) if (nowMs - s.lastSeenMs >= ttlMs) out.push(s);
    for (const s of out) this.delete(s);
    return out;
  }

  /** Every live session. */
  values(): IterableIterator<PlaybackSession> {
    return this.#sessions.values();
  }

  /** Number of live sessions. */
  get size(): number {
    return this.#sessions.size;
  }
}
