/**
 * `npm run bench:ingest`: ingest latency on loopback with real clients.
 *
 * - SRT → WebRTC glass to glass: an ffmpeg SRT caller paints the wall clock (48-bit block code,
 *   at the moment each frame is generated) into an H264 test pattern; a WHEP viewer in Chromium
 *   reads the code back from every presented frame. p50/p95 over `--seconds`.
 * - RTMP → WebRTC glass to glass: the same clock, published by ffmpeg with `-f flv rtmp://…`.
 * - RTSP → WebRTC glass to glass: the same clock code painted by GStreamer's RTSP server
 *   (loadtest/core/rtspServer.py, mount /clock-slices: x264 zerolatency with four slices a
 *   picture, as such cameras send), which the node pulls over RTSP/TCP.
 * - RTSP cameras per core (copy mode): `--cameras` pulls of one 640x360 25 fps 1 Mbit/s RTSP
 *   camera; CPU of the node process, its mediasoup worker and its ffmpeg pulls over 10 s, divided
 *   per camera; `rtspCamerasPerCore` = one core / that cost, valid when every pull kept up (each
 *   pull's video packet rate within 10% of the median) at that count.
 * - WHIP → WHEP first frame: Chromium publishes its fake camera over WHIP and a second page
 *   POSTs WHEP as soon as the publication is created; the time from the start of the WHIP POST
 *   to the first frame presented by the viewer, median of `--rounds`.
 *
 * - Primary/backup switch (loadtest/ingest/backupSwitch.ts): an ffmpeg RTMP primary and an SRT
 *   backup publish one stream; a Chromium WHEP viewer records when each frame is presented and
 *   hls.js plays its LL-HLS; the primary is killed (SIGKILL), later restarted. `backupSwitchGapMs`:
 *   the longest wait for a presented frame from the kill until 50 backup frames were presented,
 *   worst of `--backup-rounds` (`backupSwitchMoqGapMs`: the same for a MoQ viewer of the SFU bridge,
 *   `backupMoqGroupsWithoutKeyFrame`: its groups that did not open with an IDR); `backupSwitchHlsErrors`: hls.js error events (fatal or not) over
 *   all rounds, both switches each; `backupReturnGapMs`: the same wait around the return.
 *
 * Starts its own node (SRT, RTMP on free ports, RTSP pulls). The last line is one JSON object:
 * {srtG2gP50Ms, rtmpG2gP50Ms, rtspG2gP50Ms, rtspCamerasPerCore, whipFirstFrameMs, backupSwitchGapMs, backupSwitchHlsErrors, ...}. The clock code
 * carries its complement below it; a frame whose halves disagree is rejected, not misread. Exits
 * non-zero when a path has no samples, presented under two thirds of the 30 fps sent, or most
 * frames read failed the complement check; when a WHIP round failed; or when a pull fell behind.
 * A backup round fails the bench when the viewer did not carry on (no frames, a new PeerConnection) or the API never showed the switch.
 * Options: --seconds <sampling time per g2g path, default 15> --rounds <WHIP rounds, default 3>
 *          --latency <SRT latency in ms, default 120> --cameras <RTSP pulls, default 20>
 *          --backup-rounds <primary kills, default 3> --only <comma list of srt,rtmp,rtsp,cameras,whip,backup; default all>
 *          --audio (the SRT and RTMP encoders also send AAC; default video only)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/loadConfig';
import { SubsecNode } from '../../src/SubsecNode';
import { launchChromium } from '../core/chromium';
import { startRtspServer } from '../core/rtspServer';
import { measureRtspCameras } from './rtspCameras';
import { BenchChecks, reportBench } from '../core/benchOutcome';
import { measureBackupSwitch, type BackupSwitchResult } from './backupSwitch';
import { CODE, clockEncoderArgs } from './clockEncoder';

const PAGE_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'ingest-page.js'), 'utf8');
function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** What a Chromium WHEP viewer read from one path's clock code. */
interface ClockSamples {
  samples: number[];
  /** Frames whose code failed the complement check. */
  rejected: number;
  /** Frames the compositor presented in the window. */
  frames: number;
  /** The viewer's inbound video stats: its jitter buffer, decode and processing delays per frame (ms). */
  receiver: Record<string, number | null>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '3' },
      latency: { type: 'string', default: '120' },
      cameras: { type: 'string', default: '20' },
      'backup-rounds': { type: 'string', default: '3' },
      only: { type: 'string', default: 'srt,rtmp,rtsp,cameras,whip,backup' },
      audio: { type: 'boolean', default: false },
    },
  });
  const only = new Set(values.only.split(','));
  const latencyMs = Number(values.latency);
  const node = new SubsecNode(
    parseConfig({
      http: { port: 0 },
      synthetic: { enabled: false },
      srt: { enabled: true, port: 0, latencyMs },
      rtmp: { enabled: true, port: 0 },
      rtsp: { enabled: true, maxPulls: 10_000 },
      ingest: { backup: { returnAfterMs: 2000 } },
      // The backup rounds' MoQ viewer (the SFU bridge runs only while it watches).
      moq: { enabled: true, relay: { port: 0 } },
      // The backup rounds' LL-HLS: the source H264 copied (both encoders send the same format).
      hls: { segmentTargetMs: 1000, renditions: [{ name: 'src', copySource: true, videoKbps: 1000 }] },
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
  const encoders: ReturnType<typeof spawn>[] = [];
  const encode = (output: string[]) => {
    const proc = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...clockEncoderArgs(values.audio), ...output], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    encoders.push(proc);
    return proc;
  };
  const clocks: Record<string, ClockSamples> = {};
  /** Waits for a stream's video, then samples glass to glass in a Chromium WHEP viewer. */
  const sampleG2g = async (stream: string, what: string): Promise<number[]> => {
    const start = Date.now();
    while (
      !node.rooms
        .get('bench')
        ?.producersOf(stream)
        .some((p) => p.kind === 'video')
    ) {
      if (Date.now() - start > 20_000) throw new Error(`the ${what} feed did not come up`);
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write(`bench:ingest: ${what} feed live; sampling ${values.seconds} s...\n`);
    const viewer = await page();
    const clock = (await viewer.evaluate(
      `window.subsecIngestBench.sampleClock(${JSON.stringify({
        url: `${url}/whep/bench/${stream}`,
        token: token('bench', `viewer-${stream}`),
        code: CODE,
        sampleMs: Number(values.seconds) * 1000,
      })})`,
    )) as ClockSamples;
    await viewer.close();
    clocks[what] = clock;
    const samples = clock.samples;
    if (samples.length === 0) throw new Error(`no ${what} frames were read`);
    return samples;
  };
  const rtspServers: Awaited<ReturnType<typeof startRtspServer>>[] = [];
  try {
    let g2g: number[] = [];
    if (only.has('srt')) {
      const srtUrl = `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=bench/srt,m=publish,t=${token('bench', 'srt', true)}&latency=${latencyMs * 1000}`;
      const caller = encode(['-f', 'mpegts', srtUrl]);
      g2g = await sampleG2g('srt', 'SRT');
      caller.kill('SIGINT');
    }

    let rtmpG2g: number[] = [];
    if (only.has('rtmp')) {
      const rtmp = encode(['-f', 'flv', `rtmp://127.0.0.1:${node.rtmp!.port}/live/bench/rtmp?token=${token('bench', 'rtmp', true)}`]);
      rtmpG2g = await sampleG2g('rtmp', 'RTMP');
      rtmp.kill('SIGINT');
    }

    let rtspG2g: number[] = [];
    if (only.has('rtsp')) {
      const camera = await startRtspServer(0, undefined, undefined, { RTSP_CLOCK: '1' });
      rtspServers.push(camera);
      node.rtsp!.add({ url: camera.url('/clock-slices'), room: 'bench', stream: 'rtsp', transport: 'tcp' });
      rtspG2g = await sampleG2g('rtsp', 'RTSP');
      await node.rtsp!.remove('bench-rtsp');
    }

    let cameras: Awaited<ReturnType<typeof measureRtspCameras>> | undefined;
    if (only.has('cameras')) {
      const cameraServer = await startRtspServer(0);
      rtspServers.push(cameraServer);
      process.stderr.write(`bench:ingest: ${values.cameras} RTSP pulls (copy)...\n`);
      cameras = await measureRtspCameras(node, cameraServer.url('/bench'), Number(values.cameras));
    }

    const firstFrame: number[] = [];
    for (let round = 0; only.has('whip') && round < Number(values.rounds); round++) {
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

    const backupRuns: BackupSwitchResult[] = [];
    const backupFailures: string[] = [];
    for (let round = 0; only.has('backup') && round < Number(values['backup-rounds']); round++) {
      process.stderr.write(`bench:ingest: primary/backup round ${round + 1} (RTMP primary killed, SRT backup)...\n`);
      try {
        backupRuns.push(
          await measureBackupSwitch(node, browser, {
            room: 'bench',
            stream: `backup${round}`,
            primary: 'rtmp',
            backup: 'srt',
            failure: 'kill',
            log: (l) => process.stderr.write(`bench:ingest:   ${l}\n`),
          }),
        );
      } catch (err) {
        backupFailures.push(`round ${round + 1}: ${(err as Error).message}`);
      }
    }
    const summary = {
      bench: 'ingest',
      path: 'srt|rtmp(ffmpeg), rtsp(gst-rtsp-server) -> node -> whep(chromium); whip(chromium) -> node -> whep(chromium); loopback',
      srtLatencyMs: latencyMs,
      encoderAudio: values.audio ? 'aac 128k' : 'none',
      srtG2gSamples: g2g.length,
      g2gFrames: Object.fromEntries(Object.entries(clocks).map(([k, c]) => [k, { presented: c.frames, read: c.samples.length, rejected: c.rejected }])),
      g2gViewerDelays: Object.fromEntries(Object.entries(clocks).map(([k, c]) => [k, c.receiver])),
      srtG2gP50Ms: Math.round(percentile(g2g, 50)),
      srtG2gP95Ms: Math.round(percentile(g2g, 95)),
      srtG2gAboveLatencyP50Ms: Math.round(percentile(g2g, 50) - latencyMs),
      rtmpG2gSamples: rtmpG2g.length,
      rtmpG2gP50Ms: Math.round(percentile(rtmpG2g, 50)),
      rtmpG2gP95Ms: Math.round(percentile(rtmpG2g, 95)),
      rtspG2gSamples: rtspG2g.length,
      rtspG2gP50Ms: Math.round(percentile(rtspG2g, 50)),
      rtspG2gP95Ms: Math.round(percentile(rtspG2g, 95)),
      rtspCamerasMeasured: cameras?.cameras,
      rtspCamerasKeptUp: cameras?.keptUp,
      rtspCpuPerCameraPct: cameras?.cpuPerCameraPct,
      rtspCamerasPerCore: cameras?.camerasPerCore,
      whipFirstFrameMs: Math.round(percentile(firstFrame, 50)),
      whipFirstFrameRunsMs: firstFrame.map(Math.round),
      backupSwitchGapMs: backupRuns.length ? Math.max(...backupRuns.map((r) => r.switchGapMs)) : NaN,
      backupSwitchGapRunsMs: backupRuns.map((r) => r.switchGapMs),
      backupReturnGapMs: backupRuns.length ? Math.max(...backupRuns.map((r) => r.returnGapMs)) : NaN,
      backupSwitchHlsErrors: backupRuns.reduce((n, r) => n + r.hlsErrors.length, 0),
      backupSwitchMoqGapMs: backupRuns.length ? Math.max(...backupRuns.map((r) => r.moqSwitchGapMs ?? NaN)) : NaN,
      backupMoqGroupsWithoutKeyFrame: backupRuns.reduce((n, r) => n + (r.moqGroupsWithoutKeyFrame ?? NaN), 0),
      backupSwitchHlsErrorEvents: backupRuns.flatMap((r) => r.hlsErrors),
      backupHlsErrorAtMs: backupRuns.map((r) => r.hlsErrorAtMs),
      backupHlsPlayedSec: backupRuns.map((r) => r.hlsPlayedSec),
      backupWarmFrames: backupRuns.map((r) => r.warmFrames),
      backupViewerVideo: backupRuns.map((r) => r.viewerVideo),
    };
    if (only.has('backup'))
      console.log(
        `Primary/backup (RTMP primary killed, SRT backup): longest wait for a frame ${summary.backupSwitchGapMs} ms (runs ${JSON.stringify(summary.backupSwitchGapRunsMs)}), ` +
          `on the return ${summary.backupReturnGapMs} ms; hls.js errors ${summary.backupSwitchHlsErrors} ${JSON.stringify(summary.backupSwitchHlsErrorEvents)}; ` +
          `MoQ viewer: longest wait ${summary.backupSwitchMoqGapMs} ms, groups not opening with an IDR ${summary.backupMoqGroupsWithoutKeyFrame}`,
      );
    if (only.has('srt'))
      console.log(
        `SRT -> WebRTC glass-to-glass: p50 ${summary.srtG2gP50Ms} ms, p95 ${summary.srtG2gP95Ms} ms over ${g2g.length} frames (SRT latency ${latencyMs} ms)`,
      );
    if (only.has('rtmp'))
      console.log(`RTMP -> WebRTC glass-to-glass: p50 ${summary.rtmpG2gP50Ms} ms, p95 ${summary.rtmpG2gP95Ms} ms over ${rtmpG2g.length} frames`);
    if (only.has('rtsp'))
      console.log(`RTSP pull -> WebRTC glass-to-glass: p50 ${summary.rtspG2gP50Ms} ms, p95 ${summary.rtspG2gP95Ms} ms over ${rtspG2g.length} frames`);
    if (cameras)
      console.log(
        `RTSP pulls (copy): ${cameras.cameras} cameras, kept up: ${cameras.keptUp}, ${cameras.cpuPerCameraPct}% of a core each -> ${cameras.camerasPerCore} per core`,
      );
    if (only.has('whip')) console.log(`WHIP publish -> first WHEP frame: median ${summary.whipFirstFrameMs} ms over ${firstFrame.length} rounds`);
    // Only the paths that ran are judged (--only); each that ran must have its figures.
    const figures = [
      ...(only.has('srt') ? ['srtG2gP50Ms', 'srtG2gP95Ms'] : []),
      ...(only.has('rtmp') ? ['rtmpG2gP50Ms', 'rtmpG2gP95Ms'] : []),
      ...(only.has('rtsp') ? ['rtspG2gP50Ms', 'rtspG2gP95Ms'] : []),
      ...(only.has('whip') ? ['whipFirstFrameMs'] : []),
      ...(only.has('backup')
        ? ['backupSwitchGapMs', 'backupReturnGapMs', 'backupSwitchHlsErrors', 'backupSwitchMoqGapMs', 'backupMoqGroupsWithoutKeyFrame']
        : []),
    ];
    const checks = new BenchChecks().figures(summary, figures);
    if (cameras) checks.expect(cameras.keptUp, `the RTSP pulls did not all keep up at ${cameras.cameras} cameras`);
    if (only.has('whip'))
      checks.expect(
        firstFrame.length === Number(values.rounds) && firstFrame.every((ms) => Number.isFinite(ms) && ms > 0),
        `WHIP first-frame rounds: ${JSON.stringify(firstFrame)}`,
      );
    for (const f of backupFailures) checks.expect(false, `primary/backup ${f}`);
    for (const [i, r] of backupRuns.entries()) {
      checks
        .expect(
          r.liveAfterFailure === 'backup' && r.liveAfterReturn === 'primary',
          `primary/backup round ${i + 1}: the API showed ${r.liveAfterFailure} then ${r.liveAfterReturn} live`,
        )
        .expect(
          r.peerConnections === 1 && r.viewerState === 'connected' && r.framesAfterSwitch >= 50,
          `primary/backup round ${i + 1}: the viewer did not carry on (${r.framesAfterSwitch} frames, ${r.viewerState})`,
        );
    }
    for (const [what, c] of Object.entries(clocks)) {
      // The encoders send 30 fps (fewer when starved of CPU); a viewer presenting under two thirds
      // of that is not measuring the path. Most frames read must pass the complement check.
      checks
        .expect(
          c.frames >= (2 / 3) * 30 * Number(values.seconds),
          `${what}: the WHEP viewer presented ${c.frames} frames in ${values.seconds} s of a 30 fps feed`,
        )
        .expect(
          c.samples.length >= c.rejected && c.samples.length + c.rejected >= c.frames / 4,
          `${what}: of ${c.frames} presented frames, ${c.samples.length} were read with a clock code that passed its complement check and ${c.rejected} failed it`,
        );
    }
    reportBench(summary, checks, (l) => console.log(l));
  } finally {
    for (const e of encoders) if (e.exitCode === null) e.kill('SIGKILL');
    for (const r of rtspServers) await r.kill();
    await browser.close();
    await node.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
