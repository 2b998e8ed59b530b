/**
 * The built-in synthetic source: an ffmpeg test pattern with a burnt-in wall clock (and a tone)
 * encoded as H264 + Opus and pushed as RTP into a room, so a newcomer sees live video without a
 * camera. The clock is drawn twice: as text, and as the machine-readable clock code
 * (./clockCode.ts) from which a viewer reads each frame's age, its glass-to-glass latency.
 * Restarts itself (capped backoff) if ffmpeg exits or the room goes away.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnOwned } from '../core/spawnOwned';
import type { Logger } from '../core/logger';
import type { RoomManager } from '../sfu/RoomManager';
import { PlainRtpPublisher, type PlainRtpEndpoints } from '../ingest/PlainRtpPublisher';
import { clockCodeArea, clockCodeFilters } from '../protocol/clockCode';

/** Options of {@link SyntheticSource}. */
export interface SyntheticSourceOptions {
  room: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  listenIp: string;
  /** Identity of the synthetic participant (default 'synthetic'). */
  identity?: string;
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

/** The video filters: the clock code in the top-left corner, the clock as text below it. */
function videoFilters(o: SyntheticSourceOptions): string {
  const below = clockCodeArea(o.height).height + Math.round(o.height / 30);
  // While the frame's timestamps are the wall clock (inside the clock-code filters), t is the
  // wall-clock time in seconds: the text shows the same instant as the code.
  const text = `drawtext=fontfile=${FONT}:text='%{localtime\\:%T}.%{eif\\:mod(t*1000\\,1000)\\:d\\:3}':x=${Math.round(o.height / 30)}:y=${below}:fontsize=${Math.round(o.height / 11)}:fontcolor=white:box=1:boxcolor=black@0.6`;
  return clockCodeFilters(o.height, [text]).join(',');
}

/** ffmpeg arguments that encode the test pattern to the given RTP endpoints. */
export function syntheticFfmpegArgs(o: SyntheticSourceOptions, ep: PlainRtpEndpoints, host: string): string[] {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`];
  if (ep.audio) args.push('-re', '-f', 'lavfi', '-i', 'sine=frequency=440:beep_factor=4:sample_rate=48000');
  args.push(
    '-map',
    '0:v',
    '-vf',
    videoFilters(o),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-profile:v',
    'baseline',
    '-level',
    '3.1',
    '-pix_fmt',
    'yuv420p',
    '-b:v',
    `${o.bitrateKbps}k`,
    '-maxrate',
    `${o.bitrateKbps}k`,
    '-bufsize',
    `${o.bitrateKbps}k`,
    '-g',
    String(o.fps),
    '-keyint_min',
    String(o.fps),
    '-bsf:v',
    'h264_mp4toannexb',
    '-ssrc',
    String(ep.video.ssrc),
    '-payload_type',
    String(ep.video.payloadType),
    // ffmpeg sends RTCP from a second local port, often before the first RTP packet; a comedia
    // PlainTransport latches onto that first source and then drops every RTP packet.
    '-rtpflags',
    'skip_rtcp',
    '-f',
    'rtp',
    `rtp://${host}:${ep.video.port}?rtcpport=${ep.video.port}&pkt_size=1200`,
  );
  if (ep.audio) {
    args.push(
      '-map',
      '1:a',
      '-c:a',
      'libopus',
      '-b:a',
      '48k',
      '-ac',
      '2',
      '-application',
      'lowdelay',
      '-ssrc',
      String(ep.audio.ssrc),
      '-payload_type',
      String(ep.audio.payloadType),
      '-rtpflags',
      'skip_rtcp',
      '-f',
      'rtp',
      `rtp://${host}:${ep.audio.port}?rtcpport=${ep.audio.port}&pkt_size=1200`,
    );
  }
  return args;
}

/** Runs the synthetic source until closed. */
export class SyntheticSource {
  readonly #options: SyntheticSourceOptions;
  readonly #rooms: RoomManager;
  readonly #log: Logger;
  #publisher: PlainRtpPublisher | undefined;
  #ffmpeg: ChildProcess | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(options: SyntheticSourceOptions, rooms: RoomManager, log: Logger) {
    this.#options = options;
    this.#rooms = rooms;
    this.#log = log;
  }

  /** Starts publishing; resolves once ffmpeg has been launched. */
  async start(): Promise<void> {
    if (this.#closed) return;
    const room = await this.#rooms.getOrCreate(this.#options.room);
    const publisher = new PlainRtpPublisher({
      room,
      identity: this.#options.identity ?? 'synthetic',
      kind: 'synthetic',
      videoCodec: 'H264',
      audio: true,
      listenIp: this.#options.listenIp,
      onRoomClosed: (reason) => {
        this.#log.warn('synthetic source lost its room; restarting', { reason });
        this.#stopFfmpeg();
        this.#scheduleRestart();
      },
    });
    this.#publisher = publisher;
    const endpoints = await publisher.start();
    const ffmpeg = spawnOwned('ffmpeg', syntheticFfmpegArgs(this.#options, endpoints, this.#options.listenIp), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#ffmpeg = ffmpeg;
    let stderr = '';
    ffmpeg.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    ffmpeg.on('error', (err) => this.#log.error('cannot run ffmpeg for the synthetic source', { error: err }));
    ffmpeg.on('exit', (code, signal) => {
      if (this.#ffmpeg !== ffmpeg) return;
      this.#ffmpeg = undefined;
      if (this.#closed) return;
      this.#log.warn('synthetic ffmpeg exited; restarting', { code, signal, stderr: stderr.trim().slice(-300) });
      publisher.close();
      this.#scheduleRestart();
    });
    this.#log.info('synthetic source publishing', { room: this.#options.room, video: endpoints.video.port });
  }

  /** Stops ffmpeg and unpublishes. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    this.#stopFfmpeg();
    this.#publisher?.close();
  }

  #stopFfmpeg(): void {
    const f = this.#ffmpeg;
    this.#ffmpeg = undefined;
    if (f && f.exitCode === null) f.kill('SIGKILL');
  }

  #scheduleRestart(): void {
    if (this.#closed || this.#restartTimer) return;
    const delay = Math.min(10_000, 250 * 2 ** this.#failures++);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.start().then(
        () => {
          this.#failures = 0;
        },
        (err) => {
          this.#log.warn('synthetic source restart failed', { error: err });
          this.#scheduleRestart();
        },
      );
    }, delay);
  }
}
