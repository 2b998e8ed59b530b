/**
 * The audience-shaped ladder's encoder saving (part of `npm run bench:hls`): a node of its own
 * with `hls.ladderAdaptation` on and its synthetic source packaged as a three-rung ladder; a
 * scripted audience of CMCD viewers (real HTTP requests carrying `sid` and `mtp`) first spread
 * over every rung (the full ladder is kept), then all on the floor with ~350 kbps (a mobile
 * audience: the upper rungs are dropped). The ladder's ffmpeg processes' CPU time
 * (/proc/<pid>/stat utime+stime) is measured over the same window length in both phases of the
 * same run; `ladderAdaptedEncodeCpuSavedPct` is the share the adapted ladder saves. For scale, the
 * same ladder with adaptation off (one ffmpeg for every rung, which decodes the source once) is
 * measured first on a node of its own: `ladderSingleJobEncodeCpuPct`.
 */
import fs from 'node:fs';
import { parseConfig } from '../../src/config/loadConfig';
import { SubsecNode } from '../../src/SubsecNode';

const ROOM = 'bench-ladder';
const CLK_TCK = 100;

/** What {@link measureLadderAdaptation} reports. */
export interface LadderBenchResult {
  ladderSingleJobEncodeCpuPct: number;
  ladderFullEncodeCpuPct: number;
  ladderAdaptedEncodeCpuPct: number;
  ladderAdaptedEncodeCpuSavedPct: number;
  ladderRungsFull: number;
  ladderRungsAdapted: number;
  ladderEncodersFull: number;
  ladderEncodersAdapted: number;
  ladderChanges: string[];
  ladderSecondsToAdapt: number;
}

/** CPU ticks (utime + stime) of a process; undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5); the slice starts at field 3.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** CPU use (% of one core) of `pids` together over `seconds`; throws when a process exits meanwhile. */
async function encodeCpuPct(pids: () => number[], seconds: number): Promise<number> {
  const set = pids();
  if (set.length === 0) throw new Error('no ladder encoder is running');
  const t0 = set.map(cpuTicks);
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const t1 = set.map(cpuTicks);
  const wall = (performance.now() - w0) / 1000;
  if ([...t0, ...t1].some((t) => t === undefined)) throw new Error('a ladder encoder exited during the CPU measurement');
  const ticks = t1.reduce<number>((sum, t, i) => sum + t! - t0[i]!, 0);
  if (pids().join() !== set.join()) throw new Error('the ladder changed during the CPU measurement');
  return (ticks / CLK_TCK / wall) * 100;
}

async function until<T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Scripted CMCD viewers: each polls its rendition's media playlist with its sid and throughput. */
class ScriptedAudience {
  viewers: Array<{ sid: string; rendition: string; mtpKbps: number }> = [];
  failures = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #abort = new AbortController();

