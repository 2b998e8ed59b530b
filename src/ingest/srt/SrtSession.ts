/**
 * One accepted SRT caller. The node has already checked the caller's stream id and token; this
 * session starts an ffmpeg SRT listener on a private loopback port, opens the handshake with it
 * on the caller's behalf (ffmpeg's SYN cookie replaces ours), then relays every packet both
 * ways. ffmpeg passes H264 through and transcodes AAC to Opus into the feed's PlainTransports.
 *
 * The session ends when ffmpeg exits (caller hung up, garbage input), when the caller goes
 * silent, when ffmpeg refuses the handshake (wrong passphrase), or when the stream carries
 * other codecs. ffmpeg gets SIGTERM, then SIGKILL; `closed` resolves once it has exited.
 */
import dgram from 'node:dgram';
import type { ChildProcess } from 'node:child_process';
import { spawnOwned } from '../../core/spawnOwned';
import { EventEmitter } from 'node:events';
import type { Logger } from '../../core/logger';
import type { Config } from '../../config/schema';
import type { IngestRoom } from '../../streams/Ingest';
import { SrtFeed, type FeedEndpoint } from './SrtFeed';
import {
  HS_CONCLUSION,
  HS_INDUCTION,
  HS_REJECTION_BASE,
  inductionFrom,
  parseHandshake,
  rejectionName,
  shutdownPacket,
  withCookie,
  withTimestampDelay,
} from './srtPackets';
import type { SrtTarget } from './streamId';
import { classifyFfmpegFailure, type FfmpegFailure } from '../ffmpeg/ffmpegFailure';

/** Why a session ended, as a metric label. */
export type SrtEndLabel =
  | 'caller-left'
  | 'idle'
  | 'rejected-media'
  | 'rejected-handshake'
  | 'no-media'
  | 'ffmpeg-failed'
  | 'replaced'
  | 'shutdown'
  | 'room-closed'
  | Extract<FfmpegFailure['label'], 'no-parameter-sets' | 'invalid-data'>;

/** End labels that mean the caller's media cannot be used (its reconnections are refused for a while). */
export const MEDIA_FAILURES: ReadonlySet<SrtEndLabel> = new Set(['rejected-media', 'no-media', 'no-parameter-sets', 'invalid-data']);

/** Options of {@link SrtSession}. */
export interface SrtSessionOptions {
  room: IngestRoom;
  target: SrtTarget;
  /** The caller's first conclusion request (already authorized). */
  conclusion: Buffer;
  /** When the conclusion arrived (`performance.now()`; default: when the session is created). */
  conclusionAt?: number;
  callerSocketId: number;
  /** Sends a packet to the caller from the public listener socket. */
  sendToCaller: (packet: Buffer) => void;
  config: Config['srt'];
  log: Logger;
}

/** Events of {@link SrtSession}. */
export interface SrtSessionEvents {
  ended: [reason: string, label: SrtEndLabel];
}

/**
 * ffmpeg arguments: SRT listener in, H264 copy + AAC→Opus out as RTP (audio optional).
 *
 * Latency (docs/srt.md, "Latency"): past libsrt's receive latency, ffmpeg adds nothing a frame
 * long. The H264 parser is off (`noparse`) unless `srt.frameParser`: with MPEG-TS it holds each
 * access unit until the next one begins (one frame interval), and the copy needs none of it
 * (every PES carries one access unit with its PTS; `-copyinkf` because key-frame flags came from
 * the parser). Video is its own RTP output: sharing a muxer with the audio would make each video
 * frame wait for audio with a later timestamp (encoders bundle AAC into PES packets of 100–200
 * ms). The audio output carries the video too, to a discarding `null` slave, only so that a
 * stream without audio still has an output stream (a `tee` whose every slave failed is an error).
 */
export function srtFfmpegArgs(port: number, config: Config['srt'], video: FeedEndpoint, audio: FeedEndpoint): string[] {
  const us = (ms: number) => String(ms * 1000);
  const input = `srt://127.0.0.1:${port}?mode=listener&transtype=live&latency=${us(config.latencyMs)}&listen_timeout=${us(5000)}&timeout=${us(config.idleTimeoutMs)}`;
  const rtp = (e: FeedEndpoint) => `rtp://127.0.0.1:${e.port}?rtcpport=${e.rtcpPort}&pkt_size=1200`;
  const copyUnparsed = config.frameParser ? [] : ['-copyinkf'];
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'info',
    ...(config.passphrase ? ['-passphrase', config.passphrase] : []),
    '-fflags',
    config.frameParser ? 'nobuffer' : 'nobuffer+noparse',
    '-probesize',
    '1000000',
    '-analyzeduration',
    '1000000',
    '-i',
    input,
    // Output #0: the video alone, written as soon as each PES is demuxed.
    '-map',
    '0:v:0',
    '-c:v',
    'copy',
    ...copyUnparsed,
    '-f',
    'rtp',
    '-ssrc',
    String(video.ssrc),
    '-payload_type',
    String(video.payloadType),
    rtp(video),
    // Output #1: any audio → Opus; the video copy here only keeps the output non-empty.
    '-map',
    '0:a:0?',
    '-map',
    '0:v:0',
    '-c:v',
    'copy',
    ...copyUnparsed,
    '-c:a',
    'libopus',
    '-b:a',
    `${config.audioBitrateKbps}k`,
    '-ar',
    '48000',
    '-ac',
    '2',
    '-application',
    'lowdelay',
    '-f',
    'tee',
    `[select=a:f=rtp:ssrc=${audio.ssrc}:payload_type=${audio.payloadType}:onfail=ignore]${rtp(audio)}|[select=v:f=null]-`,
  ];
}

