/**
 * One contribution that an owned ffmpeg turns into RTP for the SFU: ffmpeg reads the protocol's
 * input (FLV on stdin for RTMP, an rtsp:// pull, MPEG-TS on stdin for UDP), passes H264 through
 * with its timestamps, transcodes any audio it decodes to Opus, and writes both into an
 * {@link RtpFeed}'s PlainTransports (via the `tee` muxer, so a stream without audio is fine).
 *
 * It ends (event `ended`, once) when ffmpeg exits — with the real reason read from its stderr
 * (see ffmpegFailure.ts) — when no media is probed in time, when the video is not H264, when the
 * room closes, or when its owner closes it. ffmpeg gets SIGTERM, then SIGKILL; `closed` resolves
 * once it has exited.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { spawnOwned } from '../../core/spawnOwned';
import type { Logger } from '../../core/logger';
import type { Participant } from '../../sfu/Room';
import type { IngestRoom } from '../../streams/Ingest';
import { RtpFeed, type RtpFeedEndpoint } from './RtpFeed';
import { H264AccessUnitRelay } from './H264AccessUnitRelay';
import { classifyFfmpegFailure } from './ffmpegFailure';

/** Why an ingest ended, as a metric label. */
export type IngestEndLabel =
  | 'input-ended'
  | 'unsupported-media'
  | 'no-media'
  | 'room-closed'
  | 'closed'
  | 'no-parameter-sets'
  | 'invalid-data'
  | 'source-unreachable'
  | 'source-auth'
  | 'source-not-found'
  | 'source-timeout'
  | 'ffmpeg-failed'
  /** An owner's own reason (e.g. the RTMP connection's end label). */
  | (string & {});

/** A stream ffmpeg found in the input. */
export interface ProbedStream {
  type: string;
  codec: string;
}

/** Options of {@link FfmpegRtpIngest}. */
export interface FfmpegRtpIngestOptions {
  room: IngestRoom;
  /** The stream name (the feed's identity). */
  identity: string;
  kind: Participant['kind'];
  /** Report the feed's join and leave as `ingest.started`/`ingest.ended` (default true; RTSP pulls report their own). */
  joinWebhooks?: boolean;
  /** ffmpeg's input options, ending with `-i <url>` (`-i pipe:0` for stdin). */
  inputArgs: string[];
  /** Pipe the input through ffmpeg's stdin ({@link FfmpegRtpIngest.input}). */
  stdin: boolean;
  /**
   * A bitstream filter for the copied video. The SFU needs SPS/PPS in band with key frames (it
   * only treats SPS-led access units as key frames): FLV carries them out of band, so RTMP uses
   * `h264_mp4toannexb`, which puts them before every IDR.
   */
  videoBitstreamFilter?: string;
  /**
   * Put H264 pictures that ffmpeg's parser split (parameter sets repeated before every slice)
   * back together before the SFU: see H264AccessUnitJoiner (default false). Also keeps the input's
   * time base for the copied video (`-copytb 1`): the `tee` muxer would otherwise round timestamps
   * to whole frames, moving each piece of a split picture a frame later and the stream with it.
   */
  joinAccessUnits?: boolean;
  audioBitrateKbps: number;
  /** Time to the first probed media before the ingest ends with `no-media` (ms). */
  probeTimeoutMs: number;
  log: Logger;
}

/** Events of {@link FfmpegRtpIngest}. */
export interface FfmpegRtpIngestEvents {
  /** ffmpeg found H264 video (and maybe audio): the stream is live. */
  live: [streams: ProbedStream[]];
  ended: [reason: string, label: IngestEndLabel];
}

/** ffmpeg's output options: H264 copy + any audio → Opus, as RTP to the feed's transports. */
export function rtpOutputArgs(video: RtpFeedEndpoint, audio: RtpFeedEndpoint, audioBitrateKbps: number, videoBitstreamFilter?: string): string[] {
  const rtp = (e: RtpFeedEndpoint) => `rtp://127.0.0.1:${e.port}?rtcpport=${e.rtcpPort}&pkt_size=1200`;
  return [
    '-map',
    '0:v:0',
    '-map',
    '0:a:0?',
    '-c:v',
    'copy',
    ...(videoBitstreamFilter ? ['-bsf:v', videoBitstreamFilter] : []),
    '-c:a',
    'libopus',
    '-b:a',
    `${audioBitrateKbps}k`,
    '-ar',
    '48000',
    '-ac',
    '2',
    '-application',
    'lowdelay',
    '-f',
    'tee',
    `[select=v:f=rtp:ssrc=${video.ssrc}:payload_type=${video.payloadType}]${rtp(video)}|` +
      `[select=a:f=rtp:ssrc=${audio.ssrc}:payload_type=${audio.payloadType}:onfail=ignore]${rtp(audio)}`,
  ];
}

/** One ffmpeg-fed contribution. */
export class FfmpegRtpIngest extends EventEmitter<FfmpegRtpIngestEvents> {
  readonly startedAt = Date.now();
  /** Resolves once ffmpeg has exited (or never started). */
  readonly closed: Promise<void>;
  readonly #o: FfmpegRtpIngestOptions;
  readonly #feed: RtpFeed;
  #ffmpeg: ChildProcess | undefined;
  #relay: H264AccessUnitRelay | undefined;
  #streams: ProbedStream[] = [];
  #probed = false;
  #stderr = '';
  #probeTimer: NodeJS.Timeout | undefined;
  #ending = false;
  #resolveClosed!: () => void;

