/**
 * The fan-out test rig: an in-process node, one published ~600 kbps H264 stream (a looped clip,
 * or the node's live synthetic source), and a variable number of consumers on SRTP-enabled
 * PlainTransports whose packets go to counting UDP sinks. With several workers the stream is
 * piped to a router on each (as a room spills) and consumers are spread round-robin.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { types } from 'mediasoup';
import { parseConfig } from '../../src/config/loadConfig';
import { SubsecNode } from '../../src/SubsecNode';
import { PlainRtpPublisher } from '../../src/ingest/PlainRtpPublisher';
import { roomMediaCodecs } from '../../src/sfu/mediaCodecs';
import { ClipFeed, ensureClip } from './ClipFeed';
import { UdpSinkPool, udpDrops } from './UdpSinkPool';

const ROOM = 'bench-fanout';
const FEED_IDENTITY = 'bench-feed';

/** SRTP suites mediasoup's PlainTransport offers, with their master key+salt lengths (bytes). */
export const SRTP_SUITES = {
  AEAD_AES_256_GCM: 44,
  AEAD_AES_128_GCM: 28,
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
} as const;
/** An SRTP crypto suite name. */
export type SrtpSuite = keyof typeof SRTP_SUITES;

/** Options of {@link FanoutRig.start}. */
export interface FanoutRigOptions {
  workers: number;
  /** Stream bitrate (kbps). */
  bitrateKbps: number;
  /** `clip`: ffmpeg copies a pre-encoded clip (cheap); `synthetic`: the node's live x264 source. */
  source: 'clip' | 'synthetic';
  /** SRTP suite of the consumers' transports; `none` sends plain RTP. */
  srtp: SrtpSuite | 'none';
  /** Most consumers the rig will ever hold. */
  capacity: number;
  sinkThreads: number;
}

interface RigConsumer {
  transport: types.PlainTransport;
  consumer: types.Consumer;
  ssrc: number;
}

/** What one measurement window saw. */
export interface WindowMeasurement {
  consumers: number;
  seconds: number;
  /**
   * Lost / expected packets over every consumer, in %. Every consumer is expected to receive what
   * the stream sent in the window (the most any consumer's sequence advanced): one that stopped,
   * started late or never started counts its missing packets as lost (100 % for a silent one).
   */
  lossPct: number;
  /** Worst single consumer's loss (%). */
  worstLossPct: number;
  /** Consumers with any loss above 1 %. */
  consumersOver1Pct: number;
  /** Consumers that had received nothing by the end of the window. */
  notStarted: number;
  /** Consumers whose first packet came inside the window (their missing packets count as lost). */
  lateStart: number;
  /** Consumers that did not keep receiving to the end of the window (fell more than 1 % + 5 packets behind the stream). */
  stopped: number;
  /** Mean received bitrate per started consumer (kbps). */
  meanKbps: number;
  /** CPU of each worker (% of one core). */
  workerCpuPct: number[];
  /**
   * Time each worker was runnable but waiting for a CPU (% of the window, from
   * /proc/<pid>/schedstat): high values mean neighbours starved the worker, not that it was full.
   */
  workerWaitPct: number[];
  /** CPU of this process (sinks, control; % of one core). */
  benchCpuPct: number;
  /** Kernel drops on the sink sockets (receiver side could not keep up). */
  sinkDrops: number;
  /** Kernel drops on the producer's socket (the worker could not keep up with its input). */
  ingressDrops: number;
  packetsExpected: number;
  /** Packets the sinks received in the window (all consumers). */
  packetsReceived: number;
  /**
   * Worker CPU per forwarded packet (µs): the cost figure that survives a busy box, since it
   * does not depend on how much CPU the worker was given.
   */
  workerUsPerPacket: number | null;
  /** Packets per second one consumer should get (from the sequence numbers). */
  ppsPerConsumer: number;
  loadavg1: number;
}

/** The rig. */
export class FanoutRig {
  readonly node: SubsecNode;
  readonly #o: FanoutRigOptions;
  readonly #sinks: UdpSinkPool;
  readonly #routers: types.Router[];
  readonly #producer: types.Producer;
  readonly #ingressPort: number;
  readonly #feed: ClipFeed | undefined;
  readonly #publisher: PlainRtpPublisher | undefined;
  readonly #consumers: RigConsumer[] = [];

  private constructor(
    node: SubsecNode,
    o: FanoutRigOptions,
    sinks: UdpSinkPool,
    routers: types.Router[],
    producer: types.Producer,
    ingressPort: number,
    feed: ClipFeed | undefined,
    publisher: PlainRtpPublisher | undefined,
  ) {
    this.node = node;
    this.#o = o;
    this.#sinks = sinks;
    this.#routers = routers;
    this.#producer = producer;
    this.#ingressPort = ingressPort;
    this.#feed = feed;
    this.#publisher = publisher;
  }

