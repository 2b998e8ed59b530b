/**
 * A cheap, steady video source for benchmarks: a short H264 clip (testsrc2, x264 baseline,
 * constant-ish bitrate, a keyframe every second) encoded once as MPEG-TS and cached in the temp directory,
 * then looped by ffmpeg with `-c copy` as RTP to a PlainRtpPublisher. Copying costs almost no
 * CPU, unlike the live synthetic source, so the SFU under test gets the machine.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Options of the clip. */
export interface ClipOptions {
  /** Video bitrate (kbps, default 600). */
  bitrateKbps?: number;
  width?: number;
  height?: number;
  fps?: number;
}

/** Encodes the clip if it is not cached yet; returns its path. */
export async function ensureClip(o: ClipOptions = {}): Promise<string> {
  const kbps = o.bitrateKbps ?? 600;
  const w = o.width ?? 640;
  const h = o.height ?? 360;
  const fps = o.fps ?? 30;
  const file = path.join(os.tmpdir(), `subsec-bench-clip-${w}x${h}-${fps}fps-${kbps}k.ts`);
  if (fs.existsSync(file) && fs.statSync(file).size > 0) return file;
  const tmp = `${file}.${process.pid}.tmp.ts`;
  await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${w}x${h}:rate=${fps}`,
      '-t',
      '10',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'zerolatency',
      '-profile:v',
      'baseline',
      '-level',
      '3.1',
      '-pix_fmt',
      'yuv420p',
      '-b:v',
      `${kbps}k`,
      '-maxrate',
      `${kbps}k`,
      '-bufsize',
      `${kbps}k`,
      '-g',
      String(fps),
      '-keyint_min',
      String(fps),
      '-sc_threshold',
      '0',
      '-f',
      'mpegts',
      tmp,
    ],
    { timeout: 120_000 },
  );
  fs.renameSync(tmp, file);
  return file;
}

/** A running ffmpeg that loops the clip as RTP. */
export class ClipFeed {
  readonly #child: ChildProcess;
  #stderr = '';

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-2000);
    });
  }

  /** Starts sending `clip` to 127.0.0.1:`port` with the given SSRC and payload type. */
  static start(clip: string, target: { port: number; ssrc: number; payloadType: number }): ClipFeed {
    const child = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-re',
        '-stream_loop',
        '-1',
        '-i',
        clip,
        // MPEG-TS carries Annex B already: ffmpeg 5.1's h264_mp4toannexb fails after the first
        // loop of an MP4 ("non-NULL packet sent after an EOF") and the stream stops.
        '-map',
        '0:v',
        '-c:v',
        'copy',
        '-ssrc',
        String(target.ssrc),
        '-payload_type',
        String(target.payloadType),
        // No RTCP from ffmpeg: it comes from a second port and would mislead a comedia transport.
        '-rtpflags',
        'skip_rtcp',
        '-f',
        'rtp',
        `rtp://127.0.0.1:${target.port}?rtcpport=${target.port}&pkt_size=1200`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return new ClipFeed(child);
  }

  /** Process id of ffmpeg. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** True while ffmpeg runs. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last things ffmpeg printed. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Stops ffmpeg. Idempotent. */
  stop(): void {
    if (this.running) this.#child.kill('SIGKILL');
  }
}
