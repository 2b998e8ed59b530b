/**
 * The ingest tests' encoder: ffmpeg pushing a 320x180, 15 fps test pattern with a 440 Hz tone
 * (H264 with a 1 s GOP and AAC unless told otherwise) to the output the test names.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** H264 the way a live encoder sends it: low latency, a key frame every 15 frames (1 s). */
export const TEST_H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15'];
/** AAC at 64 kbit/s. */
export const TEST_AAC = ['-c:a', 'aac', '-b:a', '64k'];

/** Options of {@link startTestPattern}. */
export interface TestPatternOptions {
  /** Video encoder arguments (default {@link TEST_H264}). */
  video?: string[];
  /** Audio encoder arguments (default {@link TEST_AAC}). */
  audio?: string[];
  /** Stop after this many seconds (default: run until killed). */
  seconds?: number;
  /** ffmpeg's log level (default `warning`). */
  loglevel?: string;
}

/** Starts the encoder; `output` is what follows the encoders (`-f flv rtmp://…`); its stderr collects in `log`. */
export function startTestPattern(output: string[], opts: TestPatternOptions = {}): ChildProcess & { log: string } {
  const args = [
    '-hide_banner',
    '-loglevel',
    opts.loglevel ?? 'warning',
    '-nostdin',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x180:rate=15',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    ...(opts.video ?? TEST_H264),
    ...(opts.audio ?? TEST_AAC),
    ...(opts.seconds ? ['-t', String(opts.seconds)] : []),
    ...output,
  ];
  const proc = Object.assign(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }), { log: '' });
  proc.stderr!.on('data', (d: Buffer) => (proc.log += d.toString()));
  return proc;
}

/** Resolves with the encoder's exit code; rejects when it still runs after `timeoutMs`. */
export function exited(proc: ChildProcess, timeoutMs = 10_000): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`encoder (pid ${proc.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
