/**
 * What every ffmpeg-fed output of a stream needs (LL-HLS, recording, restreams…): one mediasoup
 * PlainTransport per track sending to a free even/odd UDP port pair on 127.0.0.1 (comedia off,
 * RTCP on its own port so ffmpeg gets sender reports for A/V sync), consumers counted against the
 * router's budget, the SDP file ffmpeg reads, and key-frame requests to the publisher.
 *
 *     const feed = await FfmpegFeed.open({ stream, tracks: [video, audio], output: 'snapshot', onClosed: (why) => … });
 *     spawnOwned('ffmpeg', ['-protocol_whitelist', 'file,udp,rtp', '-f', 'sdp', '-i', feed.sdpPath, …]);
 *     await feed.resume();                      // video now, the other tracks once video flows
 *     feed.requestKeyFrames({ intervalMs: 1000 });
 *     …
 *     feed.close();
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Stream } from './Stream';

/** Finds an even UDP port with its odd neighbour free on 127.0.0.1 (RTP + RTCP for ffmpeg). */
export async function freeRtpPortPair(): Promise<number> {
  const tryBind = (port: number) =>
    new Promise<dgram.Socket | undefined>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(undefined);
      });
      s.bind(port, '127.0.0.1', () => resolve(s));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 9000);
    const a = await tryBind(port);
    if (!a) continue;
    const b = await tryBind(port + 1);
    a.close();
    if (!b) continue;
    b.close();
    return port;
  }
  throw new Error('no free UDP port pair for ffmpeg');
}

/** The SDP ffmpeg reads to receive consumers' RTP (one m-line per consumer, on its port). */
export function sdpFor(legs: Array<{ consumer: types.Consumer; port: number }>): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=subsec-hls', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const { consumer, port } of legs) {
    const codec = consumer.rtpParameters.codecs[0]!;
    const [, name] = codec.mimeType.split('/');
    lines.push(`m=${consumer.kind} ${port} RTP/AVP ${codec.payloadType}`);
    lines.push(`a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`);
    const fmtp = Object.entries(codec.parameters ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
    if (fmtp) lines.push(`a=fmtp:${codec.payloadType} ${fmtp}`);
    lines.push('a=recvonly');
  }
  return lines.join('\r\n') + '\r\n';
}

/** One track sent to ffmpeg. */
export interface FeedLeg {
  transport: types.PlainTransport;
  consumer: types.Consumer;
  /** RTP port on 127.0.0.1 (RTCP on port + 1). */
  port: number;
}

/** Options of {@link FfmpegFeed.open}. */
export interface FfmpegFeedOptions {
  stream: Stream;
  /** The tracks to send, video first (their order is the SDP's m-line order). */
  tracks: types.Producer[];
  /** The output the feed serves (`hls`, `recording`…), as `/v1/streams` counts its consumers. */
  output: string;
  /** Called once when a leg's consumer or transport closes under the feed (not on close()). */
  onClosed?: (reason: string) => void;
}

/** Plain-RTP legs from a stream's tracks to an ffmpeg process, with its SDP file. */
export class FfmpegFeed {
  readonly legs: FeedLeg[] = [];
  /** Path of the SDP file ffmpeg reads (`-f sdp -i <path>`, with `-protocol_whitelist file,udp,rtp`). */
  sdpPath = '';
  readonly #options: FfmpegFeedOptions;
  #dir: string | undefined;
  #keyFrameTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #told = false;

  private constructor(options: FfmpegFeedOptions) {
    this.#options = options;
  }

  /** Opens a paused leg per track and writes the SDP; closes what it opened when it fails. */
  static async open(options: FfmpegFeedOptions): Promise<FfmpegFeed> {
    const feed = new FfmpegFeed(options);
    try {
      for (const track of options.tracks) {
        const slot = options.stream.slotOf(track.id);
        const port = await freeRtpPortPair();
        const transport = await slot.router.createPlainTransport({
          listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
          rtcpMux: false,
          comedia: false,
          // The receiver is ffmpeg on loopback: no congestion feedback to estimate from.
          enableBwe: false,
        });
        await transport.connect({ ip: '127.0.0.1', port, rtcpPort: port + 1 });
        const consumer = await options.stream.consume(transport, slot, track, { output: options.output, paused: true });
        feed.legs.push({ transport, consumer, port });
        consumer.observer.once('close', () => feed.#lost(`${track.kind} consumer closed`));
        transport.observer.once('close', () => feed.#lost('transport closed'));
        if (feed.#closed) throw new Error('closed while starting');
      }
      feed.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-ffmpeg-'));
      feed.sdpPath = path.join(feed.#dir, 'input.sdp');
      fs.writeFileSync(feed.sdpPath, sdpFor(feed.legs));
      return feed;
    } catch (err) {
      feed.close();
      throw err;
    }
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resumes the first (video) leg now and the others once it flows, so every track starts
   * together and ffmpeg's RTCP-based A/V alignment does not jump the video timeline (the wait
   * gives up after `timeoutMs`).
   */
  async resume(timeoutMs = 10_000): Promise<void> {
    const [first, ...others] = this.legs;
    if (!first) return;
    await first.consumer.resume();
    void this.#resumeWhenFlowing(
      first.consumer,
      others.map((l) => l.consumer),
      timeoutMs,
    );
  }

  async #resumeWhenFlowing(first: types.Consumer, others: types.Consumer[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < deadline) {
      const stats = (await first.getStats().catch(() => [])) as Array<{ type: string; packetCount?: number }>;
      if (stats.some((s) => s.type === 'outbound-rtp' && (s.packetCount ?? 0) > 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of others) if (!this.#closed && !c.closed) await c.resume().catch(() => undefined);
  }

  /** Asks the publisher for a video key frame now. */
  requestKeyFrame(): void {
    const video = this.legs.find((l) => l.consumer.kind === 'video');
    if (video && !video.consumer.closed) video.consumer.requestKeyFrame().catch(() => undefined);
  }

  /**
   * Asks for key frames now, then every 250 ms while `fast()` is true (start-up), then every
   * `intervalMs` (so segments can be cut on time); stops at close().
   */
  requestKeyFrames(o: { intervalMs: number; fast?: () => boolean }): void {
    clearInterval(this.#keyFrameTimer);
    this.requestKeyFrame();
    let startup = o.fast !== undefined;
    let last = Date.now();
    this.#keyFrameTimer = setInterval(() => {
      if (startup && !o.fast!()) startup = false;
      const now = Date.now();
      if (startup || now - last >= o.intervalMs) {
        last = now;
        this.requestKeyFrame();
      }
    }, 250);
    this.#keyFrameTimer.unref();
  }

  /** Closes the transports (their consumers with them) and removes the SDP file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keyFrameTimer);
    for (const leg of this.legs) leg.transport.close();
    if (this.#dir) fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  #lost(reason: string): void {
    if (this.#closed || this.#told) return;
    this.#told = true;
    this.#options.onClosed?.(reason);
  }
}
