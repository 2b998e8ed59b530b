/**
 * One ffmpeg job per stream that turns the stream's mediasoup producers into every rendition of
 * the ABR ladder: an {@link FfmpegFeed} (src/streams/FfmpegFeed.ts: PlainTransports, ports, the
 * SDP file, key-frame requests) sends the tracks' RTP to ffmpeg; ffmpeg writes one fragmented MP4 per rendition to its own pipe (fd 3, 4, …) that is read back
 * into a {@link Packager}. The source rendition is copied when it is H264; the others are encoded
 * with keyframes where the source has them, so segments line up across renditions. Audio is one
 * AAC rendition of its own (an EXT-X-MEDIA audio group shared by every variant): with one track
 * per fMP4 stream, ffmpeg knows each sample's duration when it writes the fragment (a muxed
 * stream flushed by an audio packet leaves the pending video sample without a duration).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnOwned } from '../core/spawnOwned';
import type { Readable } from 'node:stream';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { FfmpegFeed } from '../streams/FfmpegFeed';
import type { Stream } from '../streams/Stream';
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
  /** The stream the tracks belong to (consumers are counted against its routers' budgets). */
  stream: Stream;
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
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-protocol_whitelist',
    'file,udp,rtp',
    '-fflags',
    '+nobuffer+genpts',
    '-flags',
    'low_delay',
    '-analyzeduration',
    '1000000',
    '-probesize',
    '1000000',
    '-reorder_queue_size',
    '64',
    '-f',
    'sdp',
    '-i',
    o.sdpPath,
  ];
  // frag_discont + no negative-ts shifting keep each output's decode times on ffmpeg's common
  // timeline (so separate audio and video streams stay in sync); the offset keeps AAC priming
  // (a negative first dts) positive.
  const fmp4 = (fd: number) => [
    '-f',
    'mp4',
    '-movflags',
    'empty_moov+default_base_moof+frag_every_frame+frag_discont',
    '-avoid_negative_ts',
    'disabled',
    '-output_ts_offset',
    '10',
    '-flush_packets',
    '1',
    `pipe:${fd}`,
  ];
  o.renditions.forEach((r, i) => {
    args.push('-map', '0:v:0', '-an');
    if (r.copySource && o.sourceIsH264) {
      args.push('-c:v', 'copy');
    } else {
      if (r.height) args.push('-vf', `scale=-2:'min(${r.height},ih)'`);
      args.push(
        '-c:v',
        'libx264',
        '-preset',
        o.x264Preset,
        '-tune',
        'zerolatency',
        '-profile:v',
        'main',
        '-pix_fmt',
        'yuv420p',
        '-b:v',
        `${r.videoKbps}k`,
        '-maxrate',
        `${r.videoKbps}k`,
        '-bufsize',
        `${Math.max(50, Math.round(r.videoKbps / 2))}k`,
        // Keyframes exactly where the source has them: every rendition cuts segments at the same times.
        '-force_key_frames',
        'source',
        '-g',
        '100000',
        '-sc_threshold',
        '0',
        '-threads',
        '1',
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
  #feed: FfmpegFeed | undefined;
  #ffmpeg: ChildProcess | undefined;
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
    const { stream, video, audio } = this.#options;
    try {
      const feed = await FfmpegFeed.open({ stream, tracks: audio ? [video, audio] : [video], output: 'hls', onClosed: (reason) => this.#end(reason) });
      this.#feed = feed;
      if (this.#closed) throw new Error('closed while starting');
      const args = ladderFfmpegArgs({
        sdpPath: feed.sdpPath,
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
      await feed.resume();
      // Quickly until every rendition has produced its first part (so the first segment starts
      // promptly), then once per segment target so segments can be cut.
      feed.requestKeyFrames({
        intervalMs: this.#options.keyframeRequestIntervalMs,
        fast: () => !this.renditions.every((r) => r.kind === 'audio' || r.packager.lastPart),
      });
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Stops ffmpeg and closes the transports; packagers end (EXT-X-ENDLIST). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const f = this.#ffmpeg;
    this.#ffmpeg = undefined;
    if (f && f.exitCode === null && f.signalCode === null) f.kill('SIGKILL');
    this.#feed?.close();
    for (const r of this.renditions) r.packager.end();
    this.#end('closed');
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#closed) this.close();
    this.#options.onEnded?.(reason);
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
}
