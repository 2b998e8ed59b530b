/**
 * MoQ playback of one stream into a media element: `@moq/net` subscribes to the stream's
 * broadcast on the node's relay (WebSocket, or WebTransport where the relay offers HTTP/3), reads
 * the hang catalog, and decodes the first video and audio renditions with WebCodecs
 * ({@link VideoRenderer}, {@link AudioRenderer}). Video groups start at key frames; when a newer
 * group arrives the rest of an older one is dropped, so a viewer that fell behind jumps to the
 * live edge instead of accumulating delay. Frames carry the node's wall-clock capture time, which
 * is the media time room events are stamped with.
 */
import { decodeLegacyFrame } from '../../../../src/protocol/hangFormat';
import { SubsecError, TimeoutError } from '../errors';
import { waitForFirstFrame, type FirstFrameWait } from '../firstFrame';
import { AudioRenderer, type AudioRenditionConfig } from './AudioRenderer';
import { loadMoqNet, type MoqBroadcast, type MoqGroup, type MoqSession, type MoqTrackSubscription } from './moqNet';
import { RelayLiveness } from './RelayLiveness';
import { VideoRenderer, type VideoRenditionConfig } from './VideoRenderer';

/** How long an ended track waits for its session to close before the stream counts as ended (ms). */
const SESSION_CLOSE_GRACE_MS = 500;
const sessionGone = (): true => true;

/** Where a QoE collector hears about MoQ playback (a QoeSession satisfies it). */
export interface MoqPlaybackQoe {
  frame(info: { latencyMs?: number }): void;
  addBytes(bytes: number): void;
  rendition(name: string): void;
}

/** Options of {@link MoqPlayback.start}. */
export interface MoqPlaybackOptions {
  /** URL of `@moq/net` as an ES module (the node serves one at `/sdk/vendor/moq-net.mjs`). */
  moqNetUrl: string;
  /** The relay session URL: relay, the room's broadcast root, `?jwt=`. */
  sessionUrl: URL;
  /**
   * The same session over WebTransport/HTTP3 with the certificate to pin. When given and the
   * browser has WebTransport, it is tried first; WebSocket (`sessionUrl`) starts after
   * `webTransportHeadStartMs` and whichever connects first is used (UDP blocked, a failed
   * handshake or a stale certificate hash all end on WebSocket).
   */
  webtransport?: { url: URL; certificateSha256: string };
  /** Head start of WebTransport over WebSocket (ms). */
  webTransportHeadStartMs?: number;
  /** False: WebTransport only (no WebSocket fallback). Default true. */
  webSocket?: boolean;
  /** Broadcast name under the root (the publisher's identity). */
  broadcast: string;
  /** Time to connect and show the first frame (ms). */
  timeoutMs: number;
  /** The node's clock (ms since the epoch), for latency. */
  now: () => number;
  qoe?: MoqPlaybackQoe;
  /** A fatal error after the start (relay gone, broadcast ended, decoder failed). */
  onFatal?: (error: SubsecError) => void;
}

interface Catalog {
  video?: { renditions?: Record<string, VideoRenditionConfig> };
  audio?: { renditions?: Record<string, AudioRenditionConfig> };
}

interface Playing<R> {
  name: string;
  renderer: R;
  subscription: MoqTrackSubscription;
}

const CATALOG_TRACK = 'catalog.json';

/** One MoQ playback. */
export class MoqPlayback {
  readonly #media: HTMLMediaElement;
  readonly #o: MoqPlaybackOptions;
  #session: MoqSession | undefined;
  #broadcast: MoqBroadcast | undefined;
  #catalog: MoqTrackSubscription | undefined;
  #video: Playing<VideoRenderer> | undefined;
  #audio: Playing<AudioRenderer> | undefined;
  /** Newest video group started: older groups stop being decoded. */
  #newestGroup = -1;
  #lastVideoUs: number | undefined;
  #lastAudioUs: number | undefined;
  /** The first-frame wait while starting: a fatal error before the first frame rejects the start. */
  #starting: FirstFrameWait | undefined;
  /** Media payload bytes received (video and audio frames). */
  #bytes = 0;
  #closed = false;
  /** Notices a relay that vanished without closing the session. */
  #liveness: RelayLiveness | undefined;

  private constructor(media: HTMLMediaElement, options: MoqPlaybackOptions) {
    this.#media = media;
    this.#o = options;
  }

  /** Starts playing; resolves once a frame is playing, rejects (and cleans up) otherwise. */
  static async start(media: HTMLMediaElement, options: MoqPlaybackOptions): Promise<MoqPlayback> {
    const playback = new MoqPlayback(media, options);
    try {
      await playback.#start();
      return playback;
    } catch (error) {
      playback.close();
      throw error instanceof SubsecError ? error : new SubsecError('MEDIA_ERROR', `MoQ playback failed: ${String(error)}`, { cause: error });
    }
  }

