/**
 * Shared playback for watch parties: play, pause, seek, rate and source of one media element,
 * kept the same for everyone in the room. Each change is a room event
 * `playback {src, playing, position, rate, at}` where `at` is the node's clock when `position`
 * held; everyone applies the latest event (in sequence order, so concurrent changes resolve the
 * same way everywhere) and a controller keeps the element on the expected position
 * `position + (now − at) × rate` using the synced clock: small drift is absorbed by nudging
 * `playbackRate` (inaudible), large drift by seeking.
 */
import type { RoomEvent } from '../../../src/protocol/signaling';
import type { ClockSync } from './ClockSync';
import type { RoomEvents } from './RoomEvents';
import { TypedEmitter } from './TypedEmitter';

/** The shared playback state. */
export interface PlaybackState {
  /** Media URL (absolute or relative to the page), when one was chosen. */
  src?: string;
  playing: boolean;
  /** Position (s) at `at`. */
  position: number;
  /** Playback rate (1 = normal). */
  rate: number;
  /** The node's clock (ms) when `position` held. */
  at: number;
}

/** Events of {@link PlaybackSync}. */
export interface PlaybackSyncEvents {
  /** A new shared state, from anyone (`identity`) — also our own once the node numbered it. */
  state: PlaybackState & { identity: string; seq: number };
  /** Each controller tick: how far the element is from the shared position (ms; + = ahead). */
  drift: { driftMs: number; playbackRate: number };
  /** The browser refused to start playback (autoplay policy): call `media.play()` from a user gesture. */
  blocked: { error: unknown };
}

/** Options of {@link PlaybackSync}. */
export interface PlaybackSyncOptions {
  /** Event type of playback changes (default 'playback'). */
  type?: string;
  /** Drift treated as none (ms, default 12). */
  toleranceMs?: number;
  /** Drift above which the controller seeks instead of adjusting the rate (ms, default 400). */
  seekThresholdMs?: number;
  /** Largest relative rate adjustment (default 0.1 = ±10 %). */
  maxRateAdjust?: number;
  /** Rate adjustment per second of drift (default 1: 100 ms drift → 10 %). */
  gain?: number;
  /** Controller period (ms, default 100). */
  intervalMs?: number;
}

/** What {@link PlaybackSync} needs: the room's events and the node's clock. */
export interface PlaybackSyncDeps {
  events: RoomEvents;
  clock: ClockSync;
}

/** Keeps `media` in step with the room's shared playback. */
export class PlaybackSync extends TypedEmitter<PlaybackSyncEvents> {
  readonly media: HTMLMediaElement;
  readonly #deps: PlaybackSyncDeps;
  readonly #o: Required<PlaybackSyncOptions>;
  readonly #offEvent: () => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #state: PlaybackState | undefined;
  #driftMs = 0;
  /** How late seeks land while playing (s), learnt from the last ones, so the next aims ahead. */
  #seekLead = 0.05;
  #seekStartedAt: number | undefined;
  #closed = false;

  constructor(deps: PlaybackSyncDeps, media: HTMLMediaElement, options: PlaybackSyncOptions = {}) {
    super();
    this.#deps = deps;
    this.media = media;
    this.#o = { type: 'playback', toleranceMs: 12, seekThresholdMs: 400, maxRateAdjust: 0.1, gain: 1, intervalMs: 100, ...options };
    this.#offEvent = deps.events.on('event', (e) => this.#onEvent(e));
    this.#timer = setInterval(() => this.#tick(), this.#o.intervalMs);
  }

  /** The shared state (undefined until someone set one). */
  get state(): PlaybackState | undefined {
    return this.#state;
  }

  /** Last measured drift (ms; + = ahead of the shared position). */
  get driftMs(): number {
    return this.#driftMs;
  }

