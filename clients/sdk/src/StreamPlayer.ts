/**
 * Watching a stream (the producers of one publisher identity) with transport fallback:
 * WebRTC first, then MoQ, then LL-HLS — in that order by default, skipping a transport the policy
 * rules out (more peers in the room than `maxWebRtcViewers`, or the app forcing one) or the
 * browser cannot play, and moving to the next one when a transport fails to show a frame in time
 * or fails later. Whatever the path, the app gets the room's events through `player.on('event')`
 * at their media time: an event is emitted once the frame it was stamped with is on screen, so an
 * LL-HLS viewer several seconds behind sees a bid together with the video it belongs to.
 *
 * MoQ plays the stream's broadcast on the node's relay with WebCodecs (see moq/MoqPlayback.ts);
 * it is skipped when the node offers no MoQ or the browser has no WebCodecs.
 */
import type { PeerInfo, ProducerInfo, RoomEvent } from '../../../src/protocol/signaling';
import { SubsecError, toSubsecError } from './errors';
import { HlsPlayback } from './HlsPlayback';
import { MoqPlayback } from './moq/MoqPlayback';
import { waitForFirstFrame } from './firstFrame';
import type { Subscription } from './Subscription';
import { TypedEmitter } from './TypedEmitter';
import type { RoomEvents } from './RoomEvents';
import type { ClockSync } from './ClockSync';
import type { QoeReporter } from './qoe/QoeReporter';

/**
 * What a player needs of its client (`SubsecClient` satisfies it), declared here so the player
 * and the client do not import each other.
 */
export interface WatchHost {
  /** The node's HTTP base URL (LL-HLS and the vendored players are fetched from it). */
  readonly httpUrl: string;
  /** The room joined. */
  readonly room: string;
  /** The room's events (re-emitted at media time). */
  readonly events: RoomEvents;
  /** The clock synchronised with the node. */
  readonly clock: ClockSync;
  /** Where playback QoE is reported. */
  readonly qoe: QoeReporter;
  /** The other peers of the room. */
  readonly peers: PeerInfo[];
  /** The room's producers. */
  readonly producers: ProducerInfo[];
  /** The node's MoQ session URL, when it offers MoQ. */
  moqSessionUrl(): URL | undefined;
  /** The MoQ session over WebTransport/HTTP3 when the relay offers it (URL and certificate hash to pin). */
  moqWebTransport(): { url: URL; certificateSha256: string } | undefined;
  /** Subscribes to one producer over WebRTC. */
  subscribe(producerId: string): Promise<Subscription>;
  /** Calls `listener` for each producer that appears; returns the unsubscribe function. */
  on(event: 'producerAdded', listener: (producer: ProducerInfo) => void): () => void;
}

/** A delivery path. */
export type TransportName = 'webrtc' | 'moq' | 'hls';

/** Options of `SubsecClient.watch()`. */
export interface WatchOptions {
  /** `auto` (default) tries `order`; a name forces that transport alone. */
  transport?: 'auto' | TransportName;
  /** Order of the fallback (default webrtc, moq, hls). */
  order?: TransportName[];
  /** Policy: with more peers than this in the room, WebRTC is skipped (default Infinity). */
  maxWebRtcViewers?: number;
  /** WebRTC fails over when no frame played within this time (ms, default 8000). */
  webrtcTimeoutMs?: number;
  /** MoQ fails over when no frame played within this time (ms, default 8000). */
  moqTimeoutMs?: number;
  /**
   * What the MoQ session runs over: `auto` (default) tries WebTransport/HTTP3 when the relay
   * offers it and the browser has it, falling back to WebSocket; or force one of them.
   */
  moqCarrier?: 'auto' | MoqCarrier;
  /** LL-HLS fails over when no frame played within this time (ms, default 25 000). */
  hlsTimeoutMs?: number;
  /** hls.js as an ES module (default: the node's `/sdk/vendor/hls.mjs`). */
  hlsJsUrl?: string;
  /** `@moq/net` as an ES module (default: the node's `/sdk/vendor/moq-net.mjs`). */
  moqNetUrl?: string;
  /** Time to wait for the publisher's producers to appear (ms, default 10 000). */
  sourceTimeoutMs?: number;
}

/** Events of {@link StreamPlayer}. */
export interface StreamPlayerEvents {
  /** Playing on `transport` (first time, or after a fallback). */
  transport: { transport: TransportName; reason: string; carrier?: MoqCarrier };
  /** `from` failed or was ruled out; trying `to`. */
  fallback: { from: TransportName; to: TransportName | undefined; reason: string };
  /** A room event whose media time the playhead has reached (in sequence order). */
  event: RoomEvent;
  /** Every transport failed; the player is closed. */
  failed: { reason: string };
}

