/**
 * A real `redis-server` (Debian) for tests, on a free port, without persistence. It can be stopped
 * and started again on the same port (a Redis restart: every key is forgotten).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A running (or stopped) test Redis. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Kills the server (SIGKILL); resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty); resolves once it accepts connections. */
  start(): Promise<void>;
}

/** Resolves with a TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.write('PING\r\n');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts redis-server on a free port; resolves once it answers PING (or rejects after `timeoutMs`). */
export async function startRedis(timeoutMs = 5_000): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async () => {
    let out = '';
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d) => (out = (out + d).slice(-2000)));
    c.stderr!.on('data', (d) => (out = (out + d).slice(-2000)));
    child = c;
    exited = new Promise((r) => c.once('exit', () => r()));
    const deadline = Date.now() + timeoutMs;
    while (!(await accepts(port))) {
      if (c.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on ${port} did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    start: launch,
  };
}
