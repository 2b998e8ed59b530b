/**
 * A WebRTC subscriber bot: a WHEP client on libdatachannel (node-datachannel) that does real ICE,
 * DTLS and SRTP with the node and measures what arrives (bitrate, loss from sequence gaps,
 * frames and freezes) without decoding. One bot is one viewer.
 */
import nodeDataChannel, { type PeerConnection } from 'node-datachannel';
import { isRtcp, RtpReceiveStats, type RtpCounters } from './RtpReceiveStats';

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
  readonly #video = new RtpReceiveStats();
  readonly #audio = new RtpReceiveStats();
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
    const vt = this.#pc.addTrack(video);
    // No RtcpReceivingSession handler: with it, 50 bots on one stream received ~3 % of the
    // packets (seen with node-datachannel 0.33). So bots send no RTCP at all (see docs/loadtest.md).
    vt.onMessage((msg: Buffer) => {
      if (isRtcp(msg)) return;
      if (this.#firstPacketMs === null) this.#firstPacketMs = performance.now() - this.#startedAt;
      this.#video.onPacket(msg);
    });
    if (o.audio) {
      const audio = new nodeDataChannel.Audio('1', 'RecvOnly');
      audio.addOpusCodec(111);
      const at = this.#pc.addTrack(audio);
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
    return { video: this.#video.counters(), audio: this.#audio.counters(), firstPacketMs: this.#firstPacketMs, state: this.#state };
  }

  /** Ends the session on the node (DELETE) and closes the connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    if (this.#location) {
      await fetch(this.#location, { method: 'DELETE', headers: { authorization: `Bearer ${this.#token}` }, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
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
