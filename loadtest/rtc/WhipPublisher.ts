/**
 * A WebRTC publisher bot: ffmpeg loops a pre-encoded H264 clip as RTP to a local UDP socket and
 * libdatachannel (node-datachannel) sends those packets over a real WHIP session (ICE, DTLS,
 * SRTP). Cheap (no encoding) and works against any deployment that accepts WHIP.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import nodeDataChannel, { type PeerConnection, type Track } from 'node-datachannel';
import { ClipFeed, ensureClip } from '../bench/ClipFeed';

const PAYLOAD_TYPE = 102;

/** Options of {@link WhipPublisher.start}. */
export interface WhipPublisherOptions {
  /** Base URL of the node. */
  url: string;
  room: string;
  /** Stream name = the token's identity. */
  stream: string;
  token: string;
  bitrateKbps: number;
  timeoutMs?: number;
}

/** A publishing bot. */
export class WhipPublisher {
  readonly #pc: PeerConnection;
  readonly #socket: dgram.Socket;
  #feed: ClipFeed | undefined;
  #track: Track | undefined;
  #location: string | null = null;
  #token = '';
  #state = 'new';
  #sent = 0;
  #closed = false;

  private constructor() {
    this.#pc = new nodeDataChannel.PeerConnection('loadtest-publisher', { iceServers: [] });
    this.#pc.onStateChange((s: string) => {
      this.#state = s;
    });
    this.#socket = dgram.createSocket('udp4');
  }

  /** Publishes and resolves once the connection is up and ffmpeg runs. */
  static async start(o: WhipPublisherOptions): Promise<WhipPublisher> {
    const pub = new WhipPublisher();
    try {
      await pub.#start(o);
      return pub;
    } catch (err) {
      await pub.stop();
      throw err;
    }
  }

  async #start(o: WhipPublisherOptions): Promise<void> {
    const timeoutMs = o.timeoutMs ?? 15_000;
    const ssrc = crypto.randomInt(1, 2 ** 31);
    const video = new nodeDataChannel.Video('0', 'SendOnly');
    video.addH264Codec(PAYLOAD_TYPE);
    video.addSSRC(ssrc, 'loadtest', 'loadtest', 'video');
    const track = this.#pc.addTrack(video);
    this.#track = track;
    const gathered = new Promise<void>((resolve) => this.#pc.onGatheringStateChange((s: string) => s === 'complete' && resolve()));
    this.#pc.setLocalDescription();
    await Promise.race([gathered, new Promise((r) => setTimeout(r, 3000))]);
    const offer = this.#pc.localDescription()?.sdp;
    if (!offer) throw new Error('no local offer');
    const endpoint = `${o.url}/whip/${encodeURIComponent(o.room)}/${encodeURIComponent(o.stream)}`;
    this.#token = o.token;
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${o.token}` },
      body: offer,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text();
    if (res.status === 404) throw new Error(`the target has no WHIP endpoint (${endpoint}: 404)`);
    if (res.status !== 201) throw new Error(`WHIP POST ${endpoint}: HTTP ${res.status} ${body.slice(0, 200)}`);
    const location = res.headers.get('location');
    this.#location = location ? new URL(location, endpoint).toString() : null;
    this.#pc.setRemoteDescription(body, 'answer');
    const deadline = Date.now() + timeoutMs;
    while (!track.isOpen()) {
      if (this.#state === 'failed' || this.#state === 'closed') throw new Error(`publisher connection ${this.#state}`);
      if (Date.now() > deadline) throw new Error(`publisher not connected within ${timeoutMs} ms (state ${this.#state})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.#socket.on('message', (msg) => {
      if (this.#closed || !track.isOpen()) return;
      if (track.sendMessageBinary(msg)) this.#sent++;
    });
    await new Promise<void>((resolve) => this.#socket.bind(0, '127.0.0.1', () => resolve()));
    const clip = await ensureClip({ bitrateKbps: o.bitrateKbps });
    this.#feed = ClipFeed.start(clip, { port: this.#socket.address().port, ssrc, payloadType: PAYLOAD_TYPE });
  }

  /** RTP packets handed to the connection. */
  get packetsSent(): number {
    return this.#sent;
  }

  /** True while ffmpeg runs and the connection is up. */
  get running(): boolean {
    return !this.#closed && (this.#feed?.running ?? false) && this.#state === 'connected';
  }

  /** Ends the WHIP session and stops ffmpeg. Idempotent. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed?.stop();
    if (this.#location) {
      await fetch(this.#location, { method: 'DELETE', headers: { authorization: `Bearer ${this.#token}` }, signal: AbortSignal.timeout(5000) }).catch(
        () => undefined,
      );
    }
    try {
      this.#pc.close();
    } catch {
      // already closed
    }
    try {
      this.#socket.close();
    } catch {
      // never bound
    }
  }
}
