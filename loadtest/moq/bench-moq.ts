/**
 * `npm run bench:moq`: latency and fan-out of the MoQ relay, measured with moq-dev's @moq/net
 * client on both ends over WebSocket (QMux) and QUIC on loopback.
 *
 * The relay runs as its own process (`relay/main.ts`) so its CPU can be read from /proc. One
 * publisher sends a video-like track (30 frames/s, a group per second, frames of FRAME_BYTES)
 * stamped with the wall-clock send time; SUBSCRIBERS sessions subscribe over WebSocket, then the
 * same number over QUIC (WebTransport over HTTP/3, the relay's own client). Latency is
 * publish → receive through the relay (same clock, no encode, decode or render): the relay transit
 * time of a stamped payload, not glass-to-glass (bench:latency reads that from pixels). Last line:
 * JSON with relayTransitP50Ms (WebSocket), relayTransitQuicP50Ms, cpuPercentPer100SubsWs,
 * cpuPercentPer100SubsQuic, framesPerSecondDelivered{Ws,Quic}, relayMemoryKiBPerSub{Ws,Quic}. Exits
 * non-zero when a measured carrier got no samples or under 95 % of the frames sent arrived.
 *
 * Env: SUBSCRIBERS (100), SECONDS (10), FPS (30), FRAME_BYTES (2500), WARMUP_SECONDS (2),
 * RELAY_CPU_PROF (a directory: the relay process writes a V8 CPU profile there), CARRIERS
 * (websocket,quic).
 */
import fs from 'node:fs';
import os from 'node:os';
import { connectMoq, Moq, onEveryFrame, testFrame } from '../core/moqClient';
import { TokenService } from '../../src/auth/tokens';
import { connectWebTransportH3 } from '../../relay/transport/connectWebTransportH3';
import { BenchChecks, benchExitCode, reportBench } from '../core/benchOutcome';
import { startRelayProcess } from '../core/relayProcess';

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 10);
const FPS = Number(process.env.FPS ?? 30);
const FRAME_BYTES = Number(process.env.FRAME_BYTES ?? 2500);
const WARMUP = Number(process.env.WARMUP_SECONDS ?? 2);
const SECRET = 'bench-moq-secret-0123456789';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident memory of a process (KiB). */
function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface PhaseResult {
  p50: number;
  p95: number;
  p99: number;
  framesPerSecond: number;
  cpuPer100: number;
  memoryKiBPerSub: number;
}

/** Connects SUBSCRIBERS sessions with `connect`, measures SECONDS, closes them. */
async function runPhase(kind: string, connect: () => Promise<Moq.Connection.Established>, pid: number, log: (s: string) => void): Promise<PhaseResult> {
  const samples: number[] = [];
  let measuring = false;
  let frames = 0;
  const conns: Moq.Connection.Established[] = [];
  const rss0 = rssKiB(pid);
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const conn = await connect();
    conns.push(conn);
    const sub = conn.consume(Moq.Path.from('bench/cam')).track('video').subscribe({ priority: 60 });
    onEveryFrame(sub, (payload) => {
      if (!measuring) return;
      frames++;
      samples.push(performance.timeOrigin + performance.now() - testFrame(payload).sentAt);
    });
  }
  log(`${kind}: ${conns.length} subscribers connected; warming up ${WARMUP} s`);
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const rss1 = rssKiB(pid);
  measuring = true;
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const c1 = cpuTicks(pid);
  const wall = (performance.now() - t0) / 1000;
  measuring = false;
  for (const c of conns) c.close();
  await new Promise((r) => setTimeout(r, 1000));
  const cpuPercent = ((c1 - c0) / 100 / wall) * 100; // USER_HZ = 100
  samples.sort((a, b) => a - b);
  return {
    p50: Number(percentile(samples, 50).toFixed(1)),
    p95: Number(percentile(samples, 95).toFixed(1)),
    p99: Number(percentile(samples, 99).toFixed(1)),
    framesPerSecond: Number((frames / wall).toFixed(0)),
    cpuPer100: Number(((cpuPercent * 100) / SUBSCRIBERS).toFixed(1)),
    memoryKiBPerSub: Number(((rss1 - rss0) / SUBSCRIBERS).toFixed(0)),
  };
}

