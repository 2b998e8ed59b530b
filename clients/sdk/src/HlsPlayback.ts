/**
 * LL-HLS playback of one stream into a media element: hls.js in low-latency mode where Media
 * Source Extensions exist (loaded on demand from the node, so the base bundle stays small), the
 * browser's own HLS elsewhere (iOS Safari). It reports the playhead's program date — the media
 * time on the node's clock that events are stamped with — and the room events carried as
 * EXT-X-DATERANGE tags in the playlists.
 */
import type { RoomEvent } from '../../../src/protocol/signaling';
import { SubsecError } from './errors';

/** Options of {@link HlsPlayback.start}. */
export interface HlsPlaybackOptions {
  /** URL of hls.js as an ES module (the node serves one at `/sdk/vendor/hls.mjs`). */
  hlsJsUrl: string;
  /** Time for the first frame (ms). */
  timeoutMs: number;
  /** Room events found in EXT-X-DATERANGE tags (X-EVENT), as the playlist lists them. */
  onDateRangeEvent?: (event: RoomEvent) => void;
  /** A fatal playback error after the start. */
  onFatal?: (error: SubsecError) => void;
  /** CMCD sent by hls.js on every request (query form, which CDNs can strip from cache keys). */
  cmcd?: { sessionId: string; contentId: string };
  /** Called with the hls.js instance once created (before it loads anything). */
  onPlayer?: (hls: HlsInstance) => void;
}

/** The subset of hls.js this class uses. */
export interface HlsInstance {
  loadSource(url: string): void;
  attachMedia(media: HTMLMediaElement): void;
  destroy(): void;
  on(event: string, listener: (name: string, data: any) => void): void;
  off(event: string, listener: (name: string, data: any) => void): void;
  readonly playingDate: Date | null;
  readonly latency: number;
  readonly levels: ReadonlyArray<{ bitrate?: number; height?: number }>;
  readonly currentLevel: number;
}
interface HlsModule {
  default: {
    isSupported(): boolean;
    Events: Record<string, string>;
    new (config: Record<string, unknown>): HlsInstance;
  };
}

const DATERANGE_CLASS = 'io.subsec.event';

function decodeEvent(base64: string): RoomEvent | undefined {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const event = JSON.parse(new TextDecoder().decode(bytes)) as RoomEvent;
    return typeof event.seq === 'number' && typeof event.type === 'string' ? event : undefined;
  } catch {
    return undefined;
  }
}

/** One LL-HLS playback. */
export class HlsPlayback {
  readonly url: string;
  readonly #media: HTMLMediaElement;
  #hls: HlsInstance | undefined;
  /** Bytes of media parts and segments loaded. */
  #bytes = 0;
  #closed = false;

  private constructor(url: string, media: HTMLMediaElement) {
    this.url = url;
    this.#media = media;
  }

  /** Starts playing `url` in `media`; resolves once a frame is playing, rejects (and cleans up) otherwise. */
  static async start(url: string, media: HTMLMediaElement, options: HlsPlaybackOptions): Promise<HlsPlayback> {
    const playback = new HlsPlayback(url, media);
    try {
      await playback.#start(options);
      return playback;
    } catch (error) {
      playback.close();
      throw error instanceof SubsecError ? error : new SubsecError('MEDIA_ERROR', `LL-HLS playback failed: ${String(error)}`, { cause: error });
    }
  }

  /** Program date (node clock, ms) of the frame on screen, when known. */
  mediaTime(): number | undefined {
    const date = this.#hls?.playingDate;
    if (date) return date.getTime();
    const start = (this.#media as HTMLMediaElement & { getStartDate?: () => Date }).getStartDate?.();
    const t = start?.getTime();
    return t !== undefined && Number.isFinite(t) ? t + this.#media.currentTime * 1000 : undefined;
  }

  /** Bytes of media parts and segments loaded so far (hls.js; 0 with the browser's own HLS). */
  get bytesReceived(): number {
    return this.#bytes;
  }

  /** Stops and detaches from the element. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hls?.destroy();
    this.#hls = undefined;
    if (this.#media.src) {
      this.#media.removeAttribute('src');
      this.#media.load();
    }
  }

  async #start(options: HlsPlaybackOptions): Promise<void> {
    const media = this.#media;
    const native = media.canPlayType('application/vnd.apple.mpegurl') !== '';
    let Hls: HlsModule['default'] | undefined;
    if (typeof MediaSource !== 'undefined' || !native) {
      const module = (await import(/* webpackIgnore: true */ options.hlsJsUrl)) as HlsModule;
      Hls = module.default;
      if (!Hls.isSupported()) Hls = undefined;
    }
    if (!Hls && !native) throw new SubsecError('UNSUPPORTED_BROWSER', 'this browser plays neither Media Source Extensions nor HLS');
    const playing = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new SubsecError('TIMEOUT', `LL-HLS: no frame within ${options.timeoutMs} ms`)), options.timeoutMs);
      const onPlaying = (): void => done();
      const done = (error?: SubsecError): void => {
        clearTimeout(timer);
        media.removeEventListener('playing', onPlaying);
        if (error) reject(error);
        else resolve();
      };
      media.addEventListener('playing', onPlaying);
      if (Hls) {
        const hls = new Hls({
          lowLatencyMode: true,
          backBufferLength: 30,
          manifestLoadingTimeOut: 20_000,
          manifestLoadingMaxRetry: 4,
          levelLoadingMaxRetry: 6,
          ...(options.cmcd ? { cmcd: { sessionId: options.cmcd.sessionId, contentId: options.cmcd.contentId, useHeaders: false } } : {}),
        });
        this.#hls = hls;
        options.onPlayer?.(hls);
        hls.on(Hls.Events.ERROR, (_name, data: { fatal: boolean; type: string; details: string }) => {
          if (!data.fatal) return;
          const error = new SubsecError('MEDIA_ERROR', `LL-HLS ${data.type}: ${data.details}`, { type: data.type === 'networkError' ? 'network' : 'media' });
          done(error);
          if (!this.#closed) options.onFatal?.(error);
        });
        hls.on(Hls.Events.FRAG_LOADED, (_name, data: { payload?: ArrayBuffer }) => {
          this.#bytes += data.payload?.byteLength ?? 0;
        });
        hls.on(Hls.Events.LEVEL_UPDATED, (_name, data: { details: { dateRanges?: Record<string, { class?: string; attr: Record<string, string> }> } }) => {
          for (const range of Object.values(data.details.dateRanges ?? {})) {
            if (range.class !== DATERANGE_CLASS) continue;
            const body = range.attr['X-EVENT'];
            const event = body ? decodeEvent(body) : undefined;
            if (event) options.onDateRangeEvent?.(event);
          }
        });
        hls.loadSource(this.url);
        hls.attachMedia(media);
      } else {
        media.src = this.url;
      }
      // Autoplay needs a muted element or an earlier user gesture; the app decides which.
      media.addEventListener('canplay', () => void media.play().catch(() => undefined), { once: true });
    });
    await playing;
  }
}
