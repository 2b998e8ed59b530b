/**
 * `npm run bench:latency`: glass-to-glass latency and time to first frame on the delivery
 * paths side by side, Chromium → node → Chromium on loopback, in one run against one sender:
 * a page paints Date.now() as a block code (clock-code.js) and publishes it (H264, WebRTC); a
 * receiver page watches it with the SDK's `client.watch()` forced to WebRTC, then MoQ over
 * WebSocket (relay, WebCodecs), then MoQ over WebTransport/HTTP3 (`moq-wt`), then LL-HLS (hls.js), reading the code back from every presented frame. Starts its
 * own node (or uses --url), prints a table, and ends with one JSON line: g2gP50Ms, g2gP95Ms,
 * firstFrameP50Ms (WebRTC, as before), sdkMoqG2gP50Ms/P95/FirstFrameP50Ms (WebSocket),
 * sdkMoqWtG2gP50Ms/P95/FirstFrameP50Ms (WebTransport/HTTP3),
 * sdkHlsG2gP50Ms/P95/FirstFrameP50Ms, and `paths` with the details. Exits non-zero when a path
 * got no samples or a timed start failed.
 *
 * Options: --url <node base url> --admin-key <key> --seconds <sampling per path, default 15>
 *          --rounds <starts timed per path, default 5; LL-HLS: 1> --paths webrtc,moq,moq-wt,hls
 */
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/loadConfig';
import { SubsecNode } from '../../src/SubsecNode';
import { launchBrowser } from '../core/browser';
import { ensureSdkBuilt } from '../core/sdkBundle';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchChecks, reportBench } from '../core/benchOutcome';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Browser-side code (plain JS so nothing is transpiled into the page). */
const CLOCK_CODE = fs.readFileSync(path.join(here, 'clock-code.js'), 'utf8');
const PAGE_SCRIPT = fs.readFileSync(path.join(here, 'latency-page.js'), 'utf8');
/** Geometry of the clock code: 48 bits of Date.now() as 32 px blocks, complement below. */
const CODE = { width: 640, height: 360, block: 32, bits: 48, perRow: 16 };
const ROOM = 'bench-latency';
const PATHS = ['webrtc', 'moq', 'moq-wt', 'hls'] as const;
type PathName = (typeof PATHS)[number];
/** Time a buffering player gets to settle on its live-edge target before sampling (ms). */
const SETTLE_MS: Record<PathName, number> = { webrtc: 0, moq: 0, 'moq-wt': 0, hls: 4000 };

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface PathFigures {
  samples: number;
  undecodedFrames: number;
  g2gP50Ms: number;
  g2gP95Ms: number;
  g2gMinMs: number;
  firstFrameP50Ms: number;
  firstFrameMs: number[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'admin-key': { type: 'string', default: 'subsec-dev-admin-key' },
      seconds: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '5' },
      paths: { type: 'string', default: PATHS.join(',') },
    },
  });
  const paths = values.paths!.split(',').map((p) => p.trim());
  const unknown = paths.filter((p) => !(PATHS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`--paths: unknown ${unknown.join(', ')} (webrtc, moq, moq-wt, hls)`);
  await ensureSdkBuilt();
  let node: SubsecNode | undefined;
  let url = values.url;
  if (!url) {
    node = new SubsecNode(
      parseConfig({
        http: { port: 0 },
        synthetic: { enabled: false },
        srt: { enabled: false },
        moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
        // The source rendition copied (no transcode): the LL-HLS figure is packaging and player buffer.
        hls: { renditions: [{ name: 'source', copySource: true, videoKbps: 1500 }], partTargetMs: 200, segmentTargetMs: 1000 },
        logLevel: 'warn',
      }),
    );
    url = await node.start();
  }
  const issue = async (identity: string) => {
    const res = await fetch(`${url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${values['admin-key']}` },
      body: JSON.stringify({ room: ROOM, identity, canPublish: true, canSubscribe: true }),
    });
    if (!res.ok) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  };
  // QUIC on: the moq-wt path runs MoQ over WebTransport/HTTP3.
  const browser = await launchBrowser([], { quic: true });
  const figures: Partial<Record<PathName, PathFigures>> = {};
  try {
    const sender = await browser.browser.newPage();
    await sender.goto(`${url}/healthz`);
    await sender.addScriptTag({ content: CLOCK_CODE });
    await sender.evaluate(`window.subsecClockCode.senderPage(${JSON.stringify({ url, token: await issue('sender'), code: CODE, codec: 'H264' })})`);
    process.stderr.write('bench:latency: sender publishing\n');
    for (const name of paths as PathName[]) {
      const receiver = await browser.browser.newPage();
      if (process.env.BENCH_DEBUG) receiver.on('console', (m) => process.stderr.write(`[${name}] ${m.text()}\n`));
      await receiver.goto(`${url}/healthz`);
      await receiver.addScriptTag({ content: CLOCK_CODE });
      await receiver.addScriptTag({ content: PAGE_SCRIPT });
      process.stderr.write(`bench:latency: measuring ${name}...\n`);
      const args = {
        url,
        token: await issue(`receiver-${name}`),
        identity: 'sender',
        transport: name === 'moq-wt' ? 'moq' : name,
        moqCarrier: name === 'moq-wt' ? 'webtransport' : name === 'moq' ? 'websocket' : 'auto',
        code: CODE,
        rounds: name === 'hls' ? 1 : Number(values.rounds),
        sampleMs: Number(values.seconds) * 1000,
        settleMs: SETTLE_MS[name],
      };
      const r = (await receiver.evaluate(`window.subsecLatencyBench.receiverPage(${JSON.stringify(args)})`)) as {
        firstFrameMs: number[];
        g2gMs: number[];
        rejected: number;
      };
      await receiver.close();
      figures[name] = {
        samples: r.g2gMs.length,
        undecodedFrames: r.rejected,
        g2gP50Ms: Math.round(percentile(r.g2gMs, 50)),
        g2gP95Ms: Math.round(percentile(r.g2gMs, 95)),
        g2gMinMs: Math.round(Math.min(...r.g2gMs)),
        firstFrameP50Ms: Math.round(percentile(r.firstFrameMs, 50)),
        firstFrameMs: r.firstFrameMs.map(Math.round),
      };
    }
    console.log('path     g2g p50   g2g p95   first frame p50   samples');
    for (const [name, f] of Object.entries(figures)) {
      console.log(
        `${name.padEnd(8)} ${`${f.g2gP50Ms} ms`.padStart(7)}   ${`${f.g2gP95Ms} ms`.padStart(7)}   ${`${f.firstFrameP50Ms} ms`.padStart(15)}   ${f.samples}`,
      );
    }
    const flat = (prefix: string, f: PathFigures | undefined) =>
      f ? { [`${prefix}G2gP50Ms`]: f.g2gP50Ms, [`${prefix}G2gP95Ms`]: f.g2gP95Ms, [`${prefix}FirstFrameP50Ms`]: f.firstFrameP50Ms } : {};
    const webrtc = figures.webrtc;
    const summary = {
      bench: 'latency',
      path: 'chromium (H264, WebRTC) -> node -> chromium client.watch() per transport (loopback)',
      ...(webrtc
        ? {
            samples: webrtc.samples,
            g2gP50Ms: webrtc.g2gP50Ms,
            g2gP95Ms: webrtc.g2gP95Ms,
            g2gMinMs: webrtc.g2gMinMs,
            firstFrameP50Ms: webrtc.firstFrameP50Ms,
            firstFrameMs: webrtc.firstFrameMs,
          }
        : {}),
      ...flat('sdkMoq', figures.moq),
      ...flat('sdkMoqWt', figures['moq-wt']),
      ...flat('sdkHls', figures.hls),
      paths: figures,
    };
    const checks = new BenchChecks();
    for (const [name, f] of Object.entries(figures)) {
      checks
        .expect(f.samples > 0, `${name}: no glass-to-glass samples (${f.undecodedFrames} frames failed the complement check)`)
        .figures(f as unknown as Record<string, unknown>, ['g2gP50Ms', 'g2gP95Ms', 'firstFrameP50Ms'])
        .expect(
          f.firstFrameMs.length > 0 && f.firstFrameMs.every((ms) => Number.isFinite(ms) && ms > 0),
          `${name}: first-frame rounds ${JSON.stringify(f.firstFrameMs)}`,
        );
    }
    reportBench(summary, checks, (l) => console.log(l));
  } finally {
    await browser.close();
    await node?.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
