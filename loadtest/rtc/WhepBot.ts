/**
 * A WebRTC subscriber bot: a WHEP client on libdatachannel (node-datachannel) that does real ICE,
 * DTLS and SRTP with the node, sends receiver reports, and measures what arrives (bitrate, loss
 * from sequence gaps, frames and freezes) without decoding. One bot is one viewer.
 */
import nodeDataChannel, { type PeerConnection, type Track } from 'node-datachannel';
import { isRtcp, RtpReceiveStats, type RtpCounters } from './RtpReceiveStats';

/**
 * Video header extensions a browser viewer negotiates (mid, abs-send-time, transport-cc,
 * orientation, toffset, abs-capture-time, playout-delay), with mediasoup's preferred ids: the
 * WHEP answer keeps only extensions whose ids match the router's, and the fan-out bench's
 * consumers carry this same set, so the two cost the worker the same header rewriting.
 */
const VIDEO_EXTMAPS = [
  'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:5 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:11 urn:3gpp:video-orientation',
  'a=extmap:12 urn:ietf:params:rtp-hdrext:toffset',
  'a=extmap:13 http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'a=extmap:14 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
];

/** SSRC of mediasoup's bandwidth-probation padding stream. */
const PROBATION_SSRC = 1234;
const EMPTY: RtpCounters = { packets: 0, bytes: 0, expected: 0, frames: 0, freezes: 0, freezeMs: 0 };

/** Options of {@link WhepBot.start}. */
export interface WhepBotOptions {
  /** Full WHEP URL: `${base}/whep/{room}/{stream}`. */
  url: string;
  token: string;
  /** Also receive audio (default false). */
  audio?: boolean;
  /** Time allowed for the POST and ICE+DTLS (ms, default 15 s). */
  timeoutMs?: number;
}

/** What a bot has received so far. */
export interface BotCounters {
  video: RtpCounters;
  audio: RtpCounters;
  /** POST → first video packet (ms); null before it. */
  firstPacketMs: number | null;
  state: string;
}

/** One viewer. */
export class WhepBot {
  readonly #pc: PeerConnection;
  /** Video stats per SSRC: besides the media, mediasoup sends probation padding (bandwidth probes) on its own SSRC. */
  readonly #videoBySsrc = new Map<number, RtpReceiveStats>();
  readonly #audio = new RtpReceiveStats();
  readonly #tracks: Track[] = [];
  readonly #handlers: unknown[] = [];
  #location: string | null = null;
  #token = '';
  #state = 'new';
  #startedAt = 0;
  #firstPacketMs: number | null = null;
  #closed = false;

  private constructor(name: string) {
    this.#pc = new nodeDataChannel.PeerConnection(name, { iceServers: [] });
    this.#pc.onStateChange((s: string) => {
      this.#state = s;
    });
  }

  /** Creates the bot, negotiates through WHEP and waits until the connection is up. */
  static async start(name: string, o: WhepBotOptions): Promise<WhepBot> {
    const bot = new WhepBot(name);
    try {
      await bot.#negotiate(o);
      return bot;
    } catch (err) {
      bot.close();
      throw err;
    }
  }

  async #negotiate(o: WhepBotOptions): Promise<void> {
    const timeoutMs = o.timeoutMs ?? 15_000;
    const video = new nodeDataChannel.Video('0', 'RecvOnly');
    video.addH264Codec(102);
    video.addVP8Codec(96);
    for (const line of VIDEO_EXTMAPS) video.parseSdpLine(line);
    video.parseSdpLine('a=rtcp-fb:102 transport-cc');
    video.parseSdpLine('a=rtcp-fb:96 transport-cc');
    const vt = this.#pc.addTrack(video);
    // Keep the Track objects: once garbage-collected, node-datachannel stops calling onMessage.
    this.#tracks.push(vt);
    // Receiver reports (about one a second), as a browser sends them; kept referenced like the track.
    const rtcp = new nodeDataChannel.RtcpReceivingSession();
    this.#handlers.push(rtcp);
    vt.setMediaHandler(rtcp);
    vt.onMessage((msg: Buffer) => {
      if (isRtcp(msg)) return;
      if (msg.length < 12) return;
      const ssrc = msg.readUInt32BE(8);
      let stats = this.#videoBySsrc.get(ssrc);
      if (!stats) this.#videoBySsrc.set(ssrc, (stats = new RtpReceiveStats()));
      stats.onPacket(msg);
      if (this.#firstPacketMs === null && ssrc !== PROBATION_SSRC) this.#firstPacketMs = performance.now() - this.#startedAt;
    });
    if (o.audio) {
      const audio = new nodeDataChannel.Audio('1', 'RecvOnly');
      audio.addOpusCodec(111);
      const at = this.#pc.addTrack(audio);
      this.#tracks.push(at);
      at.onMessage((msg: Buffer) => {
        if (!isRtcp(msg)) this.#audio.onPacket(msg);
      });
    }
    const gathered = new Promise<void>((resolve) => this.#pc.onGatheringStateChange((s: string) => s === 'complete' && resolve()));
    this.#pc.setLocalDescription();
    await Promise.race([gathered, new Promise((r) => setTimeout(r, 3000))]);
    const offer = this.#pc.localDescription()?.sdp;
    if (!offer) throw new Error('no local offer');
    this.#startedAt = performance.now();
    this.#token = o.token;
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${o.token}` },
      body: offer,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    if (res.status !== 201) throw Object.assign(new Error(`WHEP POST: HTTP ${res.status} ${body.slice(0, 200)}`), { status: res.status });
    const location = res.headers.get('location');
    this.#location = location ? new URL(location, o.url).toString() : null;
    this.#pc.setRemoteDescription(body, 'answer');
    const deadline = Date.now() + timeoutMs;
    while (this.#state !== 'connected') {
      if (this.#state === 'failed' || this.#state === 'closed') throw new Error(`peer connection ${this.#state}`);
      if (Date.now() > deadline) throw new Error(`not connected within ${timeoutMs} ms (state ${this.#state})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Counters so far. */
  counters(): BotCounters {
    // The media stream is the SSRC with the most packets (probation padding is short bursts).
    let video = EMPTY;
    for (const [ssrc, stats] of this.#videoBySsrc) {
      const c = stats.counters();
      if (ssrc !== PROBATION_SSRC && c.packets > video.packets) video = c;
    }
    return { video, audio: this.#audio.counters(), firstPacketMs: this.#firstPacketMs, state: this.#state };
  }

  /** Ends the session on the node (DELETE) and closes the connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    if (this.#location) {
      await fetch(this.#location, { method: 'DELETE', headers: { authorization: `Bearer ${this.#token}` }, signal: AbortSignal.timeout(5000) }).catch(
        () => undefined,
      );
    }
    this.close();
  }

  /** Closes the connection without telling the node. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#pc.close();
    } catch {
      // already closed
    }
  }
}
