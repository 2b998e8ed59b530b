/**
 * `npm run bench:ingest`: ingest latency on loopback with real clients.
 *
 * - SRT → WebRTC glass to glass: an ffmpeg SRT caller paints the wall clock (48-bit block code,
 *   at the moment each frame is generated) into an H264 test pattern; a WHEP viewer in Chromium
 *   reads the code back from every presented frame. p50/p95 over `--seconds`.
 * - WHIP → WHEP first frame: Chromium publishes its fake camera over WHIP and a second page
 *   POSTs WHEP as soon as the publication is created; the time from the start of the WHIP POST
 *   to the first frame presented by the viewer, median of `--rounds`.
 *
 * Starts its own node (SRT on a free port). The last line is one JSON object:
 * {srtG2gP50Ms, srtG2gP95Ms, whipFirstFrameMs, srtLatencyMs, ...}.
 * Options: --seconds <SRT sampling time, default 15> --rounds <WHIP rounds, default 3>
 *          --latency <SRT latency in ms, default 120>
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/loadConfig';
import { SubsecNode } from '../../src/SubsecNode';
import { launchChromium } from '../core/chromium';

const PAGE_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'ingest-page.js'), 'utf8');
/** Geometry of the clock code: 48 bits of Date.now() as 32 px blocks, 16 per row (512x96). */
const CODE = { block: 32, bits: 48, perRow: 16 };

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** ffmpeg filter graph: a 512x96 clock code (pts = wall clock while painting), padded to 640x360. */
function clockSource(): string {
  const bit = `mod(floor(floor(T*1000)/pow(2\\,floor(X/${CODE.block})+${CODE.perRow}*floor(Y/${CODE.block})))\\,2)`;
  return [
    `color=c=gray:s=${CODE.block * CODE.perRow}x${CODE.block * Math.ceil(CODE.bits / CODE.perRow)}:r=30`,
    'format=gray', 'settb=expr=1/1000', 'setpts=RTCTIME/1000',
    `geq=lum='255*${bit}'`,
    'setpts=N*1000/30', 'pad=640:360:0:0:gray', 'format=yuv420p',
  ].join(',');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '3' },
      latency: { type: 'string', default: '120' },
    },
  });
  const latencyMs = Number(values.latency);
  const node = new SubsecNode(parseConfig({
    http: { port: 0 },
    synthetic: { enabled: false },
    srt: { enabled: true, port: 0, latencyMs },
    logLevel: 'warn',
  }));
  const url = await node.start();
  const browser = await launchChromium();
  const token = (room: string, identity: string, canPublish = false) => node.tokens.issue({ room, identity, canPublish, canSubscribe: true });
  const page = async () => {
    const p = await browser.page(node);
    await p.addScriptTag({ content: PAGE_SCRIPT });
    return p;
  };
  const srtUrl = `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=bench/srt,m=publish,t=${token('bench', 'srt', true)}&latency=${latencyMs * 1000}`;
  const caller = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', clockSource(),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-g', '30', '-b:v', '1M',
    '-f', 'mpegts', srtUrl,
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const start = Date.now();
    while (node.rooms.get('bench')?.producersOf('srt').length !== 1) {
      if (Date.now() - start > 15_000) throw new Error('the SRT caller did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write(`bench:ingest: SRT feed live; sampling ${values.seconds} s...\n`);
    const viewer = await page();
    const g2g = (await viewer.evaluate(`window.subsecIngestBench.sampleClock(${JSON.stringify({
      url: `${url}/whep/bench/srt`, token: token('bench', 'viewer'), code: CODE, sampleMs: Number(values.seconds) * 1000,
    })})`)) as number[];
    caller.kill('SIGINT');

    const firstFrame: number[] = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      const stream = `cam${round}`;
      const publisher = await page();
      const viewerPage = await page();
      const pubArgs = { url: `${url}/whip/bench/${stream}`, token: token('bench', stream, true) };
      const { startedAt, location } = (await publisher.evaluate(`window.subsecIngestBench.whipPublish(${JSON.stringify(pubArgs)})`)) as { startedAt: number; location: string };
      const at = (await viewerPage.evaluate(`window.subsecIngestBench.firstFrameAt(${JSON.stringify({ url: `${url}/whep/bench/${stream}`, token: token('bench', `viewer${round}`) })})`)) as number;
      firstFrame.push(at - startedAt);
      await publisher.evaluate(`window.subsecIngestBench.whipStop(${JSON.stringify({ location, token: pubArgs.token })})`);
      await publisher.close();
      await viewerPage.close();
    }
    const summary = {
      bench: 'ingest',
      path: 'srt(ffmpeg) -> node -> whep(chromium); whip(chromium) -> node -> whep(chromium); loopback',
      srtLatencyMs: latencyMs,
      srtG2gSamples: g2g.length,
      srtG2gP50Ms: Math.round(percentile(g2g, 50)),
      srtG2gP95Ms: Math.round(percentile(g2g, 95)),
      srtG2gAboveLatencyP50Ms: Math.round(percentile(g2g, 50) - latencyMs),
      whipFirstFrameMs: Math.round(percentile(firstFrame, 50)),
      whipFirstFrameRunsMs: firstFrame.map(Math.round),
    };
    console.log(`SRT -> WebRTC glass-to-glass: p50 ${summary.srtG2gP50Ms} ms, p95 ${summary.srtG2gP95Ms} ms over ${g2g.length} frames (SRT latency ${latencyMs} ms)`);
    console.log(`WHIP publish -> first WHEP frame: median ${summary.whipFirstFrameMs} ms over ${firstFrame.length} rounds`);
    console.log(JSON.stringify(summary));
  } finally {
    if (caller.exitCode === null) caller.kill('SIGKILL');
    await browser.close();
    await node.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
