/**
 * bench:ingest's RTSP camera count: N copy-mode pulls of one RTSP camera, and what they cost in
 * CPU (the node process, its mediasoup workers, its ffmpeg pulls; read from /proc over 10 s).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { SubsecNode } from '../../src/SubsecNode';

/** The figures of {@link measureRtspCameras}. */
export interface RtspCameraFigures {
  cameras: number;
  /** Every pull online, each pull's video packet rate within 10% of the median. */
  keptUp: boolean;
  /** CPU per camera, percent of one core. */
  cpuPerCameraPct: number;
  /** One core / CPU per camera (0 when the pulls did not keep up). */
  camerasPerCore: number;
}

const TICKS_PER_SECOND = 100;
const WINDOW_MS = 10_000;

/** CPU ticks (user + system) of a process; 0 when it is gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The node's ffmpeg pulls (children of this process reading rtsp://). */
function pullPids(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('ffmpeg') && l.includes('rtsp://'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Adds `count` pulls of `url`, waits for them online, measures, removes them. */
export async function measureRtspCameras(node: SubsecNode, url: string, count: number): Promise<RtspCameraFigures> {
  const rtsp = node.rtsp!;
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) ids.push(rtsp.add({ url, room: 'cameras', stream: `cam${i}`, transport: 'tcp' }).id);
    const deadline = Date.now() + 60_000;
    while (rtsp.list().filter((p) => ids.includes(p.id) && p.state === 'online').length < count) {
      if (Date.now() > deadline) throw new Error(`only ${rtsp.list().filter((p) => p.state === 'online').length} of ${count} pulls came online`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 2000)); // past the start-up bursts
    const room = node.rooms.get('cameras')!;
    const videoPackets = async () =>
      Promise.all(
        ids.map(async (_, i) => {
          const video = room.producersOf(`cam${i}`).find((p) => p.kind === 'video');
          return video ? ((await video.getStats())[0]?.packetCount ?? 0) : 0;
        }),
      );
    const pulls = pullPids();
    if (pulls.length !== count) throw new Error(`found ${pulls.length} ffmpeg pull processes for ${count} pulls`);
    const pids = [...pulls, ...node.pool.workers.map((w) => w.worker.pid)];
    const ticksBefore = pids.reduce((a, pid) => a + cpuTicks(pid), 0);
    const ownBefore = process.cpuUsage();
    const packetsBefore = await videoPackets();
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const packetsAfter = await videoPackets();
    const elapsedMs = Date.now() - startedAt;
    const own = process.cpuUsage(ownBefore);
    const ticks = pids.reduce((a, pid) => a + cpuTicks(pid), 0) - ticksBefore;
    const cpuMs = (ticks * 1000) / TICKS_PER_SECOND + (own.user + own.system) / 1000;
    const cpuPerCameraPct = (cpuMs / elapsedMs / count) * 100;
    const rates = packetsAfter.map((p, i) => p - packetsBefore[i]!).sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)]!;
    const keptUp =
      median > 0 &&
      rates[0]! >= 0.9 * median &&
      rtsp
        .list()
        .filter((p) => ids.includes(p.id))
        .every((p) => p.state === 'online');
    return { cameras: count, keptUp, cpuPerCameraPct: Math.round(cpuPerCameraPct * 100) / 100, camerasPerCore: keptUp ? Math.floor(100 / cpuPerCameraPct) : 0 };
  } finally {
    await Promise.all(ids.map((id) => rtsp.remove(id)));
  }
}
