/**
 * One push of a stream to one RTMP(S) destination: an ffmpeg remux (`-c copy`, no encode) of the
 * LL-HLS ladder's CMAF (see LadderFeed) into FLV over RTMP. States: `connecting` → `live` (bytes
 * are leaving) → on a drop or refusal `reconnecting` after a backoff (doubling, jittered, capped)
 * → `live` again …; `stopped` when asked, when the stream ends or when it gave up (`failed` first
 * when `maxConsecutiveFailures` is reached). The destination URL is a secret: only its redacted
 * form is logged, shown or sent, and ffmpeg's messages are scrubbed of it.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { spawnOwned } from '../core/spawnOwned';
import type { Logger } from '../core/logger';
import type { HlsStream } from '../hls/HlsStream';
import type { RestreamConfig } from './restreamConfig';
import { chooseRenditions, LadderFeed } from './LadderFeed';
import { redactUrl, scrubUrl } from './redactUrl';

/** Lifecycle state of a push. */
export type RestreamState = 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';

/** What the API shows of a push. */
export interface RestreamView {
  id: string;
  room: string;
  stream: string;
  /** The destination, stream key masked. */
  destination: string;
  state: RestreamState;
  /** `copy`: the publisher's H264 as sent; `ladder`: the ladder's top encoded rendition. */
  video?: 'copy' | 'ladder';
  /** The HLS rendition pushed. */
  rendition?: string;
  createdAt: string;
  /** When the current connection started sending. */
  liveSince?: string;
  /** Connections that were live and dropped, or failed, since creation. */
  failures: number;
  reconnects: number;
  lastError?: string;
  nextAttemptAt?: string;
  bytesSent: number;
  stoppedAt?: string;
  stopReason?: string;
}

/** Events a push reports (the service turns them into webhooks and metrics). */
export interface RestreamPushEvents {
  started(p: RestreamPush, attempt: number): void;
  failed(p: RestreamPush, error: string, attempt: number, retryInMs: number | undefined): void;
  stopped(p: RestreamPush, reason: string): void;
}

/** Options of {@link RestreamPush}. */
export interface RestreamPushOptions {
  id: string;
  stream: HlsStream;
  url: string;
  config: RestreamConfig;
  log: Logger;
  events: RestreamPushEvents;
  ffmpegPath?: string;
}

/** ffmpeg arguments of one connection: fMP4 video (fd 3) and audio (fd 4) in, FLV to `url`. */
export function pushFfmpegArgs(url: string, hasAudio: boolean): string[] {
  const input = (fd: number) => ['-thread_queue_size', '1024', '-analyzeduration', '0', '-probesize', '32768', '-f', 'mp4', '-i', `pipe:${fd}`];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-nostats',
    '-fflags',
    '+nobuffer',
    ...input(3),
    ...(hasAudio ? input(4) : []),
    '-map',
    '0:v:0',
    ...(hasAudio ? ['-map', '1:a:0'] : []),
    // Decode times as the packager wrote them (one line for audio and video): A/V stay in sync.
    '-c',
    'copy',
    '-copyts',
    '-progress',
    'pipe:1',
    '-stats_period',
    '0.5',
    '-f',
    'flv',
    '-flvflags',
    'no_duration_filesize',
    url,
  ];
}

/** One destination of one stream. */
export class RestreamPush {
  readonly id: string;
  readonly stream: HlsStream;
  readonly destination: string;
  readonly createdAt = Date.now();
  readonly #url: string;
  readonly #config: RestreamConfig;
  readonly #log: Logger;
  readonly #events: RestreamPushEvents;
  readonly #ffmpegPath: string;
  #state: RestreamState = 'connecting';
  #ffmpeg: ChildProcess | undefined;
  #feed: LadderFeed | undefined;
  #attempt = 0;
  #consecutiveFailures = 0;
  #failures = 0;
  #reconnects = 0;
  #bytesSent = 0;
  #liveSince: number | undefined;
  #lastError: string | undefined;
  #nextAttemptAt: number | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #watchTimer: NodeJS.Timeout | undefined;
  #stoppedAt: number | undefined;
  #stopReason: string | undefined;
  #mode: 'copy' | 'ladder' | undefined;
  #rendition: string | undefined;