  constructor(base: string) {
    this.#timer = setInterval(() => {
      for (const v of this.viewers) {
        const cmcd = encodeURIComponent(`mtp=${v.mtpKbps},ot=m,sid="${v.sid}",v=2`);
        fetch(`${base}/hls/${ROOM}/synthetic/${v.rendition}/index.m3u8?CMCD=${cmcd}`, { signal: this.#abort.signal })
          .then(async (r) => {
            await r.arrayBuffer();
            if (r.status !== 200) this.failures++;
          })
          .catch(() => {
            if (!this.#abort.signal.aborted) this.failures++;
          });
      }
    }, 500);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#abort.abort();
  }
}

const RENDITIONS = [
  { name: 'high', height: 360, videoKbps: 900 },
  { name: 'mid', height: 240, videoKbps: 400 },
  { name: 'low', height: 160, videoKbps: 180 },
];

/** The same ladder with adaptation off: the one ffmpeg job's CPU while a viewer keeps it packaged. */
async function singleJobCpuPct(seconds: number, log: (m: string) => void): Promise<number> {
  const node = new SubsecNode(
    parseConfig({
      http: { port: 0, host: '127.0.0.1' },
      synthetic: { enabled: true, room: ROOM },
      moq: { enabled: false },
      srt: { enabled: false },
      sfu: { workers: 1 },
      logLevel: 'warn',
      hls: { renditions: RENDITIONS },
    }),
  );
  const url = await node.start();
  const audience = new ScriptedAudience(url);
  try {
    await until(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf('synthetic')
          .some((p) => p.kind === 'video'),
      20_000,
      'the synthetic source',
    );
    const first = await fetch(`${url}/hls/${ROOM}/synthetic/index.m3u8`);
    if (first.status !== 200) throw new Error(`multivariant playlist answered ${first.status}`);
    audience.viewers = [{ sid: 'single-1', rendition: 'high', mtpKbps: 5000 }];
    await new Promise((r) => setTimeout(r, 2000));
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    log(`adaptation off: ${stream.encoderPids.length} ffmpeg process for ${RENDITIONS.length} rungs; measuring ${seconds} s...`);
    return await encodeCpuPct(() => stream.encoderPids, seconds);
  } finally {
    audience.stop();
    await node.close();
  }
}

/** Runs the scripted audience against a node of its own and measures the ladder's encode CPU before and after it adapts. */
export async function measureLadderAdaptation(o: { seconds: number; log: (m: string) => void }): Promise<LadderBenchResult> {
  const single = await singleJobCpuPct(o.seconds, o.log);
  const node = new SubsecNode(
    parseConfig({
      http: { port: 0, host: '127.0.0.1' },
      synthetic: { enabled: true, room: ROOM },
      moq: { enabled: false },
      srt: { enabled: false },
      sfu: { workers: 1 },
      logLevel: 'warn',
      hls: {
        renditions: RENDITIONS,
        ladderAdaptation: {
          enabled: true,
          windowMs: 8000,
          evaluateIntervalMs: 500,
          dropAfterMs: 5000,
          minDwellMs: 3000,
          minChangeIntervalMs: 1000,
          minViewers: 2,
          retireIdleMs: 1500,
        },
      },
    }),
  );
  const url = await node.start();
  const audience = new ScriptedAudience(url);
  try {
    await until(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf('synthetic')
          .some((p) => p.kind === 'video'),
      20_000,
      'the synthetic source',
    );
    const first = await fetch(`${url}/hls/${ROOM}/synthetic/index.m3u8`);
    if (first.status !== 200) throw new Error(`multivariant playlist answered ${first.status}`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const rungs = () => stream.listedRenditions.filter((r) => r.kind === 'video').length;
    // Phase 1: a mixed audience on every rung — the full ladder stays.
    audience.viewers = [
      { sid: 'desk-1', rendition: 'high', mtpKbps: 6000 },
      { sid: 'desk-2', rendition: 'high', mtpKbps: 5000 },
      { sid: 'lap-1', rendition: 'mid', mtpKbps: 900 },
      { sid: 'lap-2', rendition: 'mid', mtpKbps: 800 },
      { sid: 'phone-1', rendition: 'low', mtpKbps: 350 },
      { sid: 'phone-2', rendition: 'low', mtpKbps: 300 },
    ];
    await new Promise((r) => setTimeout(r, 2000)); // encoders past their start-up
    const ladderRungsFull = rungs();
    const ladderEncodersFull = stream.encoderPids.length;
    o.log(`full ladder: ${ladderRungsFull} rungs, ${ladderEncodersFull} ffmpeg processes; measuring ${o.seconds} s...`);
    const full = await encodeCpuPct(() => stream.encoderPids, o.seconds);
    if (stream.adaptiveLadder!.view().changes.length > 0) throw new Error('the full ladder changed while every rung had viewers');
    // Phase 2: everyone on the floor at ~350 kbps — the upper rungs go unrequested and are dropped.
    audience.viewers = audience.viewers.map((v, i) => ({ ...v, rendition: 'low', mtpKbps: 300 + 20 * i }));
    const adaptFrom = Date.now();
    await until(() => rungs() === 1 && stream.encoderPids.length === 1, 60_000, 'the ladder to adapt to its audience');
    const ladderSecondsToAdapt = (Date.now() - adaptFrom) / 1000;
    o.log(`adapted in ${ladderSecondsToAdapt.toFixed(1)} s: ${rungs()} rung, ${stream.encoderPids.length} ffmpeg process; measuring ${o.seconds} s...`);
    const adapted = await encodeCpuPct(() => stream.encoderPids, o.seconds);
    if (audience.failures > 0) o.log(`${audience.failures} scripted viewer requests failed`);
    return {
      ladderSingleJobEncodeCpuPct: Number(single.toFixed(1)),
      ladderFullEncodeCpuPct: Number(full.toFixed(1)),
      ladderAdaptedEncodeCpuPct: Number(adapted.toFixed(1)),
      ladderAdaptedEncodeCpuSavedPct: Number((((full - adapted) / full) * 100).toFixed(1)),
      ladderRungsFull,
      ladderRungsAdapted: rungs(),
      ladderEncodersFull,
      ladderEncodersAdapted: stream.encoderPids.length,
      ladderChanges: stream.adaptiveLadder!.view().changes.map((c) => `${c.action} ${c.rung}: ${c.reason}`),
      ladderSecondsToAdapt: Number(ladderSecondsToAdapt.toFixed(1)),
    };
  } finally {
    audience.stop();
    await node.close();
  }
}
