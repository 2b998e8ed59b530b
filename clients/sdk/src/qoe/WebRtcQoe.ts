/**
 * Measures a WebRTC video subscription with getStats() of its receiver: first frame
 * (`framesDecoded` > 0, polled every 100 ms until then, so startup is known to ±0.1 s), freezes
 * (`freezeCount`, `totalFreezesDuration`), bytes received, rendition (`frameHeight`), and a
 * latency estimate: jitter-buffer delay + decode time + half the round trip (capture and encode
 * on the publisher are not visible to the receiver). A reconnection (new consumer, new
 * receiver) counts as a stall from the moment stats disappear until frames decode again;
 * freezes caused by the publisher pausing are not stalls.
 */
import type { Subscription } from '../Subscription';
import type { QoeSession } from './QoeSession';

/** Options of {@link WebRtcQoe}. */
export interface WebRtcQoeOptions {
  /** No first frame this long after the start fails the session with `startup_timeout` (ms; 0 = never). */
  startupTimeoutMs: number;
  /** Stats polling once playing (ms, default 1000). */
  pollMs: number;
}

interface InboundVideo {
  framesDecoded: number;
  bytesReceived: number;
  freezeCount: number;
  totalFreezesDuration: number;
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  totalDecodeTime: number;
  frameHeight?: number;
  trackIdentifier?: string;
}

/** How long after the publisher resumes freezes are not counted (the pause shows up as one). */
const PAUSE_GRACE_MS = 2000;

function readStats(report: RTCStatsReport): { inbound?: InboundVideo; rttMs?: number } {
  let inbound: InboundVideo | undefined;
  let rttMs: number | undefined;
  report.forEach((s: Record<string, unknown>) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      const n = (k: string): number => (typeof s[k] === 'number' ? (s[k] as number) : 0);
      inbound = {
        framesDecoded: n('framesDecoded'),
        bytesReceived: n('bytesReceived'),
        freezeCount: n('freezeCount'),
        totalFreezesDuration: n('totalFreezesDuration'),
        jitterBufferDelay: n('jitterBufferDelay'),
        jitterBufferEmittedCount: n('jitterBufferEmittedCount'),
        totalDecodeTime: n('totalDecodeTime'),
        frameHeight: typeof s.frameHeight === 'number' ? s.frameHeight : undefined,
        trackIdentifier: typeof s.trackIdentifier === 'string' ? s.trackIdentifier : undefined,
      };
    }
    if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') rttMs = s.currentRoundTripTime * 1000;
  });
  return { inbound, rttMs };
}

/** The tracker of one subscription. */
export class WebRtcQoe {
  readonly #subscription: Subscription;
  readonly #session: QoeSession;
  readonly #options: WebRtcQoeOptions;
  readonly #offs: Array<() => void> = [];
  #timer?: ReturnType<typeof setTimeout>;
  #startupTimer?: ReturnType<typeof setTimeout>;
  #last?: InboundVideo;
  #pausedUntil = 0;
  #producerPaused = false;
  #closed = false;

  constructor(subscription: Subscription, session: QoeSession, options: Partial<WebRtcQoeOptions> & { startupTimeoutMs: number }) {
    this.#subscription = subscription;
    this.#session = session;
    this.#options = { pollMs: 1000, ...options };
    this.#offs.push(
      subscription.on('producerPaused', () => this.#setProducerPaused(true)),
      subscription.on('producerResumed', () => this.#setProducerPaused(false)),
      subscription.on('trackChanged', () => (this.#last = undefined)),
      subscription.on('closed', ({ reason }) => {
        if (reason === 'failed') session.fail('subscribe_failed');
        else session.end();
        this.close();
      }),
    );
    if (this.#options.startupTimeoutMs > 0) {
      this.#startupTimer = setTimeout(() => {
        if (session.state === 'starting') {
          session.fail('startup_timeout');
          this.close();
        }
      }, this.#options.startupTimeoutMs);
    }
    this.#poll();
  }

  /** Stops measuring (the session is ended by its owner). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#startupTimer);
    for (const off of this.#offs) off();
  }

  #setProducerPaused(paused: boolean): void {
    this.#producerPaused = paused;
    this.#session.setPaused(paused || this.#subscription.paused);
    if (!paused) this.#pausedUntil = performance.now() + PAUSE_GRACE_MS;
  }

  #poll(): void {
    if (this.#closed) return;
    const starting = this.#session.state === 'starting';
    this.#timer = setTimeout(
      () => {
        this.#sample()
          .catch(() => undefined)
          .finally(() => this.#poll());
      },
      starting ? 100 : this.#options.pollMs,
    );
  }

  async #sample(): Promise<void> {
    const session = this.#session;
    const subscription = this.#subscription;
    if (this.#closed || session.done) return;
    session.setPaused(subscription.paused || this.#producerPaused);
    const report = await subscription.getStats().catch(() => undefined);
    const now = performance.now();
    if (this.#closed) return;
    const { inbound, rttMs } = report ? readStats(report) : {};
    if (!inbound) {
      // No receiver: the client is reconnecting and the picture is frozen meanwhile.
      if (session.state === 'playing') session.stallStart(now);
      return;
    }
    const prev = this.#last && this.#last.trackIdentifier === inbound.trackIdentifier ? this.#last : undefined;
    this.#last = inbound;
    if (inbound.framesDecoded > 0) {
      if (session.state === 'starting') session.firstFrame(now);
      if (session.state === 'stalled' && (!prev || inbound.framesDecoded > prev.framesDecoded)) session.stallEnd(now);
    }
    if (inbound.frameHeight) session.rendition(`${inbound.frameHeight}p`);
    const base = prev ?? {
      bytesReceived: 0,
      freezeCount: 0,
      totalFreezesDuration: 0,
      jitterBufferDelay: 0,
      jitterBufferEmittedCount: 0,
      totalDecodeTime: 0,
      framesDecoded: 0,
    };
    session.addBytes(inbound.bytesReceived - base.bytesReceived);
    const freezes = inbound.freezeCount - base.freezeCount;
    const frozenMs = (inbound.totalFreezesDuration - base.totalFreezesDuration) * 1000;
    if (freezes > 0 && now > this.#pausedUntil && !this.#producerPaused) session.addStall(frozenMs, freezes);
    const emitted = inbound.jitterBufferEmittedCount - base.jitterBufferEmittedCount;
    const decoded = inbound.framesDecoded - base.framesDecoded;
    if (emitted > 0) {
      const jitterMs = ((inbound.jitterBufferDelay - base.jitterBufferDelay) / emitted) * 1000;
      const decodeMs = decoded > 0 ? ((inbound.totalDecodeTime - base.totalDecodeTime) / decoded) * 1000 : 0;
      session.latency(jitterMs + decodeMs + (rttMs ?? 0) / 2);
    }
  }
}