  constructor(o: RestreamPushOptions) {
    this.id = o.id;
    this.stream = o.stream;
    this.#url = o.url;
    this.destination = redactUrl(o.url);
    this.#config = o.config;
    this.#log = o.log;
    this.#events = o.events;
    this.#ffmpegPath = o.ffmpegPath ?? 'ffmpeg';
  }

  /** The current state. */
  get state(): RestreamState {
    return this.#state;
  }

  /** True once stopped for good. */
  get stopped(): boolean {
    return this.#state === 'stopped';
  }

  /** Bytes of FLV sent to the destination (per ffmpeg's progress reports), over every connection. */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Starts the first connection. */
  start(): void {
    this.#connect();
  }

  /** Stops for good (idempotent): closes the feed so ffmpeg ends the FLV stream, then kills it if it lingers. */
  stop(reason: string): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#stopReason = reason;
    this.#stoppedAt = Date.now();
    clearTimeout(this.#retryTimer);
    this.#nextAttemptAt = undefined;
    this.#closeConnection(true);
    this.#log.info('restream stopped', { id: this.id, room: this.stream.room.name, stream: this.stream.identity, destination: this.destination, reason });
    this.#events.stopped(this, reason);
  }

  /** What the API shows. */
  view(): RestreamView {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    return {
      id: this.id,
      room: this.stream.room.name,
      stream: this.stream.identity,
      destination: this.destination,
      state: this.#state,
      ...(this.#mode ? { video: this.#mode, rendition: this.#rendition } : {}),
      createdAt: new Date(this.createdAt).toISOString(),
      ...(this.#state === 'live' ? { liveSince: iso(this.#liveSince) } : {}),
      failures: this.#failures,
      reconnects: this.#reconnects,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#nextAttemptAt ? { nextAttemptAt: iso(this.#nextAttemptAt) } : {}),
      bytesSent: this.#bytesSent,
      ...(this.#stoppedAt ? { stoppedAt: iso(this.#stoppedAt), stopReason: this.#stopReason } : {}),
    };
  }

  #connect(): void {
    if (this.#state === 'stopped') return;
    this.#attempt++;
    this.#nextAttemptAt = undefined;
    const choice = chooseRenditions(this.stream);
    if (!choice || !choice.video.packager.init) return this.#failed('the stream has no video to push yet');
    this.#mode = choice.mode;
    this.#rendition = choice.video.spec.name;
    const hasAudio = !!choice.audio?.packager.init;
    const ffmpeg = spawnOwned(this.#ffmpegPath, pushFfmpegArgs(this.#url, hasAudio), { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    this.#ffmpeg = ffmpeg;
    const attempt = this.#attempt;
    let stderr = '';
    let sentThisConnection = 0;
    ffmpeg.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    // -progress: key=value lines; total_size is the bytes muxed to the destination so far.
    let progress = '';
    ffmpeg.stdout!.on('data', (d: Buffer) => {
      progress += d.toString();
      const lines = progress.split('\n');
      progress = lines.pop()!;
      for (const line of lines) {
        const m = /^total_size=(\d+)/.exec(line);
        if (!m) continue;
        const total = Number(m[1]);
        if (total > sentThisConnection) {
          this.#bytesSent += total - sentThisConnection;
          sentThisConnection = total;
        }
        if (total > 0 && this.#state !== 'live' && this.#ffmpeg === ffmpeg && this.#state !== 'stopped') this.#becameLive(attempt);
      }
    });
    const pipes = [ffmpeg.stdio[3] as Writable, ffmpeg.stdio[4] as Writable];
    for (const p of pipes) p.on('error', () => undefined); // EPIPE when ffmpeg exits: the exit handler decides
    (ffmpeg.stdout as Readable).on('error', () => undefined);
    ffmpeg.on('error', (err) => this.#lost(ffmpeg, `cannot run ffmpeg: ${err.message}`));
    ffmpeg.on('exit', (code, signal) => {
      const message = scrubUrl(stderr.trim().split('\n').filter(Boolean).slice(-2).join(' | '), this.#url) || `ffmpeg exited (${code ?? signal})`;
      this.#lost(ffmpeg, message);
    });
    this.#feed = new LadderFeed(choice, pipes[0]!, hasAudio ? pipes[1] : undefined);
    if (!hasAudio) pipes[1]!.end();
    const connectDeadline = Date.now() + this.#config.connectTimeoutMs;
    this.#watchTimer = setInterval(() => {
      if (this.#ffmpeg !== ffmpeg) return;
      if (this.#state !== 'live' && Date.now() > connectDeadline) {
        this.#lost(ffmpeg, `no data sent within ${this.#config.connectTimeoutMs} ms`);
      } else if ((this.#feed?.queuedBytes ?? 0) > this.#config.maxQueuedBytes) {
        this.#lost(ffmpeg, `the destination does not keep up (${this.#feed!.queuedBytes} bytes queued)`);
      }
    }, 500);
    this.#watchTimer.unref();
    this.#log.info('restream connecting', {
      id: this.id,
      room: this.stream.room.name,
      stream: this.stream.identity,
      destination: this.destination,
      attempt,
      video: choice.mode,
      rendition: choice.video.spec.name,
    });
  }

  #becameLive(attempt: number): void {
    if (this.#state === 'reconnecting' || this.#attempt > 1) this.#reconnects++;
    this.#state = 'live';
    this.#liveSince = Date.now();
    this.#consecutiveFailures = 0;
    this.#log.info('restream live', { id: this.id, destination: this.destination, attempt });
    this.#events.started(this, attempt);
  }

  /** The connection of `ffmpeg` is over (exit, error, timeout, backlog): retry with backoff or give up. */
  #lost(ffmpeg: ChildProcess, error: string): void {
    if (this.#ffmpeg !== ffmpeg) return;
    this.#closeConnection(false);
    if (this.#state === 'stopped') return;
    this.#failed(error);
  }

  #failed(error: string): void {
    this.#failures++;
    this.#consecutiveFailures++;
    this.#lastError = error;
    const max = this.#config.maxConsecutiveFailures;
    if (max > 0 && this.#consecutiveFailures >= max) {
      this.#state = 'failed';
      this.#log.warn('restream gave up', { id: this.id, destination: this.destination, failures: this.#consecutiveFailures, error });
      this.#events.failed(this, error, this.#attempt, undefined);
      this.stop('gave-up');
      return;
    }
    const base = Math.min(this.#config.reconnectMaxMs, this.#config.reconnectInitialMs * 2 ** (this.#consecutiveFailures - 1));
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    this.#state = 'reconnecting';
    this.#nextAttemptAt = Date.now() + delay;
    this.#log.warn('restream connection failed; retrying', { id: this.id, destination: this.destination, error, retryInMs: delay });
    this.#events.failed(this, error, this.#attempt, delay);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
    this.#retryTimer.unref();
  }

  #closeConnection(graceful: boolean): void {
    clearInterval(this.#watchTimer);
    const ffmpeg = this.#ffmpeg;
    this.#ffmpeg = undefined;
    this.#feed?.close(graceful);
    this.#feed = undefined;
    if (!ffmpeg || ffmpeg.exitCode !== null || ffmpeg.signalCode !== null) return;
    if (!graceful) {
      ffmpeg.kill('SIGKILL');
      return;
    }
    // Inputs closed: ffmpeg writes the end of the FLV stream and exits; kill it if it does not.
    const killer = setTimeout(() => ffmpeg.kill('SIGKILL'), 3000);
    killer.unref();
    ffmpeg.once('exit', () => clearTimeout(killer));
  }
}
