/**
 * `npm run bench:events`: room-event fan-out on one node (a separate process, loopback).
 *
 * 1. Fan-out latency: `--subscribers` WebSockets (spread over `--threads` worker threads) join one
 *    room and `subscribeEvents`; senders send `--events` events at `--rate` per second; every
 *    (subscriber, event) pair is a sample of arrival time minus the event's serverTime (stamped by
 *    the node when it accepts the event, read from the sender's acknowledgement; node and bench
 *    share the machine's clock).
 * 2. Sustained rate: open-loop steps of `--step-seconds` at rising rates (from `--start-rate`,
 *    doubling, then two bisections); a step holds when every event was acknowledged, every
 *    subscriber received every event within the step plus 5 s, the step's delivery p99 stayed
 *    under 1 s, and no socket was lost. The figure is the highest rate that held, every
 *    subscriber attached.
 *
 * Options: --url <node> --admin-key <key> (default: start a node) --store memory|redis (the started
 *          node's event store; redis starts a redis-server on a free port) --subscribers 1000 --threads 2
 *          --events 300 --rate 20 --start-rate 50 --max-rate 6400 --step-seconds 4 --payload-bytes 120
 * Last line: {"eventFanoutP50Ms", "eventFanoutP99Ms", "subscribers", "eventsPerSec", ...}
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { LatencyHistogram } from '../core/LatencyHistogram';
import { LocalNode } from '../core/LocalNode';
import { startEventsRedis, type EventsRedis } from '../core/redisForEvents';
import { BenchChecks, reportBench } from '../core/benchOutcome';

const ROOM = 'bench-events';

interface WorkerState {
  lastSeqMin: number;
  received: number;
  lost: number;
}

/** A worker thread holding a share of the subscribers. */
class SubscriberThread {
  readonly #worker: Worker;
  constructor() {
    this.#worker = new Worker(new URL('./subscriberWorker.mjs', import.meta.url));
  }
  #ask<T>(message: Record<string, unknown>, reply: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== reply) return;
        this.#worker.off('message', onMessage);
        this.#worker.off('error', reject);
        resolve(m as T);
      };
      this.#worker.on('message', onMessage);
      this.#worker.once('error', reject);
      this.#worker.postMessage(message);
    });
  }
  open(url: string, token: string, count: number): Promise<{ count: number }> {
    return this.#ask({ type: 'open', url, token, count }, 'opened');
  }
  state(): Promise<WorkerState> {
    return this.#ask({ type: 'state' }, 'state');
  }
  collect(): Promise<WorkerState & { seqs: Float64Array; times: Float64Array }> {
    return this.#ask({ type: 'collect' }, 'arrivals');
  }
  async close(): Promise<void> {
    await this.#ask({ type: 'close' }, 'closed').catch(() => undefined);
    await this.#worker.terminate();
  }
}

