/** Starts the GStreamer RTSP server of rtspServer.py (a real RTSP server from Debian packages) for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running RTSP test server: `/cam` (H264 + PCMA), `/aac` (H264 + AAC), `/bench`, `/clock` and `/clock-slices` (see rtspServer.py). */
export interface RtspTestServer {
  port: number;
  url(path: string): string;
  /** Stops it (SIGKILL: a camera that drops off the network). */
  kill(): Promise<void>;
  readonly proc: ChildProcess;
}

/** Starts the server on `port` (0 = free), with Digest auth when `user` is given. */
export function startRtspServer(port = 0, user?: string, password?: string, env: Record<string, string> = {}): Promise<RtspTestServer> {
  const script = fileURLToPath(new URL('./rtspServer.py', import.meta.url));
  // Debian's python3 has the gi bindings (a pyenv python on PATH may not).
  const proc = spawn('/usr/bin/python3', [script, String(port), ...(user ? [user, password ?? ''] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`RTSP server did not start: ${stderr}`)), 10_000);
    proc.once('exit', (code) => reject(new Error(`RTSP server exited (${code}): ${stderr}`)));
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      const bound = (JSON.parse(out.split('\n')[0]!) as { port: number }).port;
      resolve({
        port: bound,
        proc,
        url: (path) => `rtsp://127.0.0.1:${bound}${path}`,
        kill: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            proc.once('exit', () => done());
            proc.kill('SIGKILL');
          }),
      });
    });
  });
}
