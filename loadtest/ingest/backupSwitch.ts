/**
 * Primary/backup switch measurement (bench:ingest and test/integration/backup-ingest.test.ts):
 * two ffmpeg encoders publish the same stream, one with `role=primary`, one with
 * `role=backup`, over RTMP and/or SRT; a Chromium WHEP viewer records when each frame is
 * presented and hls.js plays the stream's LL-HLS. The primary is then failed — killed
 * (SIGKILL: its connection drops) or frozen (SIGSTOP: it stalls) — and later brought back.
 * Reported: the longest wait for a frame the viewer saw around each switch, frames presented
 * after it on the same PeerConnection, the live input the API shows, hls.js's errors, and (when
 * the node runs a MoQ relay) a MoQ viewer's longest wait and whether every group opened with an IDR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import type { Chromium } from '../core/chromium';
import { waitFor } from '../core/waitFor';
import { watchMoqVideo } from './moqSwitchViewer';

const PAGE_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'ingest-page.js'), 'utf8');
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** How the primary fails. */
export type PrimaryFailure = 'kill' | 'freeze';

/** Options of {@link measureBackupSwitch}. */
export interface BackupSwitchOptions {
  room: string;
  stream: string;
  primary: 'rtmp' | 'srt';
  backup: 'rtmp' | 'srt';
  failure: PrimaryFailure;
  /** Also play the stream's LL-HLS with hls.js and count its errors (default true). */
  hls?: boolean;
  /** Also watch the stream's MoQ video track (default: when the node runs a MoQ relay). */
  moq?: boolean;
  /** The node the WHEP viewer and hls.js watch on (default: the ingest node; another node of its cascade pulls the stream). */
  viewerNode?: SubsecNode;
  /** Bound on every wait (ms; default 30 000). */
  stepTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Called once the primary is live and the backup delivers, before the failure (e.g. to start more viewers). */
  beforeFailure?: () => Promise<void>;
  /** Called while the backup is live after the failure (e.g. to read the API then). */
  whileOnBackup?: () => Promise<void>;
  /** Called once the primary is live again after the return (the encoders still run). */
  afterReturn?: () => Promise<void>;
}

/** What one run saw. */
export interface BackupSwitchResult {
  /** Longest wait for a presented frame from the primary's failure until 50 frames of the backup were presented (ms). */
  switchGapMs: number;
  /** Longest wait for a frame from the return decision until 50 frames of the primary were presented (ms). */
  returnGapMs: number;
  framesAfterSwitch: number;
  framesAfterReturn: number;
  /** The switch reasons the API reported, in order (from the first input on). */
  reasons: string[];
  /** Frames sent at once from the new input's last key frame, per switch. */
  warmFrames: number[];
  /** The live input the API showed after the failure, and after the return. */
  liveAfterFailure: string | null;
  liveAfterReturn: string | null;
  /** The viewer's PeerConnection state at the end (it never rejoins: one PeerConnection throughout). */
  viewerState: string;
  peerConnections: number;
  /** The viewer's inbound video counters (pliCount, nackCount, keyFramesDecoded, framesDropped, freezeCount, packetsLost) before the failure, after the switch and after the return. */
  viewerVideo: Array<Record<string, number>>;
  /** hls.js error events while the switches happened (fatal ones prefixed FATAL). */
  hlsErrors: string[];
  /** When each of those came, from the primary's failure (ms; the return follows a few seconds later). */
  hlsErrorAtMs: number[];
  /** Seconds of media hls.js played from before the failure until 3 s past the return (the run fails when it stops short of that). */
  hlsPlayedSec: number;
  /** The MoQ viewer (when watched): the longest wait for a frame from the failure until 50 frames, and from the return decision. */
  moqSwitchGapMs?: number;
  moqReturnGapMs?: number;
  /** MoQ groups that began after the failure (until 50 frames past the return), and how many of them did not open with an IDR. */
  moqGroupsAfterFailure?: number;
  moqGroupsWithoutKeyFrame?: number;
}

interface SwitchView {
  live: string | null;
  switches: number;
  lastSwitch: { reason: string; warmFrames: number } | null;
  inputs: Array<{ role: string; lastVideoAgoMs: number | null }>;
}

/** Waits for `probe` to return something truthy (polling every 50 ms). */
function until<T>(what: string, timeoutMs: number, probe: () => T | Promise<T>): Promise<NonNullable<T>> {
  return waitFor(probe, { timeoutMs, what });
}

