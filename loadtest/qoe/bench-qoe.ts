/**
 * `npm run bench:qoe`: what QoE collection costs the node at `--viewers` reporting viewers.
 *
 * A node runs as its own process (its main process's CPU time is read from /proc: the QoE intake,
 * aggregation, metrics and alerts all run there; the mediasoup workers do no QoE work). Viewers
 * are real signaling sockets joined to `--rooms` rooms, each room holding a (media-less) video
 * producer so the streams are known; every viewer pings every 10 s like the SDK's heartbeat.
 * `--cycles` pairs of phases of `--seconds` each: idle (sockets and heartbeats only), then
 * reporting (each viewer runs the SDK's own QoeReporter with one WebRTC playback session fed once
 * a second with plausible figures, reporting every `--interval-ms`). The overhead is the median
 * reporting phase's CPU minus the median idle phase's, scaled to 1,000 viewers; the bytes are the
 * reportQoe requests and replies as sent on the socket (JSON text), per viewer and minute.
 *
 * Options: --viewers 1000 --rooms 10 --interval-ms 5000 --seconds 30 --cycles 3 --warmup-seconds 5
 * Last line: {"qoeCpuPercentPer1000Viewers", "qoeBytesPerViewerMinute", ...}
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { TokenService } from '../../src/auth/tokens';
import { QoeReporter } from '../../clients/sdk/src/qoe/QoeReporter';
import type { QoeSession } from '../../clients/sdk/src/qoe/QoeSession';
import { LocalNode } from '../core/LocalNode';
import { SignalingClient, fakeVideoRtpParameters } from '../core/SignalingClient';
import { BenchChecks, reportBench } from '../core/benchOutcome';

const JWT_SECRET = 'loadtest-jwt-secret-0123456789';

/** CPU time (user + system, s) of one process, from /proc. */
function processCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One viewer: a socket, a heartbeat, and (while reporting) the SDK's reporter. */
class Viewer {
  reporter?: QoeReporter;
  session?: QoeSession;
  #heartbeat?: NodeJS.Timeout;
  #feed?: NodeJS.Timeout;
  constructor(
    readonly client: SignalingClient,
    readonly stream: string,
  ) {}

  startHeartbeat(): void {
    // The SDK pings every 10 s; spread the phases.
    setTimeout(() => {
      this.#heartbeat = setInterval(() => void this.client.request('ping', { clientTime: Date.now() }).catch(() => undefined), 10_000);
    }, Math.random() * 10_000).unref();
  }

