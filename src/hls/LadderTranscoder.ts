/**
 * One ffmpeg job per stream that turns the stream's mediasoup producers into every rendition of
 * the ABR ladder: mediasoup PlainTransports (comedia off, RTCP on its own port so ffmpeg gets
 * sender reports for A/V sync) send the consumers' RTP to ffmpeg, described by an SDP file;
 * ffmpeg writes one fragmented MP4 per rendition to its own pipe (fd 3, 4, …) that is read back
 * into a {@link Packager}. The source rendition is copied when it is H264; the others are encoded
 * with keyframes where the source has them, so segments line up across renditions. Audio is one
 * AAC rendition of its own (an EXT-X-MEDIA audio group shared by every variant): with one track
 * per fMP4 stream, ffmpeg knows each sample's duration when it writes the fragment (a muxed
 * stream flushed by an audio packet leaves the pending video sample without a duration).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnOwned } from '../core/spawnOwned';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { Mp4BoxReader } from './Mp4BoxReader';
import { ClockAnchor, Packager, type PackagerOptions } from './Packager';

/** One rendition of the ladder. */
export interface RenditionSpec {
  /** Path segment of the rendition (`source`, `mid`, `low`). */
  name: string;
  /** Copy the source video when it is H264 (no encode); encoded otherwise. */
  copySource: boolean;
  /** Output height in pixels (width keeps the aspect ratio); omitted = source height. */
  height?: number;
  /** Video bitrate of an encoded rendition (kbps); also the BANDWIDTH estimate before measurement. */
  videoKbps: number;
}

/** Options of {@link LadderTranscoder}. */
export interface LadderTranscoderOptions {
  router: types.Router;
  video: types.Producer;
  audio?: types.Producer;
  renditions: readonly RenditionSpec[];
  /** AAC bitrate (kbps) of every rendition's audio. */
  audioKbps: number;
  /** x264 preset of encoded renditions. */
  x264Preset: string;
  /** Interval (ms) of keyframe requests to the publisher so segments can be cut on time. */
  keyframeRequestIntervalMs: number;
  packager: Omit<PackagerOptions, 'anchor'>;
  log: Logger;
  /** Called once when ffmpeg exits or a transport/producer closes under the job. */
  onEnded?: (reason: string) => void;
  /** ffmpeg binary (default `ffmpeg`). */
  ffmpegPath?: string;
}

/** Name of the audio rendition (path segment). */
export const AUDIO_RENDITION = 'audio';

/** A rendition being produced. */
export interface LiveRendition {
  kind: 'video' | 'audio';
  spec: RenditionSpec;
  packager: Packager;
  /** True when the video is copied from the source. */
  copied: boolean;
}

interface Leg {
  transport: types.PlainTransport;
  consumer: types.Consumer;
  port: number;
}

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

/** The SDP ffmpeg reads to receive a consumer's RTP. */
export function sdpFor(legs: Array<{ consumer: types.Consumer; port: number }>): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=subsec-hls', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const { consumer, port } of legs) {
    const codec = consumer.rtpParameters.codecs[0]!;
    const [, name] = codec.mimeType.split('/');
    lines.push(`m=${consumer.kind} ${port} RTP/AVP ${codec.payloadType}`);
    lines.push(`a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`);
    const fmtp = Object.entries(codec.parameters ?? {}).map(([k, v]) => `${k}=${v}`).join(';');
    if (fmtp) lines.push(`a=fmtp:${codec.payloadType} ${fmtp}`);
    lines.push('a=recvonly');
  }
  return lines.join('\r\n') + '\r\n';
}

