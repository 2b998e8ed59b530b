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
 * {srtG2gP50Ms, srtG2gP95Ms, whipFirstFrameMs, srtLatencyMs, ...}. The clock code carries its
 * complement; a frame whose halves disagree is rejected, not misread. Exits non-zero when a
 * figure has no samples, most presented frames failed the complement check, or a WHIP round failed.
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
import { launchChromium } from '../../test/helpers/whipWhep';
import { BenchChecks, reportBench } from '../core/benchOutcome';

const PAGE_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'ingest-page.js'), 'utf8');
/** Geometry of the clock code: 48 bits of Date.now() as 32 px blocks, 16 per row (512x96), complement below (512x96). */
const CODE = { block: 32, bits: 48, perRow: 16 };

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * ffmpeg filter graph: a 512x192 clock code (pts = wall clock while painting) — 48 bits in three
 * rows, their complement in the three rows below, so the viewer accepts a frame only when both
 * halves agree (as bench:latency's clock-code.js does) — padded to 640x360.
 */
function clockSource(): string {
  const rows = Math.ceil(CODE.bits / CODE.perRow);
  const codeHeight = CODE.block * rows;
  const bit = `mod(floor(floor(T*1000)/pow(2\\,floor(X/${CODE.block})+${CODE.perRow}*floor(mod(Y\\,${codeHeight})/${CODE.block})))\\,2)`;
  return [
    `color=c=gray:s=${CODE.block * CODE.perRow}x${2 * codeHeight}:r=30`,
    'format=gray',
    'settb=expr=1/1000',
    'setpts=RTCTIME/1000',
    // Upper half: the bit; lower half: its complement.
    `geq=lum='255*abs(${bit}-gte(Y\\,${codeHeight}))'`,
    'setpts=N*1000/30',
    'pad=640:360:0:0:gray',
    'format=yuv420p',
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
  const node = new SubsecNode(
    parseConfig({
      http: { port: 0 },
      synthetic: { enabled: false },
      srt: { enabled: true, port: 0, latencyMs },
      logLevel: 'warn',
    }),
  );
  const url = await node.start();
  const browser = await launchChromium();
  const token = (room: string, identity: string, canPublish = false) => node.tokens.issue({ room, identity, canPublish, canSubscribe: true });
  const page = async () => {
    const p = await browser.page(node);
    await p.addScriptTag({ content: PAGE_SCRIPT });
    return p;
  };
  const srtUrl = `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=bench/srt,m=publish,t=${token('bench', 'srt', true)}&latency=${latencyMs * 1000}`;
  const caller = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-re',
      '-f',
      'lavfi',
      '-i',
      clockSource(),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-profile:v',
      'baseline',
      '-g',
      '30',
      '-b:v',
      '1M',
      '-f',
      'mpegts',
      srtUrl,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    const start = Date.now();
    while (node.rooms.get('bench')?.producersOf('srt').length !== 1) {
      if (Date.now() - start > 15_000) throw new Error('the SRT caller did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write(`bench:ingest: SRT feed live; sampling ${values.seconds} s...\n`);
    const viewer = await page();
    const clock = (await viewer.evaluate(
      `window.subsecIngestBench.sampleClock(${JSON.stringify({
        url: `${url}/whep/bench/srt`,
        token: token('bench', 'viewer'),
        code: CODE,
        sampleMs: Number(values.seconds) * 1000,
      })})`,
    )) as { samples: number[]; rejected: number; frames: number };
    const g2g = clock.samples;
    caller.kill('SIGINT');

    const firstFrame: number[] = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      const stream = `cam${round}`;
      const publisher = await page();
      const viewerPage = await page();
      const pubArgs = { url: `${url}/whip/bench/${stream}`, token: token('bench', stream, true) };
      const { startedAt, location } = (await publisher.evaluate(`window.subsecIngestBench.whipPublish(${JSON.stringify(pubArgs)})`)) as {
        startedAt: number;
        location: string;
      };
      const at = (await viewerPage.evaluate(
        `window.subsecIngestBench.firstFrameAt(${JSON.stringify({ url: `${url}/whep/bench/${stream}`, token: token('bench', `viewer${round}`) })})`,
      )) as number;
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
      srtFramesPresented: clock.frames,
      srtFramesRejected: clock.rejected,
      srtG2gP50Ms: Math.round(percentile(g2g, 50)),
      srtG2gP95Ms: Math.round(percentile(g2g, 95)),
      srtG2gAboveLatencyP50Ms: Math.round(percentile(g2g, 50) - latencyMs),
      whipFirstFrameMs: Math.round(percentile(firstFrame, 50)),
      whipFirstFrameRunsMs: firstFrame.map(Math.round),
    };
    console.log(
      `SRT -> WebRTC glass-to-glass: p50 ${summary.srtG2gP50Ms} ms, p95 ${summary.srtG2gP95Ms} ms over ${g2g.length} frames (SRT latency ${latencyMs} ms)`,
    );
    console.log(`WHIP publish -> first WHEP frame: median ${summary.whipFirstFrameMs} ms over ${firstFrame.length} rounds`);
    const checks = new BenchChecks()
      .figures(summary, ['srtG2gP50Ms', 'srtG2gP95Ms', 'whipFirstFrameMs'])
      // ffmpeg sends 30 fps (fewer when its encoder is starved of CPU); a viewer presenting under
      // two thirds of that is not measuring the path.
      .expect(
        clock.frames >= (2 / 3) * 30 * Number(values.seconds),
        `the WHEP viewer presented ${clock.frames} frames in ${values.seconds} s of a 30 fps SRT feed`,
      )
      .expect(
        g2g.length + clock.rejected >= clock.frames / 4 && g2g.length >= clock.rejected,
        `of ${clock.frames} presented SRT frames, ${g2g.length} were read with a clock code that passed its complement check and ${clock.rejected} failed it`,
      )
      .expect(
        firstFrame.length === Number(values.rounds) && firstFrame.every((ms) => Number.isFinite(ms) && ms > 0),
        `WHIP first-frame rounds: ${JSON.stringify(firstFrame)}`,
      );
    reportBench(summary, checks, (l) => console.log(l));
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