/** Runs one primary failure and return; kills its encoders and closes its pages whatever happens. */
export async function measureBackupSwitch(node: SubsecNode, browser: Chromium, o: BackupSwitchOptions): Promise<BackupSwitchResult> {
  const timeout = o.stepTimeoutMs ?? 30_000;
  const log = o.log ?? (() => undefined);
  const encoders: Array<{ proc: ChildProcess; role: 'primary' | 'backup' }> = [];
  const pages: Page[] = [];
  let moq: Awaited<ReturnType<typeof watchMoqVideo>> | undefined;
  const token = node.tokens.issue({ room: o.room, identity: o.stream, canPublish: true });
  const publish = (protocol: 'rtmp' | 'srt', role: 'primary' | 'backup'): ChildProcess => {
    const target =
      protocol === 'rtmp'
        ? ['-f', 'flv', `rtmp://127.0.0.1:${node.rtmp!.port}/live/${o.room}/${o.stream}?token=${token}&role=${role}`]
        : ['-f', 'mpegts', `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=${o.room}/${o.stream},m=publish,t=${token},role=${role}&latency=120000`];
    // Both encoders send the same picture format (the LL-HLS copy rendition needs one), 25 fps, a key frame a second.
    const proc = spawn(
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
        'testsrc2=size=640x360:rate=25',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=48000',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-profile:v',
        'baseline',
        '-g',
        '25',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-b:a',
        '64k',
        ...target,
      ],
      { stdio: 'ignore' },
    );
    encoders.push({ proc, role });
    return proc;
  };
  const view = () => {
    try {
      return node.backups.get(o.room, o.stream) as SwitchView;
    } catch {
      return undefined;
    }
  };
  const inputDelivers = (role: string, withinMs = 300) => {
    const input = view()?.inputs.find((i) => i.role === role);
    return input?.lastVideoAgoMs !== null && input?.lastVideoAgoMs !== undefined && input.lastVideoAgoMs < withinMs;
  };
  const reasons: string[] = [];
  const warmFrames: number[] = [];
  const onSwitch = () => {
    const v = view();
    if (v?.lastSwitch && reasons.length < v.switches) {
      reasons.push(v.lastSwitch.reason);
      warmFrames.push(v.lastSwitch.warmFrames);
    }
  };
  const poll = setInterval(onSwitch, 20);
  try {
    let primary = publish(o.primary, 'primary');
    await until('the primary to go live', timeout, () => view()?.live === 'primary');
    publish(o.backup, 'backup');
    await until('the backup to deliver', timeout, () => inputDelivers('backup'));
    log(`primary (${o.primary}) live, backup (${o.backup}) delivering`);

    const viewerNode = o.viewerNode ?? node;
    const viewer = await browser.page(viewerNode);
    pages.push(viewer);
    await viewer.addScriptTag({ content: PAGE_SCRIPT });
    const viewerToken = viewerNode.tokens.issue({ room: o.room, identity: `viewer-${o.stream}`, canSubscribe: true });
    await viewer.evaluate(
      `window.subsecIngestBench.watchFrames(${JSON.stringify({ url: `${viewerNode.url}/whep/${o.room}/${o.stream}`, token: viewerToken })})`,
    );
    const gaps = (since: number) =>
      viewer.evaluate(`window.subsecIngestBench.frameGaps(${JSON.stringify({ since })})`) as Promise<{
        frames: number;
        maxGapMs: number;
        state: string;
        peerConnections: number;
        video: Record<string, number>;
      }>;
    const pageNow = () => viewer.evaluate('window.subsecIngestBench.pageNow()') as Promise<number>;
    const warmup = await pageNow();
    await until('the WebRTC viewer to present 25 frames', timeout, async () => (await gaps(warmup)).frames >= 25);

    if (o.moq ?? Boolean(node.moqRelay)) {
      moq = await watchMoqVideo(node, o.room, o.stream);
      const from = performance.now();
      await until('the MoQ viewer to receive 25 frames', timeout, () => moq!.since(from).frames >= 25);
    }

    let hls: Page | undefined;
    const hlsStatus = () =>
      hls!.evaluate('window.subsecIngestBench.hlsStatus()') as Promise<{ currentTime: number; frames: number; errors: string[]; errorTimes: number[] }>;
    let hlsStart = { currentTime: 0, frames: 0, errors: [] as string[], errorTimes: [] as number[] };
    if (o.hls ?? true) {
      hls = await browser.page(viewerNode);
      pages.push(hls);
      await hls.addScriptTag({ path: path.join(projectRoot, 'node_modules', 'hls.js', 'dist', 'hls.min.js') });
      await hls.addScriptTag({ content: PAGE_SCRIPT });
      await hls.evaluate(`window.subsecIngestBench.hlsPlay(${JSON.stringify({ url: `${viewerNode.url}/hls/${o.room}/${o.stream}/index.m3u8` })})`);
      hlsStart = await until('hls.js to play 1 s', timeout * 2, async () => {
        const s = await hlsStatus();
        return s.currentTime > 1 ? s : undefined;
      });
      log(`hls.js playing (errors before the switch: ${hlsStart.errors.length})`);
    }

    await o.beforeFailure?.();
    // The primary fails; the viewer must carry on from the backup.
    const failedAt = await pageNow();
    const failedAtMs = Date.now();
    const failedAtPerf = performance.now();
    const beforeFailure = (await gaps(failedAt)).video;
    if (o.failure === 'kill') primary.kill('SIGKILL');
    else primary.kill('SIGSTOP');
    await until('the backup to go live', timeout, () => view()?.live === 'backup');
    const liveAfterFailure = view()?.live ?? null;
    const afterSwitch = await until('50 frames after the switch', timeout, async () => {
      const g = await gaps(failedAt);
      return g.frames >= 50 ? g : undefined;
    });
    log(`switched to the backup: longest wait for a frame ${Math.round(afterSwitch.maxGapMs)} ms`);
    const moqAfterSwitch =
      moq && (await until('50 MoQ frames after the switch', timeout, () => (moq!.since(failedAtPerf).frames >= 50 ? moq!.since(failedAtPerf) : undefined)));
    await o.whileOnBackup?.();

    // The primary comes back; after returnAfterMs the stream returns to it at its next key frame.
    if (o.failure === 'kill') primary = publish(o.primary, 'primary');
    else primary.kill('SIGCONT');
    await until('the primary to deliver again', timeout, () => inputDelivers('primary'));
    const returnFrom = await pageNow();
    const returnFromPerf = performance.now();
    await until('the return to the primary', timeout, () => view()?.live === 'primary');
    const liveAfterReturn = view()?.live ?? null;
    const afterReturn = await until('50 frames after the return', timeout, async () => {
      const g = await gaps(returnFrom);
      return g.frames >= 50 ? g : undefined;
    });
    log(`back on the primary: longest wait for a frame ${Math.round(afterReturn.maxGapMs)} ms`);
    await o.afterReturn?.();
    const moqAfterReturn =
      moq && (await until('50 MoQ frames after the return', timeout, () => (moq!.since(returnFromPerf).frames >= 50 ? moq!.since(returnFromPerf) : undefined)));
    const moqOverall = moq?.since(failedAtPerf);

    let hlsErrors: string[] = [];
    let hlsErrorAtMs: number[] = [];
    let hlsPlayedSec = 0;
    if (hls) {
      // Let hls.js play through the media around both switches.
      const end = await until('hls.js to play 3 s past the return', timeout, async () => {
        const s = await hlsStatus();
        return s.currentTime > hlsStart.currentTime + 3 ? s : undefined;
      });
      hlsErrors = end.errors.slice(hlsStart.errors.length);
      hlsErrorAtMs = end.errorTimes.slice(hlsStart.errors.length).map((t) => t - failedAtMs);
      hlsPlayedSec = end.currentTime - hlsStart.currentTime;
    }
    onSwitch();
    return {
      switchGapMs: Math.round(afterSwitch.maxGapMs),
      returnGapMs: Math.round(afterReturn.maxGapMs),
      framesAfterSwitch: afterSwitch.frames,
      framesAfterReturn: afterReturn.frames,
      reasons,
      warmFrames,
      liveAfterFailure,
      liveAfterReturn,
      viewerState: afterReturn.state,
      viewerVideo: [beforeFailure, afterSwitch.video, afterReturn.video],
      peerConnections: afterReturn.peerConnections,
      hlsErrors,
      hlsErrorAtMs,
      hlsPlayedSec: Math.round(hlsPlayedSec * 100) / 100,
      ...(moqAfterSwitch && moqAfterReturn && moqOverall
        ? {
            moqSwitchGapMs: Math.round(moqAfterSwitch.maxGapMs),
            moqReturnGapMs: Math.round(moqAfterReturn.maxGapMs),
            moqGroupsAfterFailure: moqOverall.groups,
            moqGroupsWithoutKeyFrame: moqOverall.groupsWithoutKeyFrame,
          }
        : {}),
    };
  } finally {
    clearInterval(poll);
    moq?.close();
    // The backup goes first and the primary once the backup has stalled, so the end is no switch.
    const stop = (role: 'primary' | 'backup') => {
      for (const { proc } of encoders.filter((e) => e.role === role)) {
        if (proc.exitCode !== null || proc.signalCode !== null) continue;
        proc.kill('SIGCONT');
        proc.kill('SIGKILL');
      }
    };
    stop('backup');
    await waitFor(() => !inputDelivers('backup', node.config.ingest.backup.stallMs + 200), { timeoutMs: 10_000, what: 'the backup to stop' }).catch(
      () => undefined,
    );
    stop('primary');
    for (const p of pages) await p.close().catch(() => undefined);
  }
}
