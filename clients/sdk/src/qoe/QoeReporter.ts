/**
 * Sends the QoE of every playback session of a client to the node as `reportQoe` batches over
 * the signaling socket: every `intervalMs` (the node may change it in its reply), and soon after
 * a first frame, an end or a failure so the dashboard sees them within a second or so. Reports
 * that could not be sent (reconnecting) are merged and sent once connected again; sessions
 * survive reconnections with the same id, so the node counts each one once.
 */
import type { QOE_CMCD_SID_PREFIX, QoeSessionReport, RequestParams, ResponseData } from '../../../../src/protocol/signaling';
import type { Logger } from '../logger';
import type { Subscription } from '../Subscription';
import { QoeSession, type QoeSessionInit } from './QoeSession';
import { WebRtcQoe, type WebRtcQoeOptions } from './WebRtcQoe';
import { MediaElementQoe, type HlsJsLike } from './MediaElementQoe';

/** QoE options of `connect()`. */
export interface QoeOptions {
  /** Measure and report (default true). */
  enabled?: boolean;
  /** Time between batches until the node says otherwise (ms, default 5000). */
  intervalMs?: number;
  /** A WebRTC session without a first frame this long after subscribe() fails with `startup_timeout` (ms, default 15 000; 0 = never). */
  startupTimeoutMs?: number;
}

/** Sends one batch; rejects when it could not be delivered. */
type Send = (params: RequestParams<'reportQoe'>) => Promise<ResponseData['reportQoe']>;

/** The protocol's prefix of SDK-made CMCD session ids (a type-checked copy: the SDK imports only types). */
const CMCD_SID_PREFIX: typeof QOE_CMCD_SID_PREFIX = 'sq-';
/** Largest number of sessions in one batch (the protocol's limit). */
const MAX_PER_BATCH = 16;
/** Reports kept while disconnected (sessions beyond are dropped oldest first). */
const MAX_PENDING = 64;
/** Delay of the early batch after a first frame, end or failure (ms). */
const SOON_MS = 250;

/** Adds `b` (a later report of the same session) to `a`. */
function merge(a: QoeSessionReport, b: QoeSessionReport): QoeSessionReport {
  const sum = (x?: number, y?: number): number | undefined => (x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0));
  const out: QoeSessionReport = { ...a, ...b, watchMs: a.watchMs + b.watchMs };
  for (const k of ['stallMs', 'stalls', 'bytes'] as const) {
    const v = sum(a[k], b[k]);
    if (v !== undefined) out[k] = v;
  }
  if (a.startupMs !== undefined) out.startupMs = a.startupMs;
  return out;
}

/** The QoE of a client: `client.qoe`. */
export class QoeReporter {
  readonly enabled: boolean;
  readonly #options: Required<Omit<QoeOptions, 'enabled'>>;
  readonly #logger: Logger;
  readonly #sessions = new Set<QoeSession>();
  readonly #trackers = new Set<{ close(): void }>();
  /** Reports drained but not delivered yet, by session id. */
  #pending = new Map<string, QoeSessionReport>();
  #send?: Send;
  #intervalMs: number;
  #timer?: ReturnType<typeof setTimeout>;
  #soon?: ReturnType<typeof setTimeout>;
  #flushing = false;
  #closed = false;
  /** Batches delivered and their JSON size, for diagnostics and the benchmark. */
  readonly stats = { batches: 0, bytes: 0, failed: 0 };

  /** @internal Created by the client. */
  constructor(options: QoeOptions | false | undefined, logger: Logger) {
    const o = options === false ? { enabled: false } : (options ?? {});
    this.enabled = o.enabled ?? true;
    const interval = o.intervalMs ?? 5000;
    if (!(interval >= 1000)) throw new TypeError('qoe.intervalMs must be at least 1000');
    this.#options = { intervalMs: interval, startupTimeoutMs: o.startupTimeoutMs ?? 15_000 };
    this.#intervalMs = interval;
    this.#logger = logger;
  }