  /** The shared position (s) at the node's time `at` (default now). */
  expectedPosition(at = this.#deps.clock.now()): number {
    const s = this.#state;
    if (!s) return this.media.currentTime;
    const position = s.playing ? s.position + ((at - s.at) / 1000) * s.rate : s.position;
    const duration = Number.isFinite(this.media.duration) ? this.media.duration : Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(position, duration));
  }

  /** Everyone plays from the current shared position. */
  play(): Promise<RoomEvent> {
    return this.#publish({ playing: true });
  }

  /** Everyone pauses at the current shared position. */
  pause(): Promise<RoomEvent> {
    return this.#publish({ playing: false });
  }

  /** Everyone jumps to `position` (s), keeping play/pause. */
  seek(position: number): Promise<RoomEvent> {
    if (!Number.isFinite(position) || position < 0) throw new TypeError('position must be a non-negative number of seconds');
    return this.#publish({ position });
  }

  /** Everyone plays at `rate`. */
  setRate(rate: number): Promise<RoomEvent> {
    if (!(rate >= 0.25 && rate <= 4)) throw new TypeError('rate must be between 0.25 and 4');
    return this.#publish({ rate });
  }

  /** Everyone loads `src` from the start, paused. */
  load(src: string): Promise<RoomEvent> {
    if (typeof src !== 'string' || src.length === 0) throw new TypeError('src must be a URL');
    return this.#publish({ src, position: 0, playing: false });
  }

  /** Stops following the room (the element is left as it is). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offEvent();
    clearInterval(this.#timer);
    this.removeAllListeners();
  }

  #publish(change: Partial<PlaybackState>): Promise<RoomEvent> {
    const at = this.#deps.clock.now();
    const current = this.#state;
    const next: PlaybackState = {
      ...(current?.src !== undefined ? { src: current.src } : {}),
      playing: current?.playing ?? false,
      rate: current?.rate ?? 1,
      ...change,
      position: change.position ?? this.expectedPosition(at),
      at: Math.round(at),
    };
    return this.#deps.events.send(this.#o.type, next);
  }

  #onEvent(event: RoomEvent): void {
    if (event.type !== this.#o.type || this.#closed) return;
    const p = event.payload as Partial<PlaybackState> | null;
    if (!p || typeof p.position !== 'number' || typeof p.at !== 'number' || typeof p.playing !== 'boolean') return;
    const state: PlaybackState = {
      ...(typeof p.src === 'string' ? { src: p.src } : {}),
      playing: p.playing,
      position: p.position,
      rate: typeof p.rate === 'number' && p.rate > 0 ? p.rate : 1,
      at: p.at,
    };
    const srcChanged = state.src !== undefined && state.src !== this.#state?.src;
    this.#state = state;
    if (srcChanged) {
      this.media.src = state.src!;
      this.media.load();
    }
    this.emit('state', { ...state, identity: event.identity, seq: event.seq });
    this.#apply(true);
  }

  #apply(changed: boolean): void {
    const s = this.#state;
    const media = this.media;
    if (!s || media.readyState < 1 /* HAVE_METADATA */) return;
    if (!s.playing) {
      if (!media.paused) media.pause();
      media.playbackRate = s.rate;
      const target = this.expectedPosition();
      if (Math.abs(media.currentTime - target) > 0.001) media.currentTime = target;
      this.#driftMs = 0;
      return;
    }
    if (media.seeking) return;
    const driftMs = (media.currentTime - this.expectedPosition()) * 1000;
    this.#driftMs = driftMs;
    if (media.paused) {
      media.currentTime = this.expectedPosition() + this.#seekLead;
      this.#seekStartedAt = performance.now();
      media.play().catch((error: unknown) => this.emit('blocked', { error }));
      return;
    }
    if (changed || Math.abs(driftMs) > this.#o.seekThresholdMs) {
      if (Math.abs(driftMs) > this.#o.toleranceMs) {
        media.currentTime = this.expectedPosition() + this.#seekLead;
        this.#seekStartedAt = performance.now();
        media.playbackRate = s.rate;
        return;
      }
    }
    const abs = Math.abs(driftMs);
    const adjust = abs <= this.#o.toleranceMs ? 0 : Math.max(-this.#o.maxRateAdjust, Math.min(this.#o.maxRateAdjust, (driftMs / 1000) * this.#o.gain));
    const rate = s.rate * (1 - adjust);
    if (Math.abs(media.playbackRate - rate) > 1e-4) media.playbackRate = rate;
    this.emit('drift', { driftMs, playbackRate: rate });
  }

  #tick(): void {
    if (this.#closed) return;
    // Learn how late a seek made while playing lands, so the next one aims that far ahead.
    if (this.#seekStartedAt !== undefined && !this.media.seeking && !this.media.paused) {
      const lateMs = (this.expectedPosition() - this.media.currentTime) * 1000;
      if (Math.abs(lateMs) < 1000) this.#seekLead = Math.max(0, Math.min(0.5, this.#seekLead + lateMs / 1000 / 2));
      this.#seekStartedAt = undefined;
    }
    this.#apply(false);
  }
}