  startReporting(intervalMs: number, counters: { up: number; down: number; batches: number; errors: number }): void {
    const reporter = new QoeReporter({ intervalMs }, {});
    this.reporter = reporter;
    reporter._attach(async (params) => {
      counters.up += JSON.stringify({ id: 1000, method: 'reportQoe', params }).length;
      try {
        const data = await this.client.request<{ accepted: number; ignored: number; intervalMs: number }>('reportQoe', params);
        counters.down += JSON.stringify({ id: 1000, ok: true, data }).length;
        counters.batches++;
        return data;
      } catch (error) {
        counters.errors++;
        throw error;
      }
    });
    const session = reporter.startSession({ stream: this.stream, path: 'webrtc', startedAt: performance.now() - 400 - Math.random() * 800 });
    this.session = session;
    session.firstFrame();
    session.rendition(Math.random() < 0.7 ? '720p' : '360p');
    // What a WebRTC tracker feeds once a second: bytes, a latency estimate, now and then a freeze.
    this.#feed = setInterval(() => {
      session.addBytes(180_000 + Math.random() * 40_000);
      session.latency(80 + Math.random() * 60);
      if (Math.random() < 0.02) session.addStall(200 + Math.random() * 600, 1);
    }, 1000);
  }

  stopReporting(): void {
    clearInterval(this.#feed);
    this.session?.end();
    this.reporter?._close();
    this.reporter = undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.stopReporting();
    await this.client.close();
  }
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      viewers: { type: 'string', default: '1000' },
      rooms: { type: 'string', default: '10' },
      'interval-ms': { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '30' },
      'warmup-seconds': { type: 'string', default: '5' },
      cycles: { type: 'string', default: '3' },
    },
  });
  const viewers = Number(values.viewers);
  const rooms = Number(values.rooms);
  const intervalMs = Number(values['interval-ms']);
  const seconds = Number(values.seconds);
  const warmup = Number(values['warmup-seconds']);
  const cycles = Number(values.cycles);
  for (const [name, v, min] of [
    ['viewers', viewers, 1],
    ['rooms', rooms, 1],
    ['interval-ms', intervalMs, 1000],
    ['seconds', seconds, 5],
    ['warmup-seconds', warmup, 0],
    ['cycles', cycles, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  }
  if (values.url) throw new Error("--url: this bench reads the node process's CPU from /proc, so it starts its own node");

  const node = await LocalNode.start({
    config: {
      qoe: { reportIntervalMs: intervalMs, maxSessions: Math.max(100_000, viewers * 2) },
      signaling: { maxRequestsPerSecond: 1000 },
    },
  });
  const tokens = new TokenService(JWT_SECRET, 3600);
  const all: Viewer[] = [];
  const publishers: SignalingClient[] = [];
  try {
    process.stderr.write(`node ${node.url} (pid ${node.pid}); ${rooms} publishers, ${viewers} viewers joining…\n`);
    for (let r = 0; r < rooms; r++) {
      const p = await SignalingClient.connect(node.url);
      publishers.push(p);
      await p.request('join', { protocol: 1, token: tokens.issue({ room: `bench-qoe-${r}`, identity: `pub-${r}`, canPublish: true }) });
      const t = await p.request<{ transportId: string }>('createTransport', { direction: 'send' });
      await p.request('produce', { transportId: t.transportId, kind: 'video', rtpParameters: fakeVideoRtpParameters(0x5000 + r) });
    }
    await inBatches(
      Array.from({ length: viewers }, (_, i) => i),
      50,
      async (i) => {
        const room = i % rooms;
        const c = await SignalingClient.connect(node.url);
        await c.request('join', { protocol: 1, token: tokens.issue({ room: `bench-qoe-${room}`, identity: `viewer-${i}`, canSubscribe: true }) });
        const v = new Viewer(c, `pub-${room}`);
        v.startHeartbeat();
        all.push(v);
      },
    );

    /** CPU percent of one core used by the node's main process over `seconds`. */
    const cpuPercent = async (): Promise<number> => {
      const cpu0 = processCpuSeconds(node.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      return ((processCpuSeconds(node.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    };
    const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
    const idle: number[] = [];
    const busy: number[] = [];
    const counters = { up: 0, down: 0, batches: 0, errors: 0 };
    let up = 0;
    let down = 0;
    let batches = 0;
    let minutes = 0;
    let snapshot: { totals: { sessions: number }; streams: unknown[] } = { totals: { sessions: 0 }, streams: [] };
    // Alternating phases, so a neighbour's load on the machine or a GC falls on both sides.
    for (let cycle = 0; cycle < cycles; cycle++) {
      await sleep(warmup);
      idle.push(await cpuPercent());
      process.stderr.write(`cycle ${cycle + 1}: idle ${idle.at(-1)!.toFixed(2)} % CPU`);
      for (const v of all) v.startReporting(intervalMs, counters);
      await sleep(warmup);
      const before = { ...counters };
      const t0 = performance.now();
      busy.push(await cpuPercent());
      minutes += (performance.now() - t0) / 60_000;
      up += counters.up - before.up;
      down += counters.down - before.down;
      batches += counters.batches - before.batches;
      snapshot = (await (await fetch(`${node.url}/v1/qoe`, { headers: { authorization: `Bearer ${node.adminKey}` } })).json()) as typeof snapshot;
      process.stderr.write(`, reporting ${busy.at(-1)!.toFixed(2)} % CPU\n`);
      for (const v of all) v.stopReporting();
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const baseline = median(idle);
    const reporting = median(busy);
    const perViewers = 1000 / viewers;
    const result = {
      qoeCpuPercentPer1000Viewers: Math.round((reporting - baseline) * perViewers * 100) / 100,
      qoeBytesPerViewerMinute: Math.round((up + down) / viewers / minutes),
      qoeUpstreamBytesPerViewerMinute: Math.round(up / viewers / minutes),
      viewers,
      rooms,
      reportIntervalMs: intervalMs,
      reportsPerSecond: Math.round((batches / (minutes * 60)) * 10) / 10,
      reportErrors: counters.errors,
      sessionsCounted: snapshot.totals.sessions,
      streamsLabelled: snapshot.streams.length,
      idleCpuPercent: Math.round(baseline * 100) / 100,
      reportingCpuPercent: Math.round(reporting * 100) / 100,
      idlePhases: idle.map((x) => Math.round(x * 100) / 100),
      reportingPhases: busy.map((x) => Math.round(x * 100) / 100),
      seconds,
    };
    process.stderr.write(
      `QoE at ${viewers} viewers (${rooms} streams, a report every ${intervalMs} ms): +${(reporting - baseline).toFixed(2)} % of one core ` +
        `(${result.qoeCpuPercentPer1000Viewers} % per 1000 viewers), ${result.qoeBytesPerViewerMinute} B per viewer-minute (${result.qoeUpstreamBytesPerViewerMinute} up), ` +
        `${result.reportsPerSecond} reports/s, ${result.sessionsCounted} sessions counted, ${counters.errors} errors\n`,
    );
    const checks = new BenchChecks()
      .figures(result, ['qoeCpuPercentPer1000Viewers', 'qoeBytesPerViewerMinute', 'idleCpuPercent', 'reportingCpuPercent'])
      .expect(counters.errors === 0, `${counters.errors} report errors`)
      .expect(result.reportsPerSecond > 0, 'no reports were sent')
      .expect(snapshot.totals.sessions >= viewers, `the node counted ${snapshot.totals.sessions} sessions of ${viewers} viewers`);
    reportBench(result, checks, (l) => console.log(l));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${node.stderrTail.trim().split('\n').slice(-15).join('\n')}`);
  } finally {
    await Promise.all(all.map((v) => v.close().catch(() => undefined)));
    await Promise.all(publishers.map((p) => p.close().catch(() => undefined)));
    await node.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
