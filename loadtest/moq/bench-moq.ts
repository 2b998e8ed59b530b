/**
 * `npm run bench:moq`: latency and fan-out of the MoQ relay, measured with moq-dev's @moq/net
 * client on both ends over WebSocket (QMux) on loopback.
 *
 * The relay runs as its own process (`relay/main.ts`) so its CPU can be read from /proc. One
 * publisher sends a video-like track (30 frames/s, a group per second, frames of FRAME_BYTES)
 * stamped with the wall-clock send time; SUBSCRIBERS sessions each subscribe. Latency is
 * publish → receive through the relay (same clock, no encode/decode). Last line: JSON with
 * moqG2gP50Ms, moqG2gP95Ms, subscribers, cpuPercentPer100Subs.
 *
 * Env: SUBSCRIBERS (100), SECONDS (10), FPS (30), FRAME_BYTES (2500), WARMUP_SECONDS (2).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectMoq, Moq, onEveryFrame, testFrame, within } from '../core/moqClient';
import { TokenService } from '../../src/auth/tokens';

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

async function startRelayProcess(): Promise<{ url: string; pid: number; stop: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-moq-'));
  const config = path.join(dir, 'relay.yaml');
  fs.writeFileSync(config, `auth:\n  jwtSecret: ${SECRET}\nlogLevel: warn\nmoq:\n  relay:\n    port: 0\n    webtransport:\n      enabled: false\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../relay/main.ts'), '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await within(
    new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /WebSocket \(QMux\):\s+(http:\/\/[\d.:]+)\//.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    }),
    30_000,
    'relay start',
  );
  return {
    url,
    pid: child.pid!,
    stop: () => {
      child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const tokens = new TokenService(SECRET, 3600);
  const relay = await startRelayProcess();
  const target = { url: relay.url };
  const log = (s: string) => process.stdout.write(s + '\n');
  log(`relay ${relay.url} (pid ${relay.pid}); ${SUBSCRIBERS} subscribers, ${FPS} fps, ${FRAME_BYTES} B frames, ${SECONDS} s`);

  // Publisher: a group per second, frames stamped with their send time.
  const publisher = await connectMoq(target, tokens.issue({ room: 'bench', identity: 'pub', canPublish: true, canSubscribe: false }));
  const producer = new Moq.Broadcast.Producer();
  publisher.publish(Moq.Path.from('bench/cam'), producer);
  let timer: NodeJS.Timeout | undefined;
  void (async () => {
    for (;;) {
      const req = await producer.requested();
      if (!req) return;
      const track = req.accept();
      let group: Moq.Group.Producer | undefined;
      let n = 0;
      let seq = 0;
      timer = setInterval(() => {
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
    }
  })();

  // Subscribers.
  const subToken = tokens.issue({ room: 'bench', identity: 'viewer', canSubscribe: true });
  const samples: number[] = [];
  let measuring = false;
  let frames = 0;
  const conns: Moq.Connection.Established[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const conn = await connectMoq(target, subToken, { timeoutMs: 30_000 });
    conns.push(conn);
    const sub = conn.consume(Moq.Path.from('bench/cam')).track('video').subscribe({ priority: 60 });
    onEveryFrame(sub, (payload) => {
      if (!measuring) return;
      frames++;
      samples.push(performance.timeOrigin + performance.now() - testFrame(payload).sentAt);
    });
  }
  log(`${conns.length} subscribers connected; warming up ${WARMUP} s`);
  await new Promise((r) => setTimeout(r, WARMUP * 1000));

  measuring = true;
  const t0 = performance.now();
  const c0 = cpuTicks(relay.pid);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const c1 = cpuTicks(relay.pid);
  const wall = (performance.now() - t0) / 1000;
  measuring = false;

  const ticksPerSecond = 100; // USER_HZ on Linux
  const cpuPercent = ((c1 - c0) / ticksPerSecond / wall) * 100;
  samples.sort((a, b) => a - b);
  const result = {
    moqG2gP50Ms: Number(percentile(samples, 50).toFixed(1)),
    moqG2gP95Ms: Number(percentile(samples, 95).toFixed(1)),
    moqG2gP99Ms: Number(percentile(samples, 99).toFixed(1)),
    subscribers: SUBSCRIBERS,
    framesPerSecondDelivered: Number((frames / wall).toFixed(0)),
    expectedFramesPerSecond: SUBSCRIBERS * FPS,
    relayCpuPercent: Number(cpuPercent.toFixed(1)),
    cpuPercentPer100Subs: Number(((cpuPercent * 100) / SUBSCRIBERS).toFixed(1)),
    fps: FPS,
    frameBytes: FRAME_BYTES,
    seconds: SECONDS,
    transport: 'websocket (qmux) on loopback',
    cpus: os.cpus().length,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  log(`latency publish→receive through the relay: p50 ${result.moqG2gP50Ms} ms, p95 ${result.moqG2gP95Ms} ms, p99 ${result.moqG2gP99Ms} ms (${samples.length} frames)`);
  log(`fan-out: ${result.framesPerSecondDelivered} frames/s delivered of ${result.expectedFramesPerSecond} expected; relay CPU ${result.relayCpuPercent} % (${result.cpuPercentPer100Subs} % per 100 subscribers)`);
  clearInterval(timer);
  for (const c of conns) c.close();
  publisher.close();
  relay.stop();
  log(JSON.stringify(result));
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`bench:moq failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
