/**
 * MoQ audio: WebCodecs decodes the catalog's audio rendition (Opus) and each decoded frame is
 * scheduled back to back on a Web Audio graph whose output is a MediaStreamTrack the media
 * element plays. A short lead absorbs network jitter; when frames pile up beyond the ceiling
 * (the tab was throttled, the network burst) they are dropped to keep the latency bounded.
 */
import { SubsecError } from '../errors';

/** The catalog's description of an audio rendition (a WebCodecs decoder config). */
export interface AudioRenditionConfig {
  codec: string;
  sampleRate: number;
  numberOfChannels: number;
}

/** Lead given to the first frame and after an underrun (s). */
const LEAD_S = 0.06;
/** Frames scheduled further ahead than this are dropped (s). */
const MAX_AHEAD_S = 0.4;

/** Decodes and plays one audio track. */
export class AudioRenderer {
  /** The audio as a MediaStreamTrack. */
  readonly track: MediaStreamTrack;
  readonly #context: AudioContext;
  readonly #output: MediaStreamAudioDestinationNode;
  readonly #decoder: AudioDecoder;
  readonly #onFrame: (timestampUs: number) => void;
  /** Audio-clock time where the next frame starts. */
  #next = 0;
  #closed = false;

  private constructor(config: AudioDecoderConfig, onFrame: (timestampUs: number) => void, onError: (error: SubsecError) => void) {
    this.#onFrame = onFrame;
    this.#context = new AudioContext({ latencyHint: 'interactive', sampleRate: config.sampleRate });
    this.#output = this.#context.createMediaStreamDestination();
    this.track = this.#output.stream.getAudioTracks()[0]!;
    const decoder = new AudioDecoder({
      output: (data) => this.#play(data),
      error: (error) => onError(new SubsecError('MEDIA_ERROR', `MoQ audio decoder: ${String(error)}`, { cause: error })),
    });
    decoder.configure(config);
    this.#decoder = decoder;
    // Without a user gesture the context may start suspended; the element's play() resumes it.
    void this.#context.resume().catch(() => undefined);
  }

  /** A renderer for `rendition`; `onFrame` gets each played frame's timestamp (µs, node clock). */
  static async create(rendition: AudioRenditionConfig, onFrame: (timestampUs: number) => void, onError: (error: SubsecError) => void): Promise<AudioRenderer> {
    if (typeof AudioDecoder === 'undefined' || typeof AudioContext === 'undefined') {
      throw new SubsecError('UNSUPPORTED_BROWSER', 'this browser has no WebCodecs audio decoder');
    }
    const config: AudioDecoderConfig = { codec: rendition.codec, sampleRate: rendition.sampleRate, numberOfChannels: rendition.numberOfChannels };
    const support = await AudioDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
    if (!support.supported) throw new SubsecError('UNSUPPORTED_BROWSER', `this browser cannot decode ${rendition.codec} audio`);
    return new AudioRenderer(config, onFrame, onError);
  }

  /** Decodes one frame (every audio frame stands alone). */
  decode(timestampUs: number, data: Uint8Array): void {
    if (this.#closed || this.#decoder.state !== 'configured') return;
    this.#decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: timestampUs, data }));
  }

  /** Stops decoding and playing. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#decoder.state !== 'closed') this.#decoder.close();
    this.track.stop();
    void this.#context.close().catch(() => undefined);
  }

  #play(data: AudioData): void {
    try {
      if (this.#closed) return;
      const context = this.#context;
      const now = context.currentTime;
      if (this.#next < now) this.#next = now + LEAD_S;
      if (this.#next - now > MAX_AHEAD_S) return;
      const buffer = context.createBuffer(data.numberOfChannels, data.numberOfFrames, data.sampleRate);
      const plane = new Float32Array(data.numberOfFrames);
      for (let channel = 0; channel < data.numberOfChannels; channel++) {
        data.copyTo(plane, { planeIndex: channel, format: 'f32-planar' });
        buffer.copyToChannel(plane, channel);
      }
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(this.#output);
      source.start(this.#next);
      this.#next += buffer.duration;
      this.#onFrame(data.timestamp);
    } finally {
      data.close();
    }
  }
}
