/**
 * `npm run bench:cascade`: figures of the multi-node cascade on loopback, with a real
 * redis-server and real node processes.
 *
 * - Added latency per hop: nodes A (origin, r1) → B (r2) → C (r2) in this process; a counting
 *   receiver on each node consumes the same video producer; for every RTP timestamp (one per
 *   frame) the first packet's arrival time on B minus on A is the hop A→B, C minus B the hop B→C.
 * - Pipe set-up for the first viewer on a remote node: a viewer joins B, time to its first RTP
 *   packet (the pull's own figure, request to producers in place, is printed too); repeated.
 * - Failover: the origin runs as a node process; SIGKILL, then the publisher republishes on B at
 *   once (as the SDK does when its socket drops); time from the kill to the first video packet of
 *   the new producers at a viewer on C. Also: time until C's viewers were told `originLost` when
 *   nobody republishes (detection).
 *
 * Options: --seconds <latency sampling, default 10> --setups <default 5> --failovers <default 3>
 * Last line: {"hopAddedMsP50", "hopAddedMsP95", "pipeSetupMsP50", "failoverMsP50", "failoverMsMax", "detectMsP50", ...}
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import type { types } from 'mediasoup';
import { parseConfig } from '../../src/config/loadConfig';
import type { ConfigInput } from '../../src/config/schema';
import { SubsecNode } from '../../src/SubsecNode';
import { SyntheticSource } from '../../src/synthetic/SyntheticSource';
import { createLogger } from '../../src/core/logger';
import { startRedis, type TestRedis } from '../core/redisServer';
import { spawnNode } from '../core/nodeProcess';
import { TestViewer } from '../core/cascadeViewer';
import { waitFor } from '../core/waitFor';

const SOURCE = { width: 640, height: 360, fps: 30, bitrateKbps: 600 };

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const round = (n: number) => Math.round(n * 10) / 10;

function nodeConfig(id: string, region: string, redis: TestRedis, extra: ConfigInput = {}): ConfigInput {
  return {
    node: { id, region },
    http: { host: '127.0.0.1', port: 0, demo: false },
    sfu: { workers: 1 },
    synthetic: { enabled: false },
    redis: { url: redis.url, keyPrefix: 'bench:' },
    cascade: { coordinator: 'redis', lingerMs: 0, reconcileMs: 1000 },
    logLevel: 'warn',
    ...extra,
  };
}

async function inProcess(config: ConfigInput): Promise<SubsecNode> {
  const node = new SubsecNode(parseConfig(config));
  await node.start();
  return node;
}

/** Records, per RTP timestamp, when its first packet arrived (hrtime ms). */
async function timestampProbe(node: SubsecNode, room: string, producerId: string): Promise<{ arrivals: Map<number, number>; close(): void }> {
  const r = node.rooms.get(room)!;
  const router = r.slots[0]!.router;
  await r.ensureOnRouter(producerId, r.slots[0]!);
  const socket = dgram.createSocket('udp4');
  const arrivals = new Map<number, number>();
  socket.on('message', (msg) => {
    if (msg.length < 12 || msg[0]! >> 6 !== 2 || (msg[1]! >= 200 && msg[1]! <= 204)) return;
    const ts = msg.readUInt32BE(4);
    if (!arrivals.has(ts)) arrivals.set(ts, Number(process.hrtime.bigint()) / 1e6);
  });
  await new Promise<void>((res) => socket.bind(0, '127.0.0.1', res));
  const transport: types.PlainTransport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: false });
  return { arrivals, close: () => (transport.close(), socket.close()) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, setups: { type: 'string', default: '5' }, failovers: { type: 'string', default: '3' } } });
  const seconds = Number(values.seconds);
  const redis = await startRedis();
  const log = createLogger('bench');
  const nodes: SubsecNode[] = [];
  try {
    const a = await inProcess(nodeConfig('a', 'r1', redis, { synthetic: { enabled: true, room: 'hop', ...SOURCE } }));
    const b = await inProcess(nodeConfig('b', 'r2', redis));
    const c = await inProcess(nodeConfig('c', 'r2', redis));
    nodes.push(a, b, c);
    await waitFor(async () => (await b.cascade.coordinator.streams('hop')).length === 1 && b.cascade.coordinator.liveNodes().length === 3, { what: 'cascade ready', timeoutMs: 15_000 });

    // 1. Added latency per hop.
    const vb = await TestViewer.join(await b.rooms.getOrCreate('hop'));
    await waitFor(() => vb.packets() > 0, { what: 'B pulls', timeoutMs: 10_000 });
    const vc = await TestViewer.join(await c.rooms.getOrCreate('hop'));
    await waitFor(() => vc.packets() > 0, { what: 'C pulls', timeoutMs: 10_000 });
    const video = a.rooms.get('hop')!.producersOf('synthetic').find((p) => p.kind === 'video')!;
    const probes = await Promise.all([a, b, c].map((n) => timestampProbe(n, 'hop', video.id)));
    process.stderr.write(`sampling hop latency for ${seconds} s (chain ${c.cascade.manager.pulls().map((p) => `${p.origin}→${p.parent}→c`).join(',')})\n`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const hopAB: number[] = [];
    const hopBC: number[] = [];
    for (const [ts, atA] of probes[0]!.arrivals) {
      const atB = probes[1]!.arrivals.get(ts);
      const atC = probes[2]!.arrivals.get(ts);
      if (atB !== undefined) hopAB.push(atB - atA);
      if (atB !== undefined && atC !== undefined) hopBC.push(atC - atB);
    }
    for (const p of probes) p.close();
    const hops = [...hopAB, ...hopBC];
    process.stderr.write(`hop A→B p50 ${round(percentile(hopAB, 50))} ms p95 ${round(percentile(hopAB, 95))} ms (${hopAB.length} frames); B→C p50 ${round(percentile(hopBC, 50))} ms p95 ${round(percentile(hopBC, 95))} ms\n`);
    await vc.leave();
    await vb.leave();

    // 2. Pipe set-up for the first viewer on a remote node.
    const setups: number[] = [];
    const pullSetups: number[] = [];
    for (let i = 0; i < Number(values.setups); i++) {
      await waitFor(() => b.cascade.manager.pulls().length === 0 && a.cascade.manager.server.size === 0, { what: 'pipes down', timeoutMs: 10_000 });
      const t0 = Date.now();
      const v = await TestViewer.join(await b.rooms.getOrCreate('hop'));
      const first = await waitFor(() => v.firstPacketSince(t0), { what: 'first RTP', timeoutMs: 10_000 });
      setups.push(first - t0);
      pullSetups.push(b.cascade.manager.pulls()[0]?.setupMs ?? NaN);
      await v.leave();
    }
    process.stderr.write(`pipe set-up (join → first RTP) ${setups.join(', ')} ms; pull request → producers ${pullSetups.join(', ')} ms\n`);

    // 3. Failover with a killed origin process.
    const failovers: number[] = [];
    const detects: number[] = [];
    for (let i = 0; i < Number(values.failovers); i++) {
      for (const republish of [true, false]) {
        const room = `failover-${i}-${republish ? 'r' : 'd'}`;
        const origin = await spawnNode({ ...nodeConfig(`origin-${i}-${republish ? 'r' : 'd'}`, 'r1', redis), synthetic: { enabled: true, room, ...SOURCE } });
        const vb2 = await TestViewer.join(await b.rooms.getOrCreate(room));
        await waitFor(() => vb2.packets() > 30, { what: 'B viewer', timeoutMs: 15_000 });
        const vc2 = await TestViewer.join(await c.rooms.getOrCreate(room));
        await waitFor(() => vc2.packets() > 30, { what: 'C viewer', timeoutMs: 15_000 });
        const killedAt = Date.now();
        origin.kill('SIGKILL');
        let publisher: SyntheticSource | undefined;
        if (republish) {
          publisher = new SyntheticSource({ room, identity: 'synthetic', listenIp: '127.0.0.1', ...SOURCE }, b.rooms, log);
          await publisher.start();
          const at = await waitFor(() => vc2.firstPacketSince(killedAt, 'video'), { what: 'video after failover', timeoutMs: 15_000 });
          failovers.push(at - killedAt);
        } else {
          const n = await waitFor(() => vc2.notification('originLost', killedAt), { what: 'originLost', timeoutMs: 10_000 });
          detects.push(n.at - killedAt);
        }
        await origin.exited;
        publisher?.close();
        await vc2.leave();
        await vb2.leave();
      }
    }
    process.stderr.write(`failover (kill → video at C, republished at once on B) ${failovers.join(', ')} ms; detection (kill → originLost at C) ${detects.join(', ')} ms\n`);
    const result = {
      hopAddedMsP50: round(percentile(hops, 50)),
      hopAddedMsP95: round(percentile(hops, 95)),
      hopAddedMsP50AB: round(percentile(hopAB, 50)),
      hopAddedMsP50BC: round(percentile(hopBC, 50)),
      pipeSetupMsP50: percentile(setups, 50),
      pullSetupMsP50: percentile(pullSetups, 50),
      failoverMsP50: percentile(failovers, 50),
      failoverMsMax: Math.max(...failovers),
      detectMsP50: percentile(detects, 50),
      detectMsMax: Math.max(...detects),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:cascade failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