/** One SRT contribution. */
export class SrtSession extends EventEmitter<SrtSessionEvents> {
  readonly target: SrtTarget;
  readonly startedAt = Date.now();
  /** Resolves once ffmpeg has exited and the relay socket is closed. */
  readonly closed: Promise<void>;
  /** Last time the caller sent anything (ms since epoch). */
  lastCallerPacketAt = Date.now();
  readonly #o: SrtSessionOptions;
  readonly #feed: SrtFeed;
  #relay: dgram.Socket | undefined;
  #ffmpeg: ChildProcess | undefined;
  #ffmpegCookie: number | undefined;
  #pendingConclusion: Buffer;
  /** When {@link #pendingConclusion} arrived (`performance.now()`): ffmpeg gets it with the time it was held. */
  #pendingConclusionAt: number;
  #conclusionHeldMs = 0;
  #established = false;
  #probed = false;
  #streams: { type: string; codec: string }[] = [];
  #stderr = '';
  #timers: NodeJS.Timeout[] = [];
  #closing = false;
  #resolveClosed!: () => void;

  constructor(options: SrtSessionOptions) {
    super();
    this.#o = options;
    this.target = options.target;
    this.#pendingConclusion = options.conclusion;
    this.#pendingConclusionAt = options.conclusionAt ?? performance.now();
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#feed = new SrtFeed({
      room: options.room,
      identity: options.target.stream,
      listenIp: '127.0.0.1',
      onRoomClosed: (reason) => this.close(`room closed (${reason})`, 'room-closed'),
    });
  }

  /** True once ffmpeg answered the caller's conclusion. */
  get established(): boolean {
    return this.#established;
  }

  /** Opens the feed, starts ffmpeg and the handshake with it. */
  async start(): Promise<void> {
    const endpoints = await this.#feed.open();
    const port = await freeUdpPort();
    if (this.#closing) return;
    const relay = dgram.createSocket('udp4');
    this.#relay = relay;
    relay.on('error', () => undefined); // ICMP port unreachable before ffmpeg listens
    relay.on('message', (packet) => this.#fromFfmpeg(packet));
    await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
    relay.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => relay.once('connect', resolve));
    this.#spawn(port, endpoints);
    // Knock until ffmpeg's listener answers the induction (it takes ~100-300 ms to start).
    const induction = inductionFrom(this.#pendingConclusion);
    const knock = setInterval(() => {
      if (this.#ffmpegCookie !== undefined || this.#closing) return clearInterval(knock);
      this.#sendToFfmpeg(induction);
    }, 50);
    this.#timers.push(knock);
    this.#timers.push(
      setTimeout(() => {
        if (!this.#established) this.close('ffmpeg did not complete the SRT handshake', 'ffmpeg-failed');
      }, 5000),
    );
    this.#timers.push(
      setTimeout(() => {
        if (!this.#probed) this.close(`no media within ${this.#o.config.probeTimeoutMs} ms`, 'no-media');
      }, this.#o.config.probeTimeoutMs),
    );
    const idle = setInterval(() => {
      if (Date.now() - this.lastCallerPacketAt > this.#o.config.idleTimeoutMs) this.close('caller went silent', 'idle');
    }, 250);
    this.#timers.push(idle);
  }

  /** A packet from the caller's address. */
  fromCaller(packet: Buffer): void {
    this.lastCallerPacketAt = Date.now();
    if (this.#closing) return;
    const hs = parseHandshake(packet);
    if (hs) {
      if (hs.type !== HS_CONCLUSION) return;
      if (this.#ffmpegCookie === undefined) {
        this.#pendingConclusion = packet;
        this.#pendingConclusionAt = performance.now();
      } else this.#sendToFfmpeg(withCookie(packet, this.#ffmpegCookie));
      return;
    }
    this.#sendToFfmpeg(packet);
  }

  /** Ends the session (idempotent); viewers see the feed's producers close at once. */
  close(reason: string, label: SrtEndLabel): void {
    if (this.#closing) return;
    this.#closing = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#feed.close();
    const level = label === 'caller-left' || label === 'shutdown' || label === 'replaced' ? 'info' : 'warn';
    this.#o.log[level]('SRT session ended', {
      room: this.target.room,
      stream: this.target.stream,
      reason,
      ...(level === 'warn' ? { ffmpeg: this.#stderrTail() } : {}),
    });
    this.emit('ended', reason, label);
    const ffmpeg = this.#ffmpeg;
    const finish = () => {
      if (this.#established) this.#o.sendToCaller(shutdownPacket(this.#o.callerSocketId));
      try {
        this.#relay?.close();
      } catch {
        // already closed
      }
      this.#resolveClosed();
    };
    if (!ffmpeg || ffmpeg.exitCode !== null || ffmpeg.signalCode !== null) return finish();
    // SIGTERM lets ffmpeg close its SRT socket (the caller gets SHUTDOWN through the relay).
    const kill = setTimeout(() => ffmpeg.kill('SIGKILL'), 1500);
    ffmpeg.once('exit', () => {
      clearTimeout(kill);
      finish();
    });
    ffmpeg.kill('SIGTERM');
  }

  #spawn(port: number, endpoints: { video: FeedEndpoint; audio: FeedEndpoint }): void {
    const ffmpeg = spawnOwned('ffmpeg', srtFfmpegArgs(port, this.#o.config, endpoints.video, endpoints.audio), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#ffmpeg = ffmpeg;
    let partial = '';
    ffmpeg.stderr!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString();
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
      const lines = text.split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        this.#o.log.debug('ffmpeg', { line });
        this.#onFfmpegLine(line);
      }
    });
    ffmpeg.on('error', (err) => this.close(`cannot run ffmpeg: ${err.message}`, 'ffmpeg-failed'));
    ffmpeg.on('exit', (code, signal) => {
      if (this.#closing) return;
      // ffmpeg's stderr names what it could not use (e.g. no SPS/PPS: "dimensions not set"), even after the probe.
      const failure = classifyFfmpegFailure(this.#stderr, String(code ?? signal));
      if (failure.label === 'no-parameter-sets' || failure.label === 'invalid-data') this.close(failure.reason, failure.label);
      else if (this.#established && this.#probed) this.close(`caller disconnected (ffmpeg exit ${code ?? signal})`, 'caller-left');
      else this.close(`ffmpeg exited (${code ?? signal}) before media flowed: ${failure.reason}`, 'ffmpeg-failed');
    });
  }

  #onFfmpegLine(line: string): void {
    if (this.#probed) return;
    const stream = /^\s*Stream #0:\d+.*?: (Video|Audio|Data|Subtitle): ([A-Za-z0-9_]+)/.exec(line);
    if (stream) {
      this.#streams.push({ type: stream[1]!, codec: stream[2]!.toLowerCase() });
      return;
    }
    if (!/^Output #0|^Stream mapping:/.test(line)) return;
    this.#probed = true;
    // Output lines repeat "Stream #0:..": only the input streams were collected above.
    const video = this.#streams.find((s) => s.type === 'Video');
    const audio = this.#streams.find((s) => s.type === 'Audio');
    if (!video) return this.close('the stream has no video', 'rejected-media');
    if (video.codec !== 'h264') return this.close(`unsupported video codec ${video.codec} (H264 only)`, 'rejected-media');
    if (audio && audio.codec !== 'aac') return this.close(`unsupported audio codec ${audio.codec} (AAC only)`, 'rejected-media');
    this.#o.log.info('SRT stream live', {
      room: this.target.room,
      stream: this.target.stream,
      video: video.codec,
      audio: audio?.codec ?? 'none',
      conclusionHeldMs: this.#conclusionHeldMs,
    });
    if (audio) this.#feed.publishAudio().catch((err) => this.#o.log.warn('cannot open the audio producer', { error: err }));
  }

  #fromFfmpeg(packet: Buffer): void {
    if (this.#closing && !this.#established) return;
    const hs = parseHandshake(packet);
    if (hs?.type === HS_INDUCTION) {
      if (this.#ffmpegCookie === undefined) {
        this.#ffmpegCookie = hs.cookie;
        // Held while ffmpeg started (100–300 ms, more under load): without the held time in its
        // timestamp, libsrt would deliver every packet that much later (srtPackets.ts).
        this.#conclusionHeldMs = Math.round(performance.now() - this.#pendingConclusionAt);
        const held = withTimestampDelay(this.#pendingConclusion, this.#conclusionHeldMs * 1000);
        this.#sendToFfmpeg(withCookie(held, hs.cookie));
      }
      return;
    }
    if (hs && hs.type >= HS_REJECTION_BASE) {
      this.#o.sendToCaller(packet);
      this.close(`SRT handshake refused: ${rejectionName(hs.type)}`, 'rejected-handshake');
      return;
    }
    if (hs?.type === HS_CONCLUSION) this.#established = true;
    this.#o.sendToCaller(packet);
  }

  #sendToFfmpeg(packet: Buffer): void {
    try {
      this.#relay?.send(packet);
    } catch {
      // socket closed while closing
    }
  }

  #stderrTail(): string {
    return this.#stderr.trim().split(/\r?\n/).slice(-3).join(' | ').slice(-400);
  }
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