/** A socket that joined ROOM and sends events, open loop; acks carry each event's serverTime. */
class Sender {
  acked = 0;
  failed = 0;
  lastError = '';
  #next = 10;
  readonly #ws: WebSocket;
  constructor(ws: WebSocket, serverTimes: Map<number, number>) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString()) as {
        id?: number;
        ok?: boolean;
        data?: { event: { seq: number; serverTime: number } };
        error?: { code: string };
      };
      if (reply.id === undefined || reply.id === 1) return;
      if (reply.ok && reply.data) {
        this.acked++;
        serverTimes.set(reply.data.event.seq, reply.data.event.serverTime);
      } else {
        this.failed++;
        this.lastError = reply.error?.code ?? 'unknown';
      }
    });
  }
  static open(url: string, token: string, serverTimes: Map<number, number>): Promise<Sender> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', { perMessageDeflate: false });
      ws.once('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'join', params: { protocol: 1, token } })));
      ws.once('message', (data: Buffer) => {
        if (!data.toString().includes('"ok":true')) return reject(new Error(`sender join failed: ${data.toString().slice(0, 200)}`));
        resolve(new Sender(ws, serverTimes));
      });
    });
  }
  send(payload: string): void {
    this.#ws.send(`{"id":${this.#next++},"method":"sendEvent","params":{"type":"bench","payload":${payload}}}`);
  }
  close(): void {
    this.#ws.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'admin-key': { type: 'string', default: 'subsec-dev-admin-key' },
      subscribers: { type: 'string', default: '1000' },
      threads: { type: 'string', default: '2' },
      events: { type: 'string', default: '300' },
      rate: { type: 'string', default: '20' },
      'start-rate': { type: 'string', default: '50' },
      'max-rate': { type: 'string', default: '6400' },
      'step-seconds': { type: 'string', default: '4' },
      'payload-bytes': { type: 'string', default: '120' },
      store: { type: 'string', default: 'memory' },
    },
  });
  if (values.store !== 'memory' && values.store !== 'redis') throw new Error('--store: memory or redis');
  const subscribers = Number(values.subscribers);
  const payload = JSON.stringify({ text: 'x'.repeat(Math.max(0, Number(values['payload-bytes']) - 11)) });
  const log = (m: string) => process.stderr.write(`bench:events: ${m}\n`);
  let node: LocalNode | undefined;
  let redis: EventsRedis | undefined;
  let url = values.url;
  let adminKey = values['admin-key']!;
  if (!url) {
    if (values.store === 'redis') redis = await startEventsRedis();
    node = await LocalNode.start({
      config: {
        ...(redis ? { redis: { url: redis.url } } : {}),
        events: { store: values.store, rateLimit: { perSecond: 10_000, burst: 100_000 }, retention: { maxEvents: 100_000 } },
        signaling: { maxRequestsPerSecond: 100_000 },
        hls: { enabled: false },
      },
    });
    url = node.url;
    adminKey = node.adminKey;
  }
  const threads = Array.from({ length: Math.max(1, Number(values.threads)) }, () => new SubscriberThread());
  const senders: Sender[] = [];
  try {
    const issue = async (identity: string, canPublishData: boolean): Promise<string> => {
      const res = await fetch(`${url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room: ROOM, identity, canSubscribe: true, canPublishData }),
      });
      if (!res.ok) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    };
    log(`opening ${subscribers} subscribers on ${threads.length} threads (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)…`);
    const subToken = await issue('subscriber', false);
    const shares = threads.map((_, i) => Math.floor(subscribers / threads.length) + (i < subscribers % threads.length ? 1 : 0));
    const opened = await Promise.all(threads.map((t, i) => t.open(url!, subToken, shares[i]!)));
    const total = opened.reduce((n, o) => n + o.count, 0);
    const serverTimes = new Map<number, number>();
    for (let i = 0; i < 4; i++) senders.push(await Sender.open(url, await issue(`sender-${i}`, true), serverTimes));
    const ackedAll = () => senders.reduce((n, s) => n + s.acked + s.failed, 0);
    const states = () => Promise.all(threads.map((t) => t.state()));
    const collect = async (): Promise<{ hist: LatencyHistogram; lost: number }> => {
      const hist = new LatencyHistogram();
      let lost = 0;
      for (const r of await Promise.all(threads.map((t) => t.collect()))) {
        lost += r.lost;
        for (let i = 0; i < r.seqs.length; i++) {
          const t = serverTimes.get(r.seqs[i]!);
          if (t !== undefined) hist.record(r.times[i]! - t);
        }
      }
      return { hist, lost };
    };
    /** Waits until every sent event is acked and every subscriber got the last one, or the deadline. */
    const drain = async (sentTotal: number, lastSeq: () => number, ms: number): Promise<boolean> => {
      const until = Date.now() + ms;
      for (;;) {
        const done = ackedAll() >= sentTotal && (await states()).every((s) => s.lastSeqMin >= lastSeq());
        if (done) return true;
        if (Date.now() > until) return false;
        await sleep(25);
      }
    };
    let sentTotal = 0;
    const maxSeq = () => Math.max(0, ...serverTimes.keys());
    await collect();

    // 1. Latency at a moderate rate.
    const events = Number(values.events);
    const rate = Number(values.rate);
    log(`latency: ${events} events at ${rate}/s to ${total} subscribers…`);
    const started = performance.now();
    for (let i = 0; i < events; i++) {
      senders[i % senders.length]!.send(payload);
      sentTotal++;
      const due = started + ((i + 1) * 1000) / rate;
      await sleep(Math.max(0, due - performance.now()));
    }
    const complete = await drain(sentTotal, maxSeq, 10_000);
    const { hist: latencyHist, lost: lostAfterLatency } = await collect();
    const latency = { p50: latencyHist.percentile(50), p99: latencyHist.percentile(99), max: latencyHist.percentile(100), samples: latencyHist.count };
    const failedLatency = senders.reduce((n, s) => n + s.failed, 0);
    const behind = (await states()).map((st) => st.lastSeqMin);
    log(
      `fan-out latency p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms, max ${latency.max.toFixed(1)} ms over ${latency.samples} deliveries${complete ? '' : ` (INCOMPLETE: acked ${ackedAll()}/${sentTotal}, failed ${failedLatency}${failedLatency ? ` ${senders.find((x) => x.lastError)?.lastError}` : ''}, slowest subscriber at seq ${Math.min(...behind)} of ${maxSeq()})`}; sockets lost ${lostAfterLatency}`,
    );

    // 2. Sustained rate, open loop, rising.
    const stepMs = Number(values['step-seconds']) * 1000;
    let lostSoFar = lostAfterLatency;
    const runStep = async (target: number): Promise<{ ok: boolean; p99: number }> => {
      const failedBefore = senders.reduce((n, s) => n + s.failed, 0);
      const start = performance.now();
      let sent = 0;
      while (performance.now() - start < stepMs) {
        const due = Math.floor(((performance.now() - start) / 1000) * target);
        for (; sent < due; sent++) senders[sent % senders.length]!.send(payload);
        await sleep(2);
      }
      sentTotal += sent;
      const delivered = await drain(sentTotal, maxSeq, 5000);
      const { hist, lost } = await collect();
      lostSoFar += lost;
      const failed = senders.reduce((n, s) => n + s.failed, 0) - failedBefore;
      const p99 = hist.percentile(99);
      const ok = delivered && failed === 0 && p99 < 1000 && lost === 0;
      log(
        `rate ${target}/s: sent ${sent}, failed ${failed}${failed ? ` (${senders.find((s) => s.lastError)?.lastError})` : ''}, all delivered ${delivered}, p99 ${p99.toFixed(0)} ms, sockets lost ${lost} → ${ok ? 'held' : 'did not hold'}`,
      );
      if (!delivered) await drain(sentTotal, maxSeq, 15_000);
      await collect();
      return { ok, p99 };
    };
    let best = 0;
    let bestP99 = NaN;
    let low = 0;
    let high = Number(values['max-rate']);
    for (let r = Number(values['start-rate']); r <= high; r *= 2) {
      const step = await runStep(r);
      if (!step.ok) {
        high = r;
        break;
      }
      best = r;
      bestP99 = step.p99;
      low = r;
    }
    for (let i = 0; i < 2 && best > 0 && high - low > low * 0.1; i++) {
      const mid = Math.round((low + high) / 2);
      const step = await runStep(mid);
      if (step.ok) {
        best = mid;
        bestP99 = step.p99;
        low = mid;
      } else high = mid;
    }
    const summary = {
      bench: 'events',
      path: `signaling WebSocket fan-out, one room, ${values.url ? 'given node' : `${values.store} store`}, loopback, node in its own process`,
      subscribers: total,
      latencyEvents: events,
      latencyRatePerSec: rate,
      eventFanoutP50Ms: Math.round(latency.p50 * 10) / 10,
      eventFanoutP99Ms: Math.round(latency.p99 * 10) / 10,
      eventFanoutMaxMs: Math.round(latency.max * 10) / 10,
      deliveriesComplete: complete,
      eventsPerSec: best,
      sustainedP99Ms: Number.isFinite(bestP99) ? Math.round(bestP99) : null,
      deliveriesPerSec: best * total,
      socketsLost: lostSoFar,
      payloadBytes: payload.length,
      cores: os.cpus().length,
      loadAverage1m: Math.round(os.loadavg()[0]! * 10) / 10,
    };
    const checks = new BenchChecks()
      .figures(summary, ['eventFanoutP50Ms', 'eventFanoutP99Ms', 'sustainedP99Ms'])
      .expect(complete, 'the latency phase did not deliver every event to every subscriber (deliveriesComplete: false)')
      .expect(best > 0, 'no send rate held (eventsPerSec 0)')
      .expect(failedLatency === 0, `${failedLatency} sends failed during the latency phase`)
      .expect(lostAfterLatency === 0, `${lostAfterLatency} subscriber sockets were lost during the latency phase`);
    reportBench(summary, checks, (l) => console.log(l));
  } finally {
    for (const s of senders) s.close();
    await Promise.all(threads.map((t) => t.close()));
    await node?.close();
    await redis?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
