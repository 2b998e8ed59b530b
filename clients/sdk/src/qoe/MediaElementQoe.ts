/**
 * Measures playback in a media element (LL-HLS through hls.js or natively, or any player that
 * renders into a video element): first frame (the first `requestVideoFrameCallback`, else
 * `playing`), stalls (`waiting` until playback moves again), pauses, `ended`, media errors and
 * the picture height (rendition); with an hls.js instance also the level's bitrate and height,
 * its live latency, and fatal errors (failure reason = hls.js `details`). Listeners are removed
 * on close.
 */
import type { QoeSession } from './QoeSession';

/** The part of an hls.js instance the tracker reads (no import: hls.js stays out of the SDK bundle). */
export interface HlsJsLike {
  on(event: string, listener: (name: string, data: any) => void): void;
  off(event: string, listener: (name: string, data: any) => void): void;
  readonly levels?: ReadonlyArray<{ bitrate?: number; height?: number }>;
  readonly currentLevel?: number;
  /** Live latency estimate (s). */
  readonly latency?: number;
}

/** hls.js event names (`Hls.Events.*`), stable across its 1.x versions. */
const HLS_ERROR = 'hlsError';
const HLS_LEVEL_SWITCHING = 'hlsLevelSwitching';
const HLS_LEVEL_SWITCHED = 'hlsLevelSwitched';

type VideoWithFrames = HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number; cancelVideoFrameCallback?: (id: number) => void };

/** The tracker of one media element. */
export class MediaElementQoe {
  readonly #session: QoeSession;
  readonly #media: HTMLMediaElement;
  #hls?: HlsJsLike;
  readonly #listeners: Array<[string, EventListener]> = [];
  readonly #hlsListeners: Array<[string, (name: string, data: any) => void]> = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #frameCallback?: number;
  #levelHeight = false;
  #closed = false;

  constructor(session: QoeSession, media: HTMLMediaElement, hls?: HlsJsLike) {
    this.#session = session;
    this.#media = media;
    const on = (type: string, fn: () => void): void => {
      media.addEventListener(type, fn);
      this.#listeners.push([type, fn]);
    };
    const video = media as VideoWithFrames;
    if (typeof video.requestVideoFrameCallback === 'function') {
      this.#frameCallback = video.requestVideoFrameCallback(() => session.firstFrame());
    }
    on('playing', () => {
      if (session.state === 'starting' && this.#frameCallback === undefined) session.firstFrame();
      session.setPaused(false);
      session.stallEnd();
    });
    on('timeupdate', () => {
      if (session.state === 'stalled' && !media.paused && media.readyState >= 3) session.stallEnd();
    });
    on('waiting', () => {
      if (!media.seeking) session.stallStart();
    });
    on('pause', () => {
      if (!media.ended) session.setPaused(true);
    });
    on('play', () => session.setPaused(false));
    on('ended', () => session.end());
    // The decoded picture's height, for players whose levels do not say (native HLS, MoQ into video).
    on('resize', () => {
      const height = (media as HTMLVideoElement).videoHeight;
      if (height && !this.#levelHeight) session.rendition(`${height}p`);
    });
    on('error', () => session.fail(`media_error_${media.error?.code ?? 0}`));
    if (media.paused && media.readyState >= 2) session.setPaused(true);
    if (hls) this.attachHls(hls);
    this.#timer = setInterval(() => {
      const latency = this.#hls?.latency;
      if (typeof latency === 'number' && latency > 0 && session.state !== 'starting') session.latency(latency * 1000);
    }, 1000);
  }

  /** Also measures `hls` (level bitrate and height, live latency, fatal errors): for a player created after the tracker. */
  attachHls(hls: HlsJsLike): void {
    if (this.#closed || this.#hls) return;
    this.#hls = hls;
    const session = this.#session;
    const onHls = (event: string, fn: (name: string, data: any) => void): void => {
      hls.on(event, fn);
      this.#hlsListeners.push([event, fn]);
    };
    // The level is known when hls.js starts loading it (switching) and confirmed once switched.
    onHls(HLS_LEVEL_SWITCHING, (_name, data: { level?: number }) => this.#level(data.level));
    onHls(HLS_LEVEL_SWITCHED, (_name, data: { level?: number }) => this.#level(data.level));
    onHls(HLS_ERROR, (_name, data: { fatal?: boolean; details?: string }) => {
      if (data.fatal) session.fail(data.details ?? 'hls_fatal');
    });
    this.#level(hls.currentLevel);
  }

  /** Removes every listener. Idempotent; the session is ended by its owner. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const [type, fn] of this.#listeners) this.#media.removeEventListener(type, fn);
    for (const [event, fn] of this.#hlsListeners) this.#hls?.off(event, fn);
    const video = this.#media as VideoWithFrames;
    if (this.#frameCallback !== undefined) video.cancelVideoFrameCallback?.(this.#frameCallback);
  }

  #level(index: number | undefined): void {
    const level = index !== undefined && index >= 0 ? this.#hls?.levels?.[index] : undefined;
    if (!level) return;
    if (level.bitrate) this.#session.setBitrate(level.bitrate);
    if (level.height) {
      this.#levelHeight = true;
      this.#session.rendition(`${level.height}p`);
    }
  }
}