  /** Starts the node, the source and the sinks; resolves once the producer receives media. */
  static async start(o: FanoutRigOptions): Promise<FanoutRig> {
    const room = ROOM;
    const node = new SubsecNode(
      parseConfig({
        node: { id: 'bench-fanout' },
        http: { host: '127.0.0.1', port: 0, demo: false },
        sfu: { workers: o.workers, consumersPerRouter: 1_000_000 },
        synthetic: o.source === 'synthetic' ? { enabled: true, room, bitrateKbps: o.bitrateKbps } : { enabled: false },
        hls: { enabled: false },
        whip: { enabled: false },
        // WHEP only for --calibrate (real WebRTC viewers of the same stream).
        whep: { enabled: true, maxSessions: Math.max(10, o.capacity) },
        logLevel: 'warn',
      }),
    );
    let feed: ClipFeed | undefined;
    let publisher: PlainRtpPublisher | undefined;
    let sinks: UdpSinkPool | undefined;
    try {
      await node.start();
      const r = await node.rooms.getOrCreate(room);
      let producer: types.Producer;
      let ingressPort: number;
      if (o.source === 'clip') {
        const clip = await ensureClip({ bitrateKbps: o.bitrateKbps });
        publisher = new PlainRtpPublisher({ room: r, identity: FEED_IDENTITY, kind: 'internal', videoCodec: 'H264', audio: false, listenIp: '127.0.0.1' });
        const ep = await publisher.start();
        feed = ClipFeed.start(clip, ep.video);
        producer = publisher.producers[0]!;
        ingressPort = ep.video.port;
      } else {
        const entry = await waitFor(() => r.producersOf('synthetic').find((p) => p.kind === 'video'), 20_000, 'the synthetic video producer');
        producer = entry;
        ingressPort = 0;
      }
      await waitFor(
        async () => {
          const stats = (await producer.getStats()) as Array<{ byteCount?: number }>;
          return stats.some((s) => (s.byteCount ?? 0) > 0);
        },
        20_000,
        'media on the producer',
      );
      const routers = [r.slots[0]!.router];
      for (const slot of node.pool.workers) {
        if (slot.worker === (routers[0]!.appData.worker as types.Worker)) continue;
        const router = await node.pool.createRouter(slot, roomMediaCodecs);
        await routers[0]!.pipeToRouter({ producerId: producer.id, router });
        routers.push(router);
      }
      sinks = await UdpSinkPool.start({ capacity: o.capacity, threads: o.sinkThreads, socketsPerThread: 4 });
      return new FanoutRig(node, o, sinks, routers, producer, ingressPort, feed, publisher);
    } catch (err) {
      feed?.stop();
      await sinks?.close();
      await node.close();
      throw err;
    }
  }

  /** Consumers currently open. */
  get consumerCount(): number {
    return this.#consumers.length;
  }

  /** Consumers whose sink has received at least one packet. */
  get consumersStarted(): number {
    return this.#consumers.filter((c) => this.#sinks.read(c.ssrc)!.extMax >= 0).length;
  }

  /** The mediasoup workers (index = router index). */
  get workers(): types.Worker[] {
    return this.#routers.map((r) => r.appData.worker as types.Worker);
  }