/** What a MoQ session runs over: WebTransport (HTTP/3, QUIC) or WebSocket (TCP). */
export type MoqCarrier = 'webtransport' | 'websocket';

/** What the player needs to know about a running transport. */
interface ActivePath {
  name: TransportName;
  mediaTime(): number | undefined;
  /** Media bytes received by this path so far. */
  bytesReceived(): Promise<number>;
  /** What carries the path underneath, where there is a choice (MoQ: `webtransport` or `websocket`). */
  wire?(): string | undefined;
  close(): void;
}

/** WebRTC latency assumed until stats tell better (ms). */
const DEFAULT_WEBRTC_DELAY_MS = 120;

/** The node's http(s) base URL from its signaling URL. */
export function httpBaseOf(signalingUrl: string): string {
  const u = new URL(signalingUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.replace(/ws$/, '');
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

/** A stream shown in a media element, with fallback and media-timed events. */
export class StreamPlayer extends TypedEmitter<StreamPlayerEvents> {
  readonly identity: string;
  readonly media: HTMLMediaElement;
  readonly #client: WatchHost;
  readonly #o: Required<WatchOptions>;
  readonly #hlsUrl: string;
  readonly #pending: RoomEvent[] = [];
  #emittedSeq = 0;
  #active: ActivePath | undefined;
  #webrtcDelayMs = DEFAULT_WEBRTC_DELAY_MS;
  readonly #offEvent: () => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;

  private constructor(client: WatchHost, identity: string, media: HTMLMediaElement, options: WatchOptions) {
    super();
    this.#client = client;
    this.identity = identity;
    this.media = media;
    const base = client.httpUrl;
    this.#o = {
      transport: 'auto',
      order: ['webrtc', 'moq', 'hls'],
      maxWebRtcViewers: Number.POSITIVE_INFINITY,
      webrtcTimeoutMs: 8000,
      moqTimeoutMs: 8000,
      moqCarrier: 'auto',
      hlsTimeoutMs: 25_000,
      sourceTimeoutMs: 10_000,
      ...options,
      hlsJsUrl: options.hlsJsUrl ?? `${base}/sdk/vendor/hls.mjs`,
      moqNetUrl: options.moqNetUrl ?? `${base}/sdk/vendor/moq-net.mjs`,
    };
    this.#hlsUrl = `${base}/hls/${encodeURIComponent(client.room)}/${encodeURIComponent(identity)}/index.m3u8`;
    // Only events from now on are timed to the media; the past is in client.events' history.
    this.#emittedSeq = client.events.lastSeq;
    this.#offEvent = client.events.on('event', (e) => this.#queue(e));
    this.#timer = setInterval(() => this.#release(), 50);
  }

  /** Starts watching; resolves once a transport shows frames, rejects when every one failed. */
  static async start(client: WatchHost, identity: string, media: HTMLMediaElement, options: WatchOptions = {}): Promise<StreamPlayer> {
    if (typeof identity !== 'string' || identity.length === 0) throw new TypeError('identity must be a non-empty string');
    const player = new StreamPlayer(client, identity, media, options);
    try {
      await player.#runFrom(0, 'start');
    } catch (error) {
      player.close();
      throw error;
    }
    return player;
  }

  /** The transport in use. */
  get transport(): TransportName | undefined {
    return this.#active?.name;
  }

  /** Media time (node clock, ms) of the frame on screen. */
  mediaTime(): number {
    return this.#active?.mediaTime() ?? this.#client.clock.now() - this.#webrtcDelayMs;
  }

  /** What carries the transport underneath, where there is a choice: MoQ over `webtransport` or `websocket`. */
  get wireTransport(): string | undefined {
    return this.#active?.wire?.();
  }

  /** Media bytes received by the transport in use since it started (0 while none plays). */
  async bytesReceived(): Promise<number> {
    return (await this.#active?.bytesReceived()) ?? 0;
  }

  /** How far behind the node's clock the picture is (ms). */
  get latencyMs(): number {
    return Math.max(0, this.#client.clock.now() - this.mediaTime());
  }

  /** Stops playback and the event timing. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offEvent();
    clearInterval(this.#timer);
    this.#active?.close();
    this.#active = undefined;
    this.removeAllListeners();
  }

  #order(): TransportName[] {
    return this.#o.transport === 'auto' ? this.#o.order : [this.#o.transport];
  }

  async #runFrom(index: number, reason: string): Promise<void> {
    const order = this.#order();
    let why = reason;
    for (let i = index; i < order.length; i++) {
      const name = order[i]!;
      if (this.#closed) return;
      try {
        this.#active = await this.#open(name);
        if (this.#closed) {
          this.#active.close();
          return;
        }
        const carrier = this.#active.wire?.() as MoqCarrier | undefined;
        this.emit('transport', { transport: name, reason: why, ...(carrier ? { carrier } : {}) });
        return;
      } catch (error) {
        why = `${name}: ${toSubsecError(error).message}`;
        this.emit('fallback', { from: name, to: order[i + 1], reason: why });
      }
    }
    this.emit('failed', { reason: why });
    throw new SubsecError('MEDIA_ERROR', `no transport could play ${this.identity}: ${why}`);
  }

  /** A running path failed after it started: move on to the next transport. */
  #failed(path: ActivePath, reason: string): void {
    if (this.#closed || this.#active !== path) return;
    path.close();
    this.#active = undefined;
    const order = this.#order();
    const next = order.indexOf(path.name) + 1;
    this.emit('fallback', { from: path.name, to: order[next], reason });
    this.#runFrom(next, reason).catch(() => this.close());
  }

  #open(name: TransportName): Promise<ActivePath> {
    switch (name) {
      case 'webrtc':
        return this.#openWebRtc();
      case 'hls':
        return this.#openHls();
      case 'moq':
        return this.#openMoq();
    }
  }

  async #openMoq(): Promise<ActivePath> {
    const client = this.#client;
    const sessionUrl = client.moqSessionUrl();
    if (!sessionUrl) throw new SubsecError('UNSUPPORTED_MEDIA', 'the node offers no MoQ');
    if (this.#o.moqCarrier === 'webtransport' && (!client.moqWebTransport() || typeof WebTransport === 'undefined')) {
      throw new SubsecError('UNSUPPORTED_MEDIA', 'MoQ over WebTransport was asked for, but the relay or this browser has none');
    }
    if (typeof VideoDecoder === 'undefined') throw new SubsecError('UNSUPPORTED_BROWSER', 'this browser has no WebCodecs');
    await this.#sources();
    let path: ActivePath | undefined;
    const qoe = client.qoe.startSession({ stream: this.identity, path: 'moq' });
    const moq = await MoqPlayback.start(this.media, {
      moqNetUrl: this.#o.moqNetUrl,
      sessionUrl,
      webtransport: this.#o.moqCarrier === 'websocket' ? undefined : client.moqWebTransport(),
      webSocket: this.#o.moqCarrier !== 'webtransport',
      broadcast: this.identity,
      timeoutMs: this.#o.moqTimeoutMs,
      now: () => client.clock.now(),
      qoe,
      onFatal: (error) => {
        qoe.fail(error.code);
        if (path) this.#failed(path, `moq: ${error.message}`);
      },
    }).catch((error: unknown) => {
      qoe.fail(toSubsecError(error).code);
      throw error;
    });
    path = {
      name: 'moq',
      mediaTime: () => moq.mediaTime(),
      bytesReceived: () => Promise.resolve(moq.bytesReceived),
      wire: () => moq.wireTransport,
      close: () => {
        qoe.end();
        moq.close();
      },
    };
    return path;
  }

  async #openWebRtc(): Promise<ActivePath> {
    const client = this.#client;
    if (client.peers.length + 1 > this.#o.maxWebRtcViewers) {
      throw new SubsecError('CONFLICT', `policy: ${client.peers.length + 1} peers > maxWebRtcViewers ${this.#o.maxWebRtcViewers}`);
    }
    const infos = await this.#sources();
    const subs: Subscription[] = [];
    const media = this.media;
    let path: ActivePath | undefined;
    const offs: Array<() => void> = [];
    let statsTimer: ReturnType<typeof setInterval> | undefined;
    const cleanup = (): void => {
      clearInterval(statsTimer);
      for (const off of offs) off();
      for (const s of subs) s.close();
      if (media.srcObject) media.srcObject = null;
    };
    try {
      for (const info of infos) subs.push(await client.subscribe(info.producerId));
      const attach = (): void => {
        media.srcObject = new MediaStream(subs.filter((s) => !s.closed).map((s) => s.track));
        void media.play().catch(() => undefined);
      };
      attach();
      for (const s of subs) {
        offs.push(s.on('trackChanged', attach));
        offs.push(s.on('closed', ({ reason }) => reason === 'failed' && path && this.#failed(path, `webrtc: subscription ${reason}`)));
      }
      await waitForFirstFrame(this.media, this.#o.webrtcTimeoutMs, 'WebRTC').done;
    } catch (error) {
      cleanup();
      throw error;
    }
    const video = subs.find((s) => s.kind === 'video');
    statsTimer = setInterval(() => void this.#measureWebRtc(video), 2000);
    path = { name: 'webrtc', mediaTime: () => this.#client.clock.now() - this.#webrtcDelayMs, bytesReceived: () => webRtcBytes(subs), close: cleanup };
    return path;
  }

  async #openHls(): Promise<ActivePath> {
    let path: ActivePath | undefined;
    // QoE of this path (docs/qoe.md): startup, stalls, pauses and failures from the media element,
    // the level's bitrate from hls.js, and CMCD on every request under the same session id (the
    // node counts the viewer once).
    const cmcdSid = this.#client.qoe.cmcdSessionId();
    const qoe = this.#client.qoe.watchMedia({ stream: this.identity, path: 'hls', media: this.media, cmcdSid });
    const hls = await HlsPlayback.start(this.#hlsUrl, this.media, {
      hlsJsUrl: this.#o.hlsJsUrl,
      timeoutMs: this.#o.hlsTimeoutMs,
      cmcd: { sessionId: cmcdSid, contentId: `${this.#client.room}/${this.identity}` },
      onPlayer: (player) => qoe.attachHls(player),
      onDateRangeEvent: (event) => this.#queue(event),
      onFatal: (error) => {
        qoe.session.fail(error.code);
        if (path) this.#failed(path, error.message);
      },
    }).catch((error: unknown) => {
      qoe.session.fail(toSubsecError(error).code);
      qoe.stop();
      throw error;
    });
    // Latency: the node's clock against the program date of the frame on screen.
    const latency = setInterval(() => {
      const t = hls.mediaTime();
      if (t !== undefined) qoe.session.latency(this.#client.clock.now() - t);
    }, 1000);
    path = {
      name: 'hls',
      mediaTime: () => hls.mediaTime(),
      bytesReceived: () => Promise.resolve(hls.bytesReceived),
      close: () => {
        clearInterval(latency);
        qoe.stop();
        hls.close();
      },
    };
    return path;
  }

  /** The publisher's current producers, waiting for them to appear. */
  async #sources(): Promise<ProducerInfo[]> {
    const client = this.#client;
    const find = (): ProducerInfo[] => client.producers.filter((p) => p.identity === this.identity);
    if (find().length > 0) return find();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new SubsecError('NOT_FOUND', `${this.identity} publishes nothing`));
      }, this.#o.sourceTimeoutMs);
      const off = client.on('producerAdded', (p) => {
        if (p.identity !== this.identity) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    return find();
  }

  /** Estimates how late WebRTC frames are shown: jitter buffer + half the round trip. */
  async #measureWebRtc(video: Subscription | undefined): Promise<void> {
    const report = await video?.getStats().catch(() => undefined);
    if (!report) return;
    let jitter: number | undefined;
    let rtt: number | undefined;
    report.forEach((s: Record<string, unknown>) => {
      if (
        s.type === 'inbound-rtp' &&
        typeof s.jitterBufferDelay === 'number' &&
        typeof s.jitterBufferEmittedCount === 'number' &&
        s.jitterBufferEmittedCount > 0
      ) {
        jitter = (s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000;
      }
      if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') rtt = s.currentRoundTripTime * 1000;
    });
    if (jitter !== undefined) this.#webrtcDelayMs = jitter + (rtt ?? this.#client.clock.rttMs ?? 0) / 2 + 10;
  }

  #queue(event: RoomEvent): void {
    if (event.seq <= this.#emittedSeq || this.#pending.some((e) => e.seq === event.seq)) return;
    this.#pending.push(event);
    this.#pending.sort((a, b) => a.seq - b.seq);
    this.#release();
  }

  /** Emits, in sequence order, the queued events whose media time the playhead reached. */
  #release(): void {
    if (this.#closed || this.#pending.length === 0) return;
    // While the playhead's date is unknown (LL-HLS starting), hold everything.
    const now = this.#active ? this.#active.mediaTime() : this.mediaTime();
    if (now === undefined) return;
    while (this.#pending.length > 0 && this.#pending[0]!.mediaTime <= now) {
      const e = this.#pending.shift()!;
      this.#emittedSeq = e.seq;
      this.emit('event', e);
    }
  }
}

/** Bytes received by the subscriptions' inbound RTP streams (their current transports). */
async function webRtcBytes(subs: Subscription[]): Promise<number> {
  let bytes = 0;
  for (const sub of subs) {
    const report = await sub.getStats().catch(() => undefined);
    report?.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && typeof s.bytesReceived === 'number') bytes += s.bytesReceived;
    });
  }
  return bytes;
}