  /** Open playback sessions. */
  get sessions(): QoeSession[] {
    return [...this.#sessions];
  }

  /**
   * Starts a playback session on any path; feed it with what the player sees (see
   * {@link QoeSession}) and end it with `end()` or `fail(reason)`.
   */
  startSession(init: QoeSessionInit): QoeSession {
    const session = new QoeSession(init, () => this.#soonFlush());
    if (!this.enabled || this.#closed) return session;
    this.#sessions.add(session);
    this.#schedule();
    return session;
  }

  /**
   * A CMCD session id for a player this client measures (give it to hls.js as
   * `cmcd.sessionId` and to {@link watchMedia} as `cmcdSid`): the node then counts the viewer
   * once, from the SDK's reports, and not again from CMCD.
   */
  cmcdSessionId(): string {
    const random = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    return `${CMCD_SID_PREFIX}${random}`;
  }

  /**
   * Measures a media element playing `stream` (LL-HLS, MoQ rendered to video, native HLS): first
   * frame, stalls (`waiting`), pauses, and with an hls.js instance also the level's bitrate,
   * live latency, rendition and fatal errors. Returns the session; it ends when `stop()` is called
   * on the returned tracker or the session is ended.
   */
  watchMedia(init: QoeSessionInit & { media: HTMLMediaElement; hls?: HlsJsLike }): { session: QoeSession; stop(): void; attachHls(hls: HlsJsLike): void } {
    const session = this.startSession(init);
    const tracker = new MediaElementQoe(session, init.media, init.hls);
    this.#trackers.add(tracker);
    return {
      session,
      attachHls: (hls) => tracker.attachHls(hls),
      stop: () => {
        tracker.close();
        this.#trackers.delete(tracker);
        session.end();
      },
    };
  }

  /** Sends what is pending now (the timer does this by itself). */
  async flush(): Promise<void> {
    if (this.#flushing || !this.enabled) return;
    this.#flushing = true;
    try {
      this.#drainAll();
      const send = this.#send;
      while (send && this.#pending.size > 0 && send === this.#send) {
        const batch = [...this.#pending.values()].slice(0, MAX_PER_BATCH);
        for (const r of batch) this.#pending.delete(r.id);
        const params = { sessions: batch };
        try {
          const reply = await send(params);
          this.stats.batches++;
          this.stats.bytes += JSON.stringify(params).length;
          if (reply.intervalMs >= 1000 && reply.intervalMs !== this.#intervalMs) {
            this.#intervalMs = reply.intervalMs;
            this.#schedule(true);
          }
        } catch (error) {
          this.stats.failed++;
          const code = (error as { code?: string }).code;
          // Malformed or refused batches are not retried; lost connections are.
          if (code === 'CONNECTION_LOST' || code === 'TIMEOUT' || code === 'RATE_LIMITED') this.#requeue(batch);
          else this.#logger.warn?.('[subsec] QoE report refused:', code, (error as Error).message);
          return;
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** @internal Measures a video subscription (created by subscribe()). */
  _watchSubscription(subscription: Subscription, options: Partial<WebRtcQoeOptions> = {}): void {
    if (!this.enabled || this.#closed || subscription.kind !== 'video') return;
    const session = this.startSession({ stream: subscription.identity, path: 'webrtc' });
    const tracker = new WebRtcQoe(subscription, session, { startupTimeoutMs: this.#options.startupTimeoutMs, ...options });
    this.#trackers.add(tracker);
    subscription.on('closed', () => this.#trackers.delete(tracker));
  }

  /** @internal The client is connected on a new session. */
  _attach(send: Send): void {
    this.#send = send;
    if (this.#pending.size > 0) this.#soonFlush();
  }

  /** @internal The connection is lost; reports wait. */
  _detach(): void {
    this.#send = undefined;
  }

  /** @internal The client closes: every session ends (failed with `errorCode` when the client died of an error) and a last batch goes out. */
  _close(errorCode?: string): void {
    if (this.#closed) return;
    for (const tracker of this.#trackers) tracker.close();
    this.#trackers.clear();
    for (const s of this.#sessions) {
      if (errorCode) s.fail(errorCode);
      else s.end();
    }
    clearTimeout(this.#soon);
    clearTimeout(this.#timer);
    void this.flush().catch(() => undefined);
    this.#closed = true;
    this.#send = undefined;
  }

  #drainAll(): void {
    const now = performance.now();
    for (const s of this.#sessions) {
      const report = s._drain(now);
      const previous = this.#pending.get(report.id);
      this.#pending.set(report.id, previous ? merge(previous, report) : report);
      if (s.done) this.#sessions.delete(s);
    }
    while (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value as string);
  }

  #requeue(batch: QoeSessionReport[]): void {
    const later = this.#pending;
    this.#pending = new Map(batch.map((r) => [r.id, r]));
    for (const [id, r] of later) {
      const first = this.#pending.get(id);
      this.#pending.set(id, first ? merge(first, r) : r);
    }
  }

  #schedule(restart = false): void {
    if (this.#closed || !this.enabled) return;
    if (this.#timer && !restart) return;
    clearTimeout(this.#timer);
    const tick = (): void => {
      this.#timer = undefined;
      if (this.#sessions.size === 0 && this.#pending.size === 0) return;
      void this.flush().catch(() => undefined);
      this.#timer = setTimeout(tick, this.#intervalMs);
    };
    this.#timer = setTimeout(tick, this.#intervalMs);
  }

  #soonFlush(): void {
    if (this.#closed || !this.enabled || this.#soon) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.flush().catch(() => undefined);
      this.#schedule();
    }, SOON_MS);
  }
}
