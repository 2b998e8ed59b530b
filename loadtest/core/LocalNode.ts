/**
 * A subsec node the tool starts for itself: a separate process (`src/main.ts`) on free ports, so
 * its CPU and memory are measured apart from the load generator's. Its configuration is written
 * to a temporary file; `SUBSEC_*` variables of the caller's environment are not passed on.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabHost } from '../netlab/NetworkLab';

/** The repository root. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Options of {@link LocalNode.start}. */
export interface LocalNodeOptions {
  /** mediasoup workers (default 1: one worker is one core's worth of SFU). */
  workers?: number;
  /** Publish the synthetic source (ffmpeg test pattern, H264 + Opus) into this room. */
  synthetic?: { room: string; bitrateKbps?: number };
  /** Start the MoQ relay (WebSocket listener on a free port, no WebTransport) and its SFU bridge. */
  moq?: boolean;
  /** Extra config merged last (deep). */
  config?: Record<string, unknown>;
  /** Time allowed for start-up (ms, default 30 s). */
  startTimeoutMs?: number;
  /** Run the node inside this network-lab host, listening on its address (`--profile`). */
  labHost?: LabHost;
}

/** What a process tree uses right now (from /proc). */
export interface ProcessTreeStats {
  pids: number[];
  /** Sum of resident memory (MB). */
  rssMb: number;
  /** Sum of user+system CPU time since each process started (s). */
  cpuSeconds: number;
}

/** Admin key of nodes the tool starts. */
export const LOCAL_ADMIN_KEY = 'loadtest-admin-key-0123';

/** A node process started by the tool. */
export class LocalNode {
  readonly url: string;
  readonly adminKey = LOCAL_ADMIN_KEY;
  /** MoQ relay session URL (when started with `moq`). */
  readonly moqUrl: string | undefined;
  readonly #child: ChildProcess;
  readonly #dir: string;
  #stderrTail = '';
  #closed = false;

  private constructor(child: ChildProcess, dir: string, url: string, moqUrl: string | undefined) {
    this.#child = child;
    this.#dir = dir;
    this.url = url;
    this.moqUrl = moqUrl;
  }

  /** Starts a node and resolves once it serves HTTP. */
  static async start(options: LocalNodeOptions = {}): Promise<LocalNode> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-loadtest-'));
    const moqPort = options.moq ? await freePort() : 0;
    const address = options.labHost?.address ?? '127.0.0.1';
    const config = deepMerge(
      {
        node: { id: 'loadtest-node' },
        http: { host: address, port: 0, demo: false },
        auth: { adminKey: LOCAL_ADMIN_KEY, jwtSecret: 'loadtest-jwt-secret-0123456789', demoTokens: false },
        sfu: { workers: options.workers ?? 1, consumersPerRouter: 100_000, listenAddresses: [{ ip: address }] },
        synthetic: options.synthetic ? { enabled: true, room: options.synthetic.room, bitrateKbps: options.synthetic.bitrateKbps ?? 600 } : { enabled: false },
        moq: options.moq
          ? { enabled: true, relay: { host: address, port: moqPort, webtransport: { enabled: false, port: 0 } }, bridge: { enabled: true } }
          : { enabled: false },
        drainTimeoutMs: 500,
        logLevel: 'warn',
      },
      options.config ?? {},
    );
    const configFile = path.join(dir, 'node.json');
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SUBSEC_') || k.startsWith('SUBSEC_SETUP_')) env[k] = v;
    const argv = ['--import', 'tsx', path.join(projectRoot, 'src', 'main.ts'), '--config', configFile];
    const spawnOptions: SpawnOptions = { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] };
    const child = options.labHost ? options.labHost.spawn(process.execPath, argv, spawnOptions) : spawn(process.execPath, argv, spawnOptions);
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`local node did not start within ${options.startTimeoutMs ?? 30_000} ms`)),
          options.startTimeoutMs ?? 30_000,
        );
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /Metrics:\s+(\S+)\/metrics/.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`local node exited during start-up (code ${code}, signal ${signal})`));
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const node = new LocalNode(child, dir, url, options.moq ? `http://${address}:${moqPort}` : undefined);
      child.stderr!.on('data', (d: Buffer) => {
        node.#stderrTail = (node.#stderrTail + d.toString()).slice(-4000);
      });
      return node;
    } catch (err) {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`${(err as Error).message}\n${stderr.trim().split('\n').slice(-15).join('\n')}`);
    }
  }

  /** Process id of the node. */
  get pid(): number {
    return this.#child.pid!;
  }

  /** The last lines the node wrote to stderr (for error reports). */
  get stderrTail(): string {
    return this.#stderrTail;
  }

  /** Memory and CPU time of the node and its mediasoup workers (and ffmpeg children). */
  processStats(): ProcessTreeStats {
    return processTreeStats(this.pid);
  }

  /** Stops the node (SIGTERM, SIGKILL after 5 s) and removes its temporary files. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A TCP port that was free a moment ago (bind 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resident memory and CPU time of `pid` and all its descendants, read from /proc (Linux). */
export function processTreeStats(pid: number): ProcessTreeStats {
  const pids: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    pids.push(p);
    try {
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const children = fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) queue.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // the process just exited
    }
  }
  const ticks = 100; // USER_HZ on Linux
  let rssMb = 0;
  let cpuSeconds = 0;
  for (const p of pids) {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      const rss = /VmRSS:\s+(\d+) kB/.exec(status);
      if (rss) rssMb += Number(rss[1]) / 1024;
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuSeconds += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // gone
    }
  }
  return { pids, rssMb, cpuSeconds };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