/** ffmpeg arguments for the ladder (input SDP file, one fMP4 output per rendition on fd 3+i). */
export function ladderFfmpegArgs(o: {
  sdpPath: string;
  renditions: readonly RenditionSpec[];
  sourceIsH264: boolean;
  hasAudio: boolean;
  audioKbps: number;
  x264Preset: string;
}): string[] {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-protocol_whitelist', 'file,udp,rtp',
    '-fflags', '+nobuffer+genpts', '-flags', 'low_delay',
    '-analyzeduration', '1000000', '-probesize', '1000000',
    '-reorder_queue_size', '64',
    '-f', 'sdp', '-i', o.sdpPath,
  ];
  // frag_discont + no negative-ts shifting keep each output's decode times on ffmpeg's common
  // timeline (so separate audio and video streams stay in sync); the offset keeps AAC priming
  // (a negative first dts) positive.
  const fmp4 = (fd: number) => [
    '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_every_frame+frag_discont',
    '-avoid_negative_ts', 'disabled', '-output_ts_offset', '10', '-flush_packets', '1', `pipe:${fd}`,
  ];
  o.renditions.forEach((r, i) => {
    args.push('-map', '0:v:0', '-an');
    if (r.copySource && o.sourceIsH264) {
      args.push('-c:v', 'copy');
    } else {
      if (r.height) args.push('-vf', `scale=-2:'min(${r.height},ih)'`);
      args.push(
        '-c:v', 'libx264', '-preset', o.x264Preset, '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
        '-b:v', `${r.videoKbps}k`, '-maxrate', `${r.videoKbps}k`, '-bufsize', `${Math.max(50, Math.round(r.videoKbps / 2))}k`,
        // Keyframes exactly where the source has them: every rendition cuts segments at the same times.
        '-force_key_frames', 'source', '-g', '100000', '-sc_threshold', '0', '-threads', '1',
      );
    }
    args.push('-fps_mode', 'passthrough', '-video_track_timescale', '90000', ...fmp4(3 + i));
  });
  if (o.hasAudio) {
    args.push('-map', '0:a:0', '-vn', '-c:a', 'aac', '-b:a', `${o.audioKbps}k`, '-ac', '2', '-ar', '48000', ...fmp4(3 + o.renditions.length));
  }
  return args;
}

/** The ffmpeg job of one stream. */
export class LadderTranscoder {
  readonly renditions: LiveRendition[];
  readonly anchor = new ClockAnchor();
  readonly #options: LadderTranscoderOptions;
  readonly #log: Logger;
  readonly #legs: Leg[] = [];
  #ffmpeg: ChildProcess | undefined;
  #dir: string | undefined;
  #keyframeTimer: NodeJS.Timeout | undefined;
  #stderr = '';
  #closed = false;
  #ended = false;

  constructor(options: LadderTranscoderOptions) {
    this.#options = options;
    this.#log = options.log;
    const sourceIsH264 = options.video.rtpParameters.codecs[0]?.mimeType.toLowerCase() === 'video/h264';
    this.renditions = options.renditions.map((spec) => ({
      kind: 'video' as const,
      spec,
      copied: spec.copySource && sourceIsH264,
      packager: new Packager({ ...options.packager, anchor: this.anchor }),
    }));
    if (options.audio) {
      this.renditions.push({
        kind: 'audio',
        spec: { name: AUDIO_RENDITION, copySource: false, videoKbps: 0 },
        copied: false,
        packager: new Packager({ ...options.packager, anchor: this.anchor }),
      });
    }
  }

