/**
 * Measures what an emulated link does, with the probe agent (probe/probeAgent.mjs) at both ends:
 * one-way delays, jitter and loss per direction from timestamped UDP probes, delivered rate from
 * a paced UDP stream above the link's rate, TCP goodput, and the emulator's CPU time meanwhile.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LabHost } from './NetworkLab';

const AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'probe', 'probeAgent.mjs');

/** Summary of a sample (ms). */
export interface Distribution {
  mean: number;
  std: number;
  p50: number;
  p95: number;
}

/** Delay and loss of the path client → server → client. */
export interface DelayLossMeasurement {
  probes: number;
  up: Distribution;
  down: Distribution;
  rtt: Distribution;
  /** Loss (%) client → server. */
  upLossPct: number;
  /** Loss (%) server → client (of the probes that reached the server). */
  downLossPct: number;
  /** Replies that arrived after a later probe's reply. */
  reordered: number;
}

/** Summarises a list of numbers. */
export function distribution(values: number[]): Distribution {
  if (values.length === 0) return { mean: NaN, std: NaN, p50: NaN, p95: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { mean, std, p50: pick(0.5), p95: pick(0.95) };
}

/** A running probe agent: its JSON output lines. */
class Agent {
  readonly lines: unknown[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l));
      } catch {
        return;
      }
      for (const w of this.#waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  static start(host: LabHost, args: string[]): Agent {
    return new Agent(host.spawn(process.execPath, [AGENT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }));
  }

  async line<T>(pred: (o: Record<string, unknown>) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((o) => pred(o as Record<string, unknown>));
      if (hit) return hit as T;
      if (Date.now() > deadline) throw new Error(`probe agent ${this.child.spawnargs.slice(-6).join(' ')}: no answer in ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), new Promise((r) => setTimeout(r, 200)), this.exited]);
    }
  }

  async stop<T>(): Promise<T> {
    this.child.kill('SIGTERM');
    return this.line<T>((o) => !('listening' in o), 5000);
  }
}

let nextPort = 40_000;
/** A port for the next probe (each measurement its own, so measurements can run side by side). */
function probePort(): number {
  nextPort = nextPort >= 48_000 ? 40_000 : nextPort + 1;
  return nextPort;
}

/** Sends `count` probes every `intervalMs` from `client` to an echo in `server`. */
export async function measureDelayLoss(client: LabHost, server: LabHost, count = 300, intervalMs = 20): Promise<DelayLossMeasurement> {
  const port = probePort();
  const echo = Agent.start(server, ['echo', String(port)]);
  try {
    await echo.line((o) => 'listening' in o, 10_000);
    const ping = Agent.start(client, ['ping', server.address, String(port), String(count), String(intervalMs)]);
    const r = await ping.line<{ sent: number; received: number; reordered: number; upMs: number[]; downMs: number[]; rttMs: number[] }>(
      (o) => 'sent' in o,
      count * intervalMs + 15_000,
    );
    const { received: atServer } = await echo.stop<{ received: number }>();
    return {
      probes: r.sent,
      up: distribution(r.upMs),
      down: distribution(r.downMs),
      rtt: distribution(r.rttMs),
      upLossPct: (100 * (r.sent - atServer)) / r.sent,
      downLossPct: atServer ? (100 * (atServer - r.received)) / atServer : 100,
      reordered: r.reordered,
    };
  } finally {
    echo.child.kill('SIGKILL');
  }
}

/** Sends a paced UDP stream at `offeredKbps` from `from` to `to` for `ms`; resolves with the rate that arrived (kbit/s, IP bytes). */
export async function measureUdpRate(
  from: LabHost,
  to: LabHost,
  offeredKbps: number,
  ms = 3000,
  size = 1200,
): Promise<{ offeredKbps: number; deliveredKbps: number; deliveredPct: number }> {
  const port = probePort();
  const sink = Agent.start(to, ['sink', String(port)]);
  try {
    await sink.line((o) => 'listening' in o, 10_000);
    const blast = Agent.start(from, ['blast', to.address, String(port), String(offeredKbps), String(ms), String(size)]);
    const sent = await blast.line<{ sent: number; bytes: number }>((o) => 'sent' in o, ms + 15_000);
    // Let the queue drain before reading the sink.
    await new Promise((r) => setTimeout(r, 1000));
    const got = await sink.stop<{ packets: number; bytes: number; firstMs: number; lastMs: number }>();
    const span = Math.max(1, got.lastMs - got.firstMs);
    return { offeredKbps, deliveredKbps: (got.bytes * 8) / span, deliveredPct: (100 * got.bytes) / Math.max(1, sent.bytes) };
  } finally {
    sink.child.kill('SIGKILL');
  }
}

/** TCP goodput from `server` to `client` over `ms` (kbit/s of payload). */
export async function measureTcpGoodput(client: LabHost, server: LabHost, ms = 4000): Promise<number> {
  const port = probePort();
  const source = Agent.start(server, ['tcp-source', String(port)]);
  try {
    await source.line((o) => 'listening' in o, 10_000);
    const sink = Agent.start(client, ['tcp-sink', server.address, String(port), String(ms)]);
    const r = await sink.line<{ bytes?: number; ms?: number; error?: string }>((o) => 'bytes' in o || 'error' in o, ms + 15_000);
    if (r.error) throw new Error(`TCP goodput: ${r.error}`);
    return (r.bytes! * 8) / r.ms!;
  } finally {
    source.child.kill('SIGKILL');
  }
}
