/**
 * MoQ video on screen: WebCodecs decodes the frames of the catalog's video rendition and paints
 * each one on a canvas as soon as it is decoded (latency first, like a WebRTC receiver); the
 * canvas's captured track is what the media element shows. A frame more than
 * {@link MAX_BEHIND_US} behind the newest frame received is decoded but not painted: a viewer
 * joining on the relay's cached group (which starts at a key frame that may be seconds old)
 * catches up to the live edge instead of replaying the group.
 */
import { SubsecError } from '../errors';

/** The catalog's description of a video rendition (a WebCodecs decoder config). */
export interface VideoRenditionConfig {
  codec: string;
  codedWidth?: number;
  codedHeight?: number;
}

/** How far behind the newest received frame a decoded frame may be and still be painted (µs). */
export const MAX_BEHIND_US = 250_000;

/** Decodes and paints one video track. */
export class VideoRenderer {
  /** The painted picture as a MediaStreamTrack. */
  readonly track: MediaStreamTrack;
  readonly #canvas: HTMLCanvasElement;
  readonly #context: CanvasRenderingContext2D;
  readonly #config: VideoDecoderConfig;
  readonly #onFrame: (timestampUs: number) => void;
  readonly #onError: (error: SubsecError) => void;
  #decoder: VideoDecoder | undefined;
  /** Deltas are dropped until a key frame (the start of a group) reaches a fresh decoder. */
  #needKey = true;
  /** Timestamp of the newest frame handed to the decoder (µs). */
  #newestUs = 0;
  #closed = false;

  private constructor(config: VideoDecoderConfig, onFrame: (timestampUs: number) => void, onError: (error: SubsecError) => void) {
    this.#config = config;
    this.#onFrame = onFrame;
    this.#onError = onError;
    this.#canvas = document.createElement('canvas');
    this.#canvas.width = config.codedWidth ?? 640;
    this.#canvas.height = config.codedHeight ?? 360;
    const context = this.#canvas.getContext('2d');
    if (!context) throw new SubsecError('UNSUPPORTED_BROWSER', 'no 2D canvas');
    this.#context = context;
    this.track = this.#canvas.captureStream().getVideoTracks()[0]!;
  }

  /**
   * A renderer for `rendition`; `onFrame` is called with each painted frame's timestamp (µs,
   * node clock), `onError` when the decoder fails for good.
   */
  static async create(rendition: VideoRenditionConfig, onFrame: (timestampUs: number) => void, onError: (error: SubsecError) => void): Promise<VideoRenderer> {
    if (typeof VideoDecoder === 'undefined' || typeof HTMLCanvasElement.prototype.captureStream !== 'function') {
      throw new SubsecError('UNSUPPORTED_BROWSER', 'this browser has no WebCodecs video decoder');
    }
    const config: VideoDecoderConfig = { codec: rendition.codec, optimizeForLatency: true };
    if (rendition.codedWidth && rendition.codedHeight) Object.assign(config, { codedWidth: rendition.codedWidth, codedHeight: rendition.codedHeight });
    const support = await VideoDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
    if (!support.supported) throw new SubsecError('UNSUPPORTED_BROWSER', `this browser cannot decode ${rendition.codec}`);
    return new VideoRenderer(config, onFrame, onError);
  }

  /** Decodes one frame; `key` marks the first frame of a group. */
  decode(timestampUs: number, data: Uint8Array, key: boolean): void {
    if (this.#closed) return;
    if (!key && this.#needKey) return;
    this.#newestUs = Math.max(this.#newestUs, timestampUs);
    const decoder = this.#decoder?.state === 'configured' ? this.#decoder : this.#newDecoder();
    if (!decoder) return;
    try {
      decoder.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: timestampUs, data }));
      this.#needKey = false;
    } catch (error) {
      this.#reset(error);
    }
  }

  /** Stops decoding and ends the track. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#decoder && this.#decoder.state !== 'closed') this.#decoder.close();
    this.#decoder = undefined;
    this.track.stop();
  }

  #newDecoder(): VideoDecoder | undefined {
    const decoder = new VideoDecoder({
      output: (frame) => this.#paint(frame),
      error: (error) => this.#reset(error),
    });
    try {
      decoder.configure(this.#config);
    } catch (error) {
      this.#onError(new SubsecError('MEDIA_ERROR', `MoQ video decoder: ${String(error)}`, { cause: error }));
      return undefined;
    }
    this.#decoder = decoder;
    this.#needKey = true;
    return decoder;
  }

  /** A decoding error: start over at the next key frame. */
  #reset(_error: unknown): void {
    if (this.#decoder && this.#decoder.state !== 'closed') this.#decoder.close();
    this.#decoder = undefined;
    this.#needKey = true;
  }

  #paint(frame: VideoFrame): void {
    try {
      if (this.#closed || this.#newestUs - frame.timestamp > MAX_BEHIND_US) return;
      const canvas = this.#canvas;
      if (canvas.width !== frame.displayWidth || canvas.height !== frame.displayHeight) {
        canvas.width = frame.displayWidth;
        canvas.height = frame.displayHeight;
      }
      this.#context.drawImage(frame, 0, 0);
      this.#onFrame(frame.timestamp);
    } finally {
      frame.close();
    }
  }
}