  /** True once closed or ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Opens the transports and consumers and starts ffmpeg. */
  async start(): Promise<void> {
    const { router, video, audio } = this.#options;
    try {
      for (const producer of audio ? [video, audio] : [video]) {
        const port = await freeRtpPortPair();
        const transport = await router.createPlainTransport({
          listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
          rtcpMux: false,
          comedia: false,
          // The receiver is ffmpeg on loopback: no congestion feedback to estimate from.
          enableBwe: false,
        });
        await transport.connect({ ip: '127.0.0.1', port, rtcpPort: port + 1 });
        const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
        this.#legs.push({ transport, consumer, port });
        consumer.observer.once('close', () => this.#end(`${producer.kind} consumer closed`));
        transport.observer.once('close', () => this.#end('transport closed'));
        if (this.#closed) throw new Error('closed while starting');
      }
      this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-hls-'));
      const sdpPath = path.join(this.#dir, 'input.sdp');
      fs.writeFileSync(sdpPath, sdpFor(this.#legs));
      const args = ladderFfmpegArgs({
        sdpPath,
        renditions: this.#options.renditions,
        sourceIsH264: this.renditions.some((r) => r.copied),
        hasAudio: !!audio,
        audioKbps: this.#options.audioKbps,
        x264Preset: this.#options.x264Preset,
      });
      const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'ignore', 'pipe', ...this.renditions.map(() => 'pipe' as const)];
      const ffmpeg = spawnOwned(this.#options.ffmpegPath ?? 'ffmpeg', args, { stdio });
      this.#ffmpeg = ffmpeg;
      ffmpeg.stderr!.on('data', (d: Buffer) => {
        this.#stderr = (this.#stderr + d.toString()).slice(-4000);
      });
      ffmpeg.on('error', (err) => this.#end(`cannot run ffmpeg: ${err.message}`));
      ffmpeg.on('exit', (code, signal) => {
        if (!this.#closed) this.#log.warn('hls ffmpeg exited', { code, signal, stderr: this.#stderr.trim().slice(-500) });
        this.#end('ffmpeg exited');
      });
      this.renditions.forEach((r, i) => this.#readRendition(ffmpeg.stdio[3 + i] as Readable, r));
      const [videoLeg, ...others] = this.#legs;
      await videoLeg!.consumer.resume();
      this.#startKeyframeRequests();
      // Video flows only from a keyframe on; audio is let through once it does, so both streams
      // start together and ffmpeg's RTCP-based A/V alignment does not jump the video timeline.
      void this.#resumeWhenVideoFlows(videoLeg!.consumer, others.map((l) => l.consumer));
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Stops ffmpeg and closes the transports; packagers end (EXT-X-ENDLIST). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keyframeTimer);
    const f = this.#ffmpeg;
    this.#ffmpeg = undefined;
    if (f && f.exitCode === null && f.signalCode === null) f.kill('SIGKILL');
    for (const leg of this.#legs) leg.transport.close();
    if (this.#dir) fs.rmSync(this.#dir, { recursive: true, force: true });
    for (const r of this.renditions) r.packager.end();
    this.#end('closed');
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#closed) this.close();
    this.#options.onEnded?.(reason);
  }

  async #resumeWhenVideoFlows(video: types.Consumer, others: types.Consumer[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!this.#closed && Date.now() < deadline) {
      const stats = (await video.getStats().catch(() => [])) as Array<{ type: string; packetCount?: number }>;
      if (stats.some((s) => s.type === 'outbound-rtp' && (s.packetCount ?? 0) > 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of others) if (!this.#closed && !c.closed) await c.resume().catch(() => undefined);
  }

  #readRendition(pipe: Readable, r: LiveRendition): void {
    const reader = new Mp4BoxReader();
    pipe.on('data', (chunk: Buffer) => {
      try {
        for (const box of reader.push(chunk)) r.packager.pushBox(box);
      } catch (err) {
        this.#log.error('hls rendition stream is not valid fMP4; stopping', { rendition: r.spec.name, error: err });
        this.close();
      }
    });
    pipe.on('error', () => undefined);
  }

  /**
   * Asks the publisher for keyframes: quickly until every rendition has produced its first part
   * (so the first segment starts promptly), then once per segment target so segments can be cut.
   */
  #startKeyframeRequests(): void {
    const videoLeg = this.#legs.find((l) => l.consumer.kind === 'video');
    if (!videoLeg) return;
    const request = () => {
      if (!videoLeg.consumer.closed) videoLeg.consumer.requestKeyFrame().catch(() => undefined);
    };
    request();
    let startup = true;
    let last = Date.now();
    this.#keyframeTimer = setInterval(() => {
      if (startup && this.renditions.every((r) => r.kind === 'audio' || r.packager.lastPart)) startup = false;
      const now = Date.now();
      if (startup || now - last >= this.#options.keyframeRequestIntervalMs) {
        last = now;
        request();
      }
    }, 250);
    this.#keyframeTimer.unref();
  }
}