  constructor(options: FfmpegRtpIngestOptions) {
    super();
    this.#o = options;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#feed = new RtpFeed({
      room: options.room,
      identity: options.identity,
      kind: options.kind,
      ...(options.joinWebhooks !== undefined ? { joinWebhooks: options.joinWebhooks } : {}),
      listenIp: '127.0.0.1',
      onRoomClosed: (reason) => this.close(`room closed (${reason})`, 'room-closed'),
    });
  }

  /** True once ffmpeg found usable media. */
  get live(): boolean {
    return this.#probed && !this.#ending;
  }

  /** What ffmpeg found in the input (empty before the probe). */
  get streams(): readonly ProbedStream[] {
    return this.#streams;
  }

  /** ffmpeg's stdin (when `stdin`); undefined before start and after the end. */
  get input(): Writable | undefined {
    return this.#ending ? undefined : (this.#ffmpeg?.stdin ?? undefined);
  }

  /** Joins the room and starts ffmpeg. */
  async start(): Promise<void> {
    const endpoints = await this.#feed.open();
    if (this.#ending) return;
    if (this.#o.joinAccessUnits) {
      const relay = await H264AccessUnitRelay.open(endpoints.video.port);
      if (this.#ending) return relay.close();
      this.#relay = relay;
      endpoints.video = { ...endpoints.video, port: relay.port };
    }
    const args = [
      '-hide_banner',
      '-nostdin',
      '-nostats',
      '-loglevel',
      'info',
      ...(this.#o.joinAccessUnits ? ['-copytb', '1'] : []),
      ...this.#o.inputArgs,
      ...rtpOutputArgs(endpoints.video, endpoints.audio, this.#o.audioBitrateKbps, this.#o.videoBitstreamFilter),
    ];
    const ffmpeg = spawnOwned('ffmpeg', this.#o.stdin ? args.filter((a) => a !== '-nostdin') : args, {
      stdio: [this.#o.stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
    });
    this.#ffmpeg = ffmpeg;
    ffmpeg.stdin?.on('error', () => undefined); // EPIPE when ffmpeg exits first; the exit ends the ingest
    let partial = '';
    ffmpeg.stderr!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      this.#stderr = (this.#stderr + chunk.toString()).slice(-6000);
      const lines = text.split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) this.#onLine(line);
    });
    ffmpeg.on('error', (err) => this.close(`cannot run ffmpeg: ${err.message}`, 'ffmpeg-failed'));
    ffmpeg.on('exit', (code, signal) => {
      if (!this.#ending) {
        const exit = String(code ?? signal);
        const failure = classifyFfmpegFailure(this.#stderr, exit);
        if (this.#probed && failure.label === 'ffmpeg-failed') this.close(`input ended (ffmpeg exit ${exit})`, 'input-ended');
        else this.close(failure.reason, failure.label);
      }
      this.#resolveClosed();
    });
    this.#probeTimer = setTimeout(() => {
      if (this.#probed) return;
      const failure = classifyFfmpegFailure(this.#stderr, 'probe timeout');
      if (failure.label === 'ffmpeg-failed') this.close(`no media within ${this.#o.probeTimeoutMs} ms`, 'no-media');
      else this.close(failure.reason, failure.label);
    }, this.#o.probeTimeoutMs);
  }

  /** Ends the ingest (idempotent): the feed leaves the room at once, ffmpeg is stopped. */
  close(reason: string, label: IngestEndLabel = 'closed'): void {
    if (this.#ending) return;
    this.#ending = true;
    clearTimeout(this.#probeTimer);
    this.#feed.close();
    this.#relay?.close();
    const joined = this.#relay?.stats;
    if (joined && (joined.joined > 0 || joined.lateSlices > 0)) this.#o.log.info('H264 pictures rejoined', { ...joined });
    this.emit('ended', reason, label);
    const ffmpeg = this.#ffmpeg;
    if (!ffmpeg || ffmpeg.exitCode !== null || ffmpeg.signalCode !== null) {
      this.#resolveClosed();
      return;
    }
    ffmpeg.stdin?.destroy();
    const kill = setTimeout(() => ffmpeg.kill('SIGKILL'), 1500);
    ffmpeg.once('exit', () => clearTimeout(kill));
    ffmpeg.kill('SIGTERM');
  }

  /** The last lines ffmpeg wrote (for logs). */
  stderrTail(): string {
    return this.#stderr.trim().split(/\r?\n/).slice(-3).join(' | ').slice(-400);
  }

  #onLine(line: string): void {
    this.#o.log.debug('ffmpeg', { line });
    if (this.#probed) return;
    const stream = /^\s*Stream #0:\d+.*?: (Video|Audio|Data|Subtitle): ([A-Za-z0-9_]+)/.exec(line);
    if (stream) {
      this.#streams.push({ type: stream[1]!, codec: stream[2]!.toLowerCase() });
      return;
    }
    if (!/^Output #0|^Stream mapping:/.test(line)) return;
    this.#probed = true;
    clearTimeout(this.#probeTimer);
    // Output lines repeat "Stream #0:..": only the input streams were collected above.
    const video = this.#streams.find((s) => s.type === 'Video');
    const audio = this.#streams.find((s) => s.type === 'Audio');
    if (!video) return this.close('the stream has no video', 'unsupported-media');
    if (video.codec !== 'h264')
      return this.close(`unsupported video codec ${video.codec}: this node carries H264 only (WebRTC, LL-HLS and MoQ outputs)`, 'unsupported-media');
    this.emit('live', this.#streams);
    if (audio) this.#feed.publishAudio().catch((err) => this.#o.log.warn('cannot open the audio producer', { error: err }));
  }
}