async function main(): Promise<void> {
  const tokens = new TokenService(SECRET, 3600);
  // RELAY_CPU_PROF=<dir>: the relay writes a V8 CPU profile there when it exits.
  const relay = await startRelayProcess({ secret: SECRET, cpuProfileDir: process.env.RELAY_CPU_PROF });
  const target = { url: relay.url };
  const log = (s: string) => process.stdout.write(s + '\n');
  log(`relay ${relay.url} (pid ${relay.pid}); ${SUBSCRIBERS} subscribers, ${FPS} fps, ${FRAME_BYTES} B frames, ${SECONDS} s`);

  // Publisher: a group per second, frames stamped with their send time.
  const publisher = await connectMoq(target, tokens.issue({ room: 'bench', identity: 'pub', canPublish: true, canSubscribe: false }));
  const producer = new Moq.Broadcast.Producer();
  publisher.publish(Moq.Path.from('bench/cam'), producer);
  const timers: NodeJS.Timeout[] = [];
  void (async () => {
    for (;;) {
      const req = await producer.requested();
      if (!req) return;
      const track = req.accept();
      let group: Moq.Group.Producer | undefined;
      let n = 0;
      let seq = 0;
      const own = setInterval(() => {
        // moq-lite-05 relays first send a TRACK request (properties only), whose track ends at once.
        if (track.closed.peek() !== undefined) {
          clearInterval(own);
          return;
        }
        if (n % FPS === 0) {
          group?.close();
          group = track.appendGroup();
          seq = group.sequence;
        }
        const payload = new Uint8Array(FRAME_BYTES);
        const view = new DataView(payload.buffer);
        view.setUint32(0, seq);
        view.setUint32(4, n % FPS);
        view.setFloat64(8, performance.timeOrigin + performance.now());
        group!.writeFrame({ payload, timestamp: Moq.Time.Timestamp.fromMicros(Date.now() * 1000) } as Moq.Group.Frame);
        n++;
      }, 1000 / FPS);
      timers.push(own);
    }
  })();

  // Subscribers: the same number over WebSocket (QMux), then over QUIC (WebTransport over HTTP/3).
  const subToken = tokens.issue({ room: 'bench', identity: 'viewer', canSubscribe: true });
  const connectWs = () => connectMoq(target, subToken, { timeoutMs: 30_000 });
  const connectQuic = async () => {
    const url = new URL(`${relay.url}/?jwt=${subToken}`);
    const { transport } = await connectWebTransportH3(url, 10_000);
    return Moq.Connection.connect(url, { transport: transport as unknown as WebTransport });
  };
  // CARRIERS=quic (or websocket) measures one carrier only, e.g. to profile it alone.
  const carriers = (process.env.CARRIERS ?? 'websocket,quic').split(',');
  const skipped: PhaseResult = { p50: NaN, p95: NaN, p99: NaN, framesPerSecond: NaN, cpuPer100: NaN, memoryKiBPerSub: NaN };
  const ws = carriers.includes('websocket') ? await runPhase('websocket', connectWs, relay.pid, log) : skipped;
  const quic = carriers.includes('quic') ? await runPhase('quic', connectQuic, relay.pid, log) : skipped;
  const result = {
    relayTransitP50Ms: ws.p50,
    relayTransitP95Ms: ws.p95,
    relayTransitP99Ms: ws.p99,
    relayTransitQuicP50Ms: quic.p50,
    relayTransitQuicP95Ms: quic.p95,
    subscribers: SUBSCRIBERS,
    framesPerSecondDeliveredWs: ws.framesPerSecond,
    framesPerSecondDeliveredQuic: quic.framesPerSecond,
    expectedFramesPerSecond: SUBSCRIBERS * FPS,
    cpuPercentPer100SubsWs: ws.cpuPer100,
    cpuPercentPer100SubsQuic: quic.cpuPer100,
    cpuPercentPer100Subs: ws.cpuPer100,
    relayMemoryKiBPerSubWs: ws.memoryKiBPerSub,
    relayMemoryKiBPerSubQuic: quic.memoryKiBPerSub,
    fps: FPS,
    frameBytes: FRAME_BYTES,
    seconds: SECONDS,
    transport: 'websocket (qmux) and quic (webtransport over http/3), loopback',
    cpus: os.cpus().length,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  for (const [name, r] of [
    ['WebSocket', ws],
    ['QUIC', quic],
  ] as const) {
    log(
      `${name}: latency publish→receive p50 ${r.p50} ms, p95 ${r.p95} ms, p99 ${r.p99} ms; ${r.framesPerSecond} frames/s delivered of ${SUBSCRIBERS * FPS}; relay CPU ${r.cpuPer100} % per 100 subscribers; relay memory ${r.memoryKiBPerSub} KiB per subscriber`,
    );
  }
  for (const t of timers) clearInterval(t);
  publisher.close();
  relay.stop();
  const checks = new BenchChecks();
  for (const [name, r, keys] of [
    ['websocket', ws, ['relayTransitP50Ms', 'relayTransitP95Ms', 'relayTransitP99Ms', 'cpuPercentPer100SubsWs']],
    ['quic', quic, ['relayTransitQuicP50Ms', 'relayTransitQuicP95Ms', 'cpuPercentPer100SubsQuic']],
  ] as const) {
    if (!carriers.includes(name)) continue;
    checks
      .figures(result, keys)
      .expect(
        r.framesPerSecond >= 0.95 * SUBSCRIBERS * FPS,
        `${name}: frames delivered ${r.framesPerSecond}/s, below 95 % of the ${SUBSCRIBERS * FPS}/s sent to the subscribers`,
      );
  }
  reportBench(result, checks, log);
  process.exit(benchExitCode());
}

main().catch((err) => {
  process.stderr.write(`bench:moq failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