  /** Capture time (node clock, ms) of the frame on screen (of the audio when there is no video). */
  mediaTime(): number | undefined {
    const us = this.#lastVideoUs ?? this.#lastAudioUs;
    return us === undefined ? undefined : us / 1000;
  }

  /** What the relay session runs over (`webtransport` or `websocket`), once connected. */
  get wireTransport(): 'webtransport' | 'websocket' | undefined {
    return this.#session?.transport;
  }

  /** Media payload bytes received so far (video and audio frames). */
  get bytesReceived(): number {
    return this.#bytes;
  }

  /** Stops and detaches from the element. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#liveness?.close();
    this.#stopVideo();
    this.#stopAudio();
    this.#catalog?.close();
    this.#broadcast?.close();
    this.#session?.close();
    if (this.#media.srcObject) this.#media.srcObject = null;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    const started = performance.now();
    const left = (): number => Math.max(0, o.timeoutMs - (performance.now() - started));
    const net = await loadMoqNet(o.moqNetUrl).catch((error: unknown) => {
      throw new SubsecError('MEDIA_ERROR', `cannot load @moq/net from ${o.moqNetUrl}`, { cause: error });
    });
    const wt = typeof WebTransport === 'undefined' ? undefined : o.webtransport;
    const connecting = wt
      ? net.Connection.connect(wt.url, {
          webtransport: { serverCertificateHashes: [{ algorithm: 'sha-256', value: wt.certificateSha256 }] },
          websocket: o.webSocket === false ? { enabled: false } : { url: o.sessionUrl, delay: o.webTransportHeadStartMs ?? 500 },
        })
      : net.Connection.connect(o.sessionUrl, { websocket: { delay: 0 } });
    const session = await withTimeout(connecting, left(), 'MoQ: no relay session').catch((error: unknown) => {
      throw error instanceof SubsecError ? error : new SubsecError('CONNECTION_FAILED', `cannot reach the MoQ relay: ${String(error)}`, { cause: error });
    });
    this.#session = session;
    if (this.#closed) return;
    this.#liveness = new RelayLiveness(o.sessionUrl, (why) => this.#fatal(new SubsecError('CONNECTION_LOST', why)));
    const playing = waitForFirstFrame(this.#media, left(), 'MoQ');
    this.#starting = playing;
    session.closed.then(
      () => this.#fatal(new SubsecError('CONNECTION_LOST', 'the MoQ relay closed the session')),
      () => this.#fatal(new SubsecError('CONNECTION_LOST', 'the MoQ relay connection failed')),
    );
    this.#broadcast = session.consume(net.Path.from(o.broadcast));
    this.#catalog = this.#broadcast.track(CATALOG_TRACK).subscribe({ priority: 100 });
    void this.#readCatalog(this.#catalog);
    await playing.done;
  }

  #fatal(error: SubsecError): void {
    if (this.#closed) return;
    this.close();
    if (!this.#starting?.fail(error)) this.#o.onFatal?.(error);
  }

  /**
   * A track ended. A relay that goes away ends every subscription just before its session closes,
   * so wait briefly: a session that closes meanwhile is a lost connection (reported by the
   * session's own handler), otherwise the stream really ended.
   */
  async #ended(message: string): Promise<void> {
    const session = this.#session;
    const closing = session
      ? await Promise.race([session.closed.then(sessionGone, sessionGone), new Promise<false>((r) => setTimeout(() => r(false), SESSION_CLOSE_GRACE_MS))])
      : false;
    if (!closing) this.#fatal(new SubsecError('NOT_FOUND', message));
  }

  async #readCatalog(subscription: MoqTrackSubscription): Promise<void> {
    try {
      for (;;) {
        const group = await subscription.recvGroup();
        if (this.#closed) return;
        if (!group) return await this.#ended(`the MoQ broadcast ${this.#o.broadcast} ended`);
        const frame = await group.readFrame();
        group.close();
        this.#liveness?.heard();
        if (!frame) continue;
        await this.#apply(JSON.parse(new TextDecoder().decode(frame.payload)) as Catalog);
      }
    } catch (error) {
      this.#fatal(error instanceof SubsecError ? error : new SubsecError('MEDIA_ERROR', `MoQ catalog: ${String(error)}`, { cause: error }));
    }
  }

  /** Plays the catalog's first video and audio renditions, switching when they change. */
  async #apply(catalog: Catalog): Promise<void> {
    const broadcast = this.#broadcast;
    if (!broadcast || this.#closed) return;
    const fatal = (error: SubsecError): void => this.#fatal(error);
    let changed = false;
    const [videoName, video] = Object.entries(catalog.video?.renditions ?? {})[0] ?? [];
    if (videoName !== this.#video?.name) {
      this.#stopVideo();
      if (videoName && video) {
        const renderer = await VideoRenderer.create(video, (us) => this.#videoShown(us), fatal);
        if (this.#closed) return renderer.close();
        this.#video = { name: videoName, renderer, subscription: broadcast.track(videoName).subscribe({ priority: 60 }) };
        this.#o.qoe?.rendition(video.codedHeight ? `${video.codedHeight}p` : videoName);
        void this.#readVideo(this.#video);
      }
      changed = true;
    }
    const [audioName, audio] = Object.entries(catalog.audio?.renditions ?? {})[0] ?? [];
    if (audioName !== this.#audio?.name) {
      this.#stopAudio();
      if (audioName && audio) {
        const renderer = await AudioRenderer.create(audio, (us) => this.#audioPlayed(us), fatal).catch(() => undefined);
        if (renderer && this.#closed) return renderer.close();
        // A browser that cannot decode the audio still shows the picture.
        if (renderer) {
          this.#audio = { name: audioName, renderer, subscription: broadcast.track(audioName).subscribe({ priority: 80 }) };
          void this.#readAudio(this.#audio);
        }
      }
      changed = true;
    }
    if (changed) this.#attach();
  }

  #attach(): void {
    const tracks = [this.#video?.renderer.track, this.#audio?.renderer.track].filter((t): t is MediaStreamTrack => t !== undefined);
    this.#media.srcObject = tracks.length > 0 ? new MediaStream(tracks) : null;
    // Autoplay needs a muted element or an earlier user gesture; the app decides which.
    if (tracks.length > 0) void this.#media.play().catch(() => undefined);
  }

  #videoShown(timestampUs: number): void {
    this.#lastVideoUs = timestampUs;
    this.#o.qoe?.frame({ latencyMs: Math.max(0, this.#o.now() - timestampUs / 1000) });
  }

  #audioPlayed(timestampUs: number): void {
    this.#lastAudioUs = timestampUs;
    if (!this.#video) this.#o.qoe?.frame({ latencyMs: Math.max(0, this.#o.now() - timestampUs / 1000) });
  }

  async #readVideo(playing: Playing<VideoRenderer>): Promise<void> {
    try {
      for (;;) {
        const group = await playing.subscription.recvGroup();
        if (this.#closed || this.#video !== playing) return group?.close();
        if (!group) return await this.#ended(`the MoQ video track ${playing.name} ended`);
        if (group.sequence <= this.#newestGroup) {
          group.close();
          continue;
        }
        this.#newestGroup = group.sequence;
        void this.#readVideoGroup(playing, group);
      }
    } catch (error) {
      if (this.#video === playing) this.#fatal(new SubsecError('CONNECTION_LOST', `MoQ video track: ${String(error)}`, { cause: error }));
    }
  }

  /** Decodes a group's frames until it ends or a newer group takes over. */
  async #readVideoGroup(playing: Playing<VideoRenderer>, group: MoqGroup): Promise<void> {
    let key = true;
    try {
      for (;;) {
        const frame = await group.readFrame();
        if (!frame || this.#closed || this.#video !== playing || group.sequence < this.#newestGroup) break;
        const { timestampUs, payload } = decodeLegacyFrame(frame.payload);
        this.#liveness?.heard();
        this.#bytes += payload.byteLength;
        this.#o.qoe?.addBytes(payload.byteLength);
        playing.renderer.decode(timestampUs, payload, key);
        key = false;
      }
    } catch {
      // A group reset by the relay (dropped as stale): the next group starts with a key frame.
    } finally {
      group.close();
    }
  }

  async #readAudio(playing: Playing<AudioRenderer>): Promise<void> {
    try {
      for (;;) {
        const group = await playing.subscription.recvGroup();
        if (this.#closed || this.#audio !== playing) return group?.close();
        if (!group) return;
        for (;;) {
          const frame = await group.readFrame().catch(() => undefined);
          if (!frame) break;
          const { timestampUs, payload } = decodeLegacyFrame(frame.payload);
          this.#liveness?.heard();
          this.#bytes += payload.byteLength;
          this.#o.qoe?.addBytes(payload.byteLength);
          playing.renderer.decode(timestampUs, payload);
        }
        group.close();
      }
    } catch {
      // Audio ending or failing alone leaves the picture playing.
    }
  }

  #stopVideo(): void {
    const video = this.#video;
    this.#video = undefined;
    this.#newestGroup = -1;
    video?.subscription.close();
    video?.renderer.close();
  }

  #stopAudio(): void {
    const audio = this.#audio;
    this.#audio = undefined;
    audio?.subscription.close();
    audio?.renderer.close();
  }
}

/** `promise`, or a TIMEOUT error after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what} within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
