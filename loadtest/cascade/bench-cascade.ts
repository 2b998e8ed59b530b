/**
 * `npm run bench:cascade`: figures of the multi-node cascade on loopback, with a real
 * redis-server and real node processes.
 *
 * - Added latency per hop: nodes A (origin, r1) → B (r2) → C (r2) in this process; a counting
 *   receiver on each node consumes the same video producer; for every RTP timestamp (one per
 *   frame) the first packet's arrival time on B minus on A is the hop A→B, C minus B the hop B→C.
 * - Pipe set-up for the first viewer on a remote node: a viewer joins B, time to its first RTP
 *   packet (the pull's own figure, request to producers in place, is printed too); repeated.
 * - Failover, in-process republish: the origin runs as a node process; SIGKILL, then a publisher
 *   in this process republishes on B at once (as the SDK does when its socket drops); time from
 *   the kill to the first video packet of the new producers at a viewer on C. Also: time until
 *   C's viewers were told `originLost` when nobody republishes (detection).
 * - Failover as a viewer sees it: a Chromium page publishes a painted clock through the SDK to
 *   the origin process (with B as its fallback node); a Chromium viewer on C watches it with
 *   `client.watch()` and reads the painted time from every presented frame. SIGKILL the origin:
 *   the publisher's SDK reconnects to B and republishes on its own, C's viewer re-binds, and the
 *   figure is the time from the kill to the first presented frame painted after it.
 *
 * Options: --seconds <latency sampling, default 10> --setups <default 5> --failovers <default 3>
 *          --client-failovers <default 2; 0 skips the Chromium phase>
 * Last line: {"hopAddedMsP50", "hopAddedMsP95", "pipeSetupMsP50", "failoverMsP50", "failoverMsMax",
 * "detectMsP50", "clientFailoverMsP50", "clientFailoverMsMax", ...}. Exits non-zero when a phase
 * got no samples.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { launchBrowser, type TestBrowser } from '../core/browser';
import { ensureSdkBuilt } from '../core/sdkBundle';
import { BenchChecks, benchExitCode, reportBench } from '../core/benchOutcome';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLOCK_CODE = fs.readFileSync(path.join(here, '../latency/clock-code.js'), 'utf8');
const FAILOVER_PAGE = fs.readFileSync(path.join(here, 'failover-page.js'), 'utf8');
/** The painted clock: 48 bits of Date.now() as 32 px blocks, complement below (clock-code.js). */
const CODE = { width: 640, height: 360, block: 32, bits: 48, perRow: 16 };

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
    // The SDK bundle is served (demo) for the Chromium failover phase.
    http: { host: '127.0.0.1', port: 0, demo: true },
    sfu: { workers: 1 },
    synthetic: { enabled: false },
    redis: { url: redis.url, keyPrefix: 'bench:' },
    cascade: { coordinator: 'redis', lingerMs: 0, reconcileMs: 1000, redirect: 'never' },
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
  const transport: types.PlainTransport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: false,
  });
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: false });
  return { arrivals, close: () => (transport.close(), socket.close()) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      setups: { type: 'string', default: '5' },
      failovers: { type: 'string', default: '3' },
      'client-failovers': { type: 'string', default: '2' },
    },
  });
  const seconds = Number(values.seconds);
  const redis = await startRedis();
  const log = createLogger('bench');
  const nodes: SubsecNode[] = [];
  let browser: TestBrowser | undefined;
  try {
    const a = await inProcess(nodeConfig('a', 'r1', redis, { synthetic: { enabled: true, room: 'hop', ...SOURCE } }));
    const b = await inProcess(nodeConfig('b', 'r2', redis));
    const c = await inProcess(nodeConfig('c', 'r2', redis));
    nodes.push(a, b, c);
    await waitFor(async () => (await b.cascade.coordinator.streams('hop')).length === 1 && b.cascade.coordinator.liveNodes().length === 3, {
      what: 'cascade ready',
      timeoutMs: 15_000,
    });

    // 1. Added latency per hop.
    const vb = await TestViewer.join(await b.rooms.getOrCreate('hop'));
    await waitFor(() => vb.packets() > 0, { what: 'B pulls', timeoutMs: 10_000 });
    const vc = await TestViewer.join(await c.rooms.getOrCreate('hop'));
    await waitFor(() => vc.packets() > 0, { what: 'C pulls', timeoutMs: 10_000 });
    const video = a.rooms
      .get('hop')!
      .producersOf('synthetic')
      .find((p) => p.kind === 'video')!;
    const probes = await Promise.all([a, b, c].map((n) => timestampProbe(n, 'hop', video.id)));
    process.stderr.write(
      `sampling hop latency for ${seconds} s (chain ${c.cascade.manager
        .pulls()
        .map((p) => `${p.origin}→${p.parent}→c`)
        .join(',')})\n`,
    );
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
    process.stderr.write(
      `hop A→B p50 ${round(percentile(hopAB, 50))} ms p95 ${round(percentile(hopAB, 95))} ms (${hopAB.length} frames); B→C p50 ${round(percentile(hopBC, 50))} ms p95 ${round(percentile(hopBC, 95))} ms\n`,
    );
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
    process.stderr.write(
      `failover (kill → video at C, republished at once on B) ${failovers.join(', ')} ms; detection (kill → originLost at C) ${detects.join(', ')} ms\n`,
    );

    // 4. Failover as a viewer sees it: Chromium pages, the SDK's own reconnect, the viewer's pixels.
    const clientFailovers: number[] = [];
    const clientGaps: number[] = [];
    const publisherReconnects: number[] = [];
    const clientRounds = Number(values['client-failovers']);
    if (clientRounds > 0) {
      await ensureSdkBuilt();
      browser = await launchBrowser();
      for (let i = 0; i < clientRounds; i++) {
        const room = `client-failover-${i}`;
        const origin = await spawnNode({ ...nodeConfig(`client-origin-${i}`, 'r1', redis), drainTimeoutMs: 0 });
        const token = (identity: string, canPublish: boolean) => c.tokens.issue({ room, identity, canPublish, canSubscribe: true });
        const reconnect = { initialDelayMs: 200, maxDelayMs: 2_000 };
        const publisherPage = await browser.browser.newPage();
        await publisherPage.goto(`${origin.url}/healthz`);
        await publisherPage.addScriptTag({ content: CLOCK_CODE });
        await publisherPage.addScriptTag({ content: FAILOVER_PAGE });
        await publisherPage.evaluate(
          `window.subsecFailoverBench.publishClock(${JSON.stringify({ url: origin.url, token: token('publisher', true), code: CODE, options: { nodes: [b.url], reconnect } })})`,
        );
        const viewerPage = await browser.browser.newPage();
        await viewerPage.goto(`${c.url}/healthz`);
        await viewerPage.addScriptTag({ content: CLOCK_CODE });
        await viewerPage.addScriptTag({ content: FAILOVER_PAGE });
        await viewerPage.evaluate(
          `window.subsecFailoverBench.watchClock(${JSON.stringify({ url: c.url, token: token('viewer', false), identity: 'publisher', code: CODE, options: { reconnect } })})`,
        );
        const liveSince = Date.now();
        await waitFor(async () => ((await viewerPage.evaluate(`window.subsecFailoverBench.framesPaintedSince(${liveSince})`)) as number) > 30, {
          what: 'the painted clock at the viewer on C',
          timeoutMs: 20_000,
        });
        const killedAt = Date.now();
        origin.kill('SIGKILL');
        await origin.exited;
        const seen = await waitFor(
          async () => {
            const f = (await viewerPage.evaluate(`window.subsecFailoverBench.failoverSeen(${killedAt})`)) as {
              lastOldAt: number | null;
              firstNewAt: number | null;
              framesAfter: number;
            };
            return f.framesAfter >= 10 ? f : undefined;
          },
          { what: 'frames painted after the kill at the viewer on C', timeoutMs: 30_000, intervalMs: 100 },
        );
        const events = (await publisherPage.evaluate('window.failoverBench.events')) as Array<{ name: string; at: number }>;
        const reconnected = events.find((e) => e.name === 'reconnected' && e.at >= killedAt);
        clientFailovers.push(seen.firstNewAt! - killedAt);
        if (seen.lastOldAt !== null) clientGaps.push(seen.firstNewAt! - seen.lastOldAt);
        if (reconnected) publisherReconnects.push(reconnected.at - killedAt);
        await publisherPage.close();
        await viewerPage.close();
      }
      process.stderr.write(
        `client-observed failover (kill → first frame painted after the kill, presented at the SDK viewer on C) ${clientFailovers.join(', ')} ms; ` +
          `frozen picture ${clientGaps.join(', ')} ms; publisher SDK reconnected after ${publisherReconnects.join(', ')} ms\n`,
      );
    }
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
      clientFailoverMsP50: clientRounds > 0 ? percentile(clientFailovers, 50) : null,
      clientFailoverMsMax: clientRounds > 0 ? Math.max(...clientFailovers) : null,
      clientFrozenPictureMsP50: clientRounds > 0 ? percentile(clientGaps, 50) : null,
      clientPublisherReconnectMsP50: clientRounds > 0 ? percentile(publisherReconnects, 50) : null,
    };
    const checks = new BenchChecks()
      .figures(result, ['hopAddedMsP50', 'hopAddedMsP95', 'pipeSetupMsP50', 'pullSetupMsP50', 'failoverMsP50', 'detectMsP50'])
      .expect(hopAB.length > 0 && hopBC.length > 0, `hop samples: A→B ${hopAB.length}, B→C ${hopBC.length}`)
      .expect(setups.length === Number(values.setups), `pipe set-ups measured ${setups.length} of ${values.setups}`);
    if (clientRounds > 0) {
      checks
        .figures(result, ['clientFailoverMsP50', 'clientFailoverMsMax', 'clientFrozenPictureMsP50', 'clientPublisherReconnectMsP50'])
        .expect(clientFailovers.length === clientRounds, `client failovers measured ${clientFailovers.length} of ${clientRounds}`)
        .expect(
          publisherReconnects.length === clientRounds,
          `the publisher SDK reported 'reconnected' in ${publisherReconnects.length} of ${clientRounds} failovers`,
        );
    }
    reportBench(result, checks);
  } finally {
    await browser?.close();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await redis.stop();
  }
}

main().then(
  () => process.exit(benchExitCode()),
  (err) => {
    process.stderr.write(`bench:cascade failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