  /** Opens or closes consumers until there are `n`. */
  async setConsumers(n: number): Promise<void> {
    while (this.#consumers.length > n) {
      const c = this.#consumers.pop()!;
      this.#sinks.unmap(c.ssrc);
      c.transport.close();
    }
    const missing = n - this.#consumers.length;
    const batch = 32;
    for (let done = 0; done < missing; done += batch) {
      const created = await Promise.all(
        Array.from({ length: Math.min(batch, missing - done) }, (_, i) => this.#addConsumer(this.#consumers.length + done + i)),
      );
      this.#consumers.push(...created);
    }
    await this.#sinks.sync();
  }

  async #addConsumer(index: number): Promise<RigConsumer> {
    const router = this.#routers[index % this.#routers.length]!;
    const suite = this.#o.srtp;
    const transport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: false,
      ...(suite !== 'none' ? { enableSrtp: true, srtpCryptoSuite: suite } : {}),
    });
    const sink = this.#sinks.nextPort();
    await transport.connect({
      ip: '127.0.0.1',
      port: sink.port,
      ...(suite !== 'none' ? { srtpParameters: { cryptoSuite: suite, keyBase64: crypto.randomBytes(SRTP_SUITES[suite]).toString('base64') } } : {}),
    });
    const consumer = await transport.consume({ producerId: this.#producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
    const ssrc = consumer.rtpParameters.encodings![0]!.ssrc!;
    this.#sinks.map(ssrc, sink.thread);
    await consumer.resume();
    return { transport, consumer, ssrc };
  }

  /** Room and stream (publisher identity) of the published stream, for WHEP viewers. */
  get stream(): { room: string; identity: string } {
    return { room: ROOM, identity: this.#o.source === 'clip' ? FEED_IDENTITY : 'synthetic' };
  }

  /** CPU of all workers together over `seconds` (% of one core). */
  async workerCpu(seconds: number): Promise<number> {
    const cpu0 = await Promise.all(this.workers.map((w) => w.getResourceUsage()));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = await Promise.all(this.workers.map((w) => w.getResourceUsage()));
    const elapsed = (performance.now() - t0) / 1000;
    return cpu1.reduce((sum, u, i) => sum + (100 * (u.ru_utime + u.ru_stime - cpu0[i]!.ru_utime - cpu0[i]!.ru_stime)) / 1000 / elapsed, 0);
  }

  /** Measures loss, bitrate and CPU over a window of `seconds`. */
  async measure(seconds: number, signal?: AbortSignal): Promise<WindowMeasurement> {
    const before = this.#consumers.map((c) => this.#sinks.read(c.ssrc)!);
    const cpu0 = await Promise.all(this.workers.map((w) => w.getResourceUsage()));
    const wait0 = this.workers.map((w) => runqueueWaitNs(w.pid));
    const self0 = process.cpuUsage();
    const sink0 = this.#sinks.kernelDrops();
    const ingress0 = this.#ingressPort ? udpDrops(new Set([this.#ingressPort])) : 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, seconds * 1000);
      signal?.addEventListener('abort', done, { once: true });
    });
    const after = this.#consumers.map((c) => this.#sinks.read(c.ssrc)!);
    const cpu1 = await Promise.all(this.workers.map((w) => w.getResourceUsage()));
    const wait1 = this.workers.map((w) => runqueueWaitNs(w.pid));
    const elapsed = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(self0);
    const cpuUs = cpu1.reduce((sum, u, i) => sum + (u.ru_utime + u.ru_stime - cpu0[i]!.ru_utime - cpu0[i]!.ru_stime) * 1000, 0);
    // What the stream sent in the window: the most any consumer's sequence advanced (each consumer
    // numbers the same packets in its own sequence space).
    const streamPackets = Math.max(0, ...after.map((b, i) => (b.extMax >= 0 && before[i]!.extMax >= 0 ? b.extMax - before[i]!.extMax : 0)));
    const behindLimit = 0.01 * streamPackets + 5;
    let expected = 0;
    let lost = 0;
    let bytes = 0;
    let started = 0;
    let notStarted = 0;
    let lateStart = 0;
    let stopped = 0;
    let worst = 0;
    let over1 = 0;
    let receivedAll = 0;
    for (let i = 0; i < after.length; i++) {
      const a = before[i]!;
      const b = after[i]!;
      const r = b.received - a.received;
      receivedAll += r;
      if (b.extMax < 0) notStarted++;
      else if (a.extMax < 0) lateStart++;
      else {
        started++;
        bytes += b.bytes - a.bytes;
        // Sequence advance short of the stream's: it stopped (or stalled) before the window ended.
        if (streamPackets - (b.extMax - a.extMax) > behindLimit) stopped++;
      }
      const l = Math.max(0, streamPackets - r);
      expected += streamPackets;
      lost += l;
      const pct = streamPackets > 0 ? (100 * l) / streamPackets : 100;
      worst = Math.max(worst, pct);
      if (pct > 1) over1++;
    }
    return {
      consumers: after.length,
      seconds: elapsed,
      lossPct: expected > 0 ? (100 * lost) / expected : after.length > 0 ? 100 : 0,
      worstLossPct: worst,
      consumersOver1Pct: over1,
      notStarted,
      lateStart,
      stopped,
      meanKbps: started > 0 ? (bytes * 8) / 1000 / elapsed / started : 0,
      workerCpuPct: cpu1.map((u, i) => (100 * (u.ru_utime + u.ru_stime - cpu0[i]!.ru_utime - cpu0[i]!.ru_stime)) / 1000 / elapsed),
      workerWaitPct: wait1.map((w, i) => (w === null || wait0[i] === null ? 0 : (100 * (w - wait0[i]!)) / 1e9 / elapsed)),
      benchCpuPct: (100 * (self.user + self.system)) / 1e6 / elapsed,
      sinkDrops: this.#sinks.kernelDrops() - sink0,
      ingressDrops: this.#ingressPort ? udpDrops(new Set([this.#ingressPort])) - ingress0 : 0,
      packetsExpected: expected,
      packetsReceived: receivedAll,
      workerUsPerPacket: receivedAll > 0 ? (cpuUs * 1) / receivedAll : null,
      ppsPerConsumer: streamPackets / elapsed,
      loadavg1: os.loadavg()[0]!,
    };
  }

  /** True while the source is alive. */
  get sourceRunning(): boolean {
    return this.#feed ? this.#feed.running : true;
  }

  /** Stops everything. */
  async close(): Promise<void> {
    this.#feed?.stop();
    this.#publisher?.close();
    for (const c of this.#consumers) c.transport.close();
    this.#consumers.length = 0;
    await this.#sinks.close();
    await this.node.close();
  }
}

/** Nanoseconds `pid` has spent runnable but waiting for a CPU (null where schedstat is missing). */
function runqueueWaitNs(pid: number): number | null {
  try {
    const [, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/);
    return Number(wait);
  } catch {
    return null;
  }
}

async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
