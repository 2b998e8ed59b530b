/**
 * `npm run bench:network`: quality of experience per network profile × delivery path, in the
 * network lab. One Chromium publisher (lan) paints the clock code into a node in its own lab
 * host; per path, one Chromium viewer per profile, each in its own host behind that profile,
 * watches through the SDK's `watch()` (WebRTC, MoQ over WebSocket, MoQ over WebTransport/QUIC, LL-HLS); the profiles' schedules start together once every viewer
 * plays. Per profile × path: startup ms, rebuffering % (WebRTC: the receiver's freeze time;
 * MoQ: gaps between presented frames over WebRTC's freeze threshold; LL-HLS: 'waiting' until
 * playing again), average bitrate kbit/s (IP bytes on the viewer's
 * downlink, from the link emulator), glass-to-glass p50/p95 ms (clock code read from presented
 * frames), failure rate %, and on `congested` the time from the drop to a lower layer or
 * rendition; plus the cascade hop latency over `intercontinental`. Writes result.json, report.md and SVG charts (loadtest/report); the last stdout line
 * is one JSON object with flat keys `<path>_<profile>_<figure>` (profile without dashes).
 *
 * Options: --quick (≤ 3 min: 4g, lossy-wifi, congested with its drop shortened to 10 s)
 *          --profiles a,b --paths webrtc,moqws,moqwt,llhls --seconds S (sampling window) --out DIR
 *          --simulcast (the publisher sends three layers of a 1280x720 canvas)
 *          --no-cascade (skip the cascade hop: origin and edge nodes over an intercontinental link,
 *          `cascade_intercontinental_hopAddedMs` = edge viewer's g2g p50 − origin viewer's)
 * Needs root (the lab); exits 1 when the rig failed or no viewer played at all (one viewer that
 * could not play is its failure rate), 2 without root.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../core/LocalNode';
import { describeEnvironment, figure, RESULT_SCHEMA, type ChartSpec, type Figure, type LoadResult, type TimelinePoint } from '../core/result';
import { writeReport } from '../report/markdownReport';
import { assertLabAvailable, LabUnavailableError } from './labNamespaces';
import { distribution } from './measureLink';
import { startCascadeRig } from './cascadeRig';
import { MediaLab, type LabViewer, type ViewerSample } from './MediaLab';
import { loadProfile, networkProfileSchema, type NetworkProfile } from './profiles';

/** Each measured path: the SDK transport, and for MoQ the carrier it is held to (checked after the start). */
const PATHS = {
  webrtc: { transport: 'webrtc' },
  moqws: { transport: 'moq', carrier: 'websocket' },
  moqwt: { transport: 'moq', carrier: 'webtransport' },
  llhls: { transport: 'hls' },
} as const satisfies Record<string, { transport: 'webrtc' | 'moq' | 'hls'; carrier?: 'websocket' | 'webtransport' }>;
type PathName = keyof typeof PATHS;

interface ViewerResult {
  profile: string;
  path: PathName;
  failed: string | null;
  startupMs: number | null;
  rebufferPct: number | null;
  bitrateKbps: number | null;
  g2gP50Ms: number | null;
  g2gP95Ms: number | null;
  downswitchMs: number | null;
  heights: Array<{ t: number; h: number; kbps: number }>;
}

function key(profile: string): string {
  return profile.replace(/-/g, '');
}

/** The congested profile with its drop moved earlier and shortened (quick runs). */
function quickCongested(p: NetworkProfile): NetworkProfile {
  return networkProfileSchema.parse({
    ...p,
    description: `${p.description} (quick: drop at 4 s for 10 s)`,
    schedule: [
      { atMs: 4000, note: 'drop to 400 kbit/s', down: { rateKbps: 400 } },
      { atMs: 14_000, note: 'recover to 3 Mbit/s', down: { rateKbps: 3000 } },
    ],
  });
}

async function measurePath(rig: MediaLab, pathName: PathName, profiles: NetworkProfile[], windowMs: number): Promise<ViewerResult[]> {
  const viewers: Array<{ profile: NetworkProfile; viewer?: LabViewer; error?: string; startupMs?: number }> = [];
  for (const profile of profiles) {
    try {
      viewers.push({ profile, viewer: await rig.addViewer(`${pathName}-${profile.name}`, profile, { startSchedule: false }) });
    } catch (err) {
      viewers.push({ profile, error: (err as Error).message });
    }
  }
  await Promise.all(
    viewers.map(async (v) => {
      if (!v.viewer) return;
      try {
        const path: { transport: 'webrtc' | 'moq' | 'hls'; carrier?: string } = PATHS[pathName];
        const started = await v.viewer.start(rig, path.transport, path.carrier ? { watchOptions: { moqCarrier: path.carrier } } : {});
        if (started.transport !== path.transport) throw new Error(`played over ${started.transport}`);
        if (path.carrier && started.wire !== path.carrier) throw new Error(`MoQ ran over ${started.wire}, not ${path.carrier}`);
        v.startupMs = started.firstFrameMs;
      } catch (err) {
        v.error = (err as Error).message.split('\n')[0]!;
      }
    }),
  );
  // A buffering player settles on its live target before sampling.
  if (pathName === 'llhls') await new Promise((r) => setTimeout(r, 4000));
  const live = viewers.filter((v) => v.viewer && !v.error);
  const before = await rig.lab.stats();
  const t0 = Date.now();
  for (const v of live) v.viewer!.host.startSchedule();
  const samples = await Promise.all(live.map((v) => v.viewer!.sample(windowMs).catch((err: Error) => err)));
  const after = await rig.lab.stats();
  const elapsedS = (Date.now() - t0) / 1000;
  const results: ViewerResult[] = [];
  for (const v of viewers) {
    const i = live.indexOf(v);
    const s = i >= 0 ? samples[i] : undefined;
    if (!v.viewer || v.error || !s || s instanceof Error) {
      results.push({
        profile: v.profile.name,
        path: pathName,
        failed: v.error ?? (s as Error | undefined)?.message ?? 'no viewer',
        startupMs: null,
        rebufferPct: null,
        bitrateKbps: null,
        g2gP50Ms: null,
        g2gP95Ms: null,
        downswitchMs: null,
        heights: [],
      });
      continue;
    }
    const sample = s as ViewerSample;
    const host = v.viewer.host;
    const down = (st: typeof before) => st.pipes[String(host.downPipe)]?.bytesOut ?? 0;
    const g2g = distribution(sample.g2gMs);
    let rebufferMs: number;
    if (pathName === 'webrtc') rebufferMs = 1000 * (sample.after.totalFreezesDuration - sample.before.totalFreezesDuration);
    else if (pathName === 'moqws' || pathName === 'moqwt') rebufferMs = sample.frozenMs;
    else rebufferMs = (await v.viewer.stalls()).filter((x) => x.at + x.ms >= t0).reduce((a, x) => a + Math.min(x.ms, x.at + x.ms - t0), 0);
    const timeline = (await v.viewer.timeline()).filter((p) => p.at >= t0 - 1000);
    const heights = timeline.map((p, k) => ({
      t: (p.at - t0) / 1000,
      h: p.frameHeight,
      kbps: k > 0 && pathName === 'webrtc' ? ((p.bytes - timeline[k - 1]!.bytes) * 8) / Math.max(1, p.at - timeline[k - 1]!.at) : NaN,
    }));
    let downswitchMs: number | null = null;
    const drop = v.profile.schedule[0];
    if (drop) {
      const atDrop = timeline.filter((p) => p.at < t0 + drop.atMs && p.frameHeight > 0).pop()?.frameHeight;
      const lower = timeline.find((p) => p.at >= t0 + drop.atMs && atDrop && p.frameHeight > 0 && p.frameHeight < atDrop);
      downswitchMs = lower ? lower.at - (t0 + drop.atMs) : null;
    }
    results.push({
      profile: v.profile.name,
      path: pathName,
      failed: sample.g2gMs.length === 0 ? 'no frame carried a readable clock code' : null,
      startupMs: v.startupMs ?? null,
      rebufferPct: (100 * rebufferMs) / (elapsedS * 1000),
      bitrateKbps: ((down(after) - down(before)) * 8) / elapsedS / 1000,
      g2gP50Ms: g2g.p50,
      g2gP95Ms: g2g.p95,
      downswitchMs,
      heights,
    });
  }
  for (const v of viewers) await v.viewer?.close();
  return results;
}

/** Cascade hop on the intercontinental link: g2g p50 of a viewer on the edge minus one on the origin. */
async function measureCascadeHop(windowMs: number): Promise<{ hopAddedMs: number; originG2gP50Ms: number; edgeG2gP50Ms: number; oneWayMs: number }> {
  const c = await startCascadeRig('intercontinental');
  try {
    const [atOrigin, atEdge] = await Promise.all([c.rig.addViewer('cascade-origin', 'lan'), c.rig.addViewer('cascade-edge', 'lan')]);
    await Promise.all([atOrigin.start(c.rig, 'webrtc'), atEdge.start(c.rig, 'webrtc', { url: c.edge.url })]);
    const [o, e] = await Promise.all([atOrigin.sample(windowMs), atEdge.sample(windowMs)]);
    if (o.g2gMs.length === 0 || e.g2gMs.length === 0) throw new Error('cascade: a viewer read no clock code');
    const originG2gP50Ms = distribution(o.g2gMs).p50;
    const edgeG2gP50Ms = distribution(e.g2gMs).p50;
    return { hopAddedMs: edgeG2gP50Ms - originG2gP50Ms, originG2gP50Ms, edgeG2gP50Ms, oneWayMs: loadProfile('intercontinental').up.delayMs ?? 0 };
  } finally {
    await c.rig.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      simulcast: { type: 'boolean' },
      cascade: { type: 'boolean', default: true },
      profiles: { type: 'string' },
      paths: { type: 'string' },
      seconds: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
    allowNegative: true,
  });
  try {
    assertLabAvailable();
  } catch (err) {
    if (err instanceof LabUnavailableError) {
      process.stderr.write(`bench:network: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const quick = values.quick === true;
  const profileNames = (values.profiles ?? (quick ? '4g,lossy-wifi,congested' : 'lan,cable,4g,lossy-wifi,congested,udp-blocked')).split(',');
  const pathNames = (values.paths ?? 'webrtc,moqws,moqwt,llhls').split(',') as PathName[];
  for (const p of pathNames) if (!(p in PATHS)) throw new Error(`--paths: unknown ${p} (${Object.keys(PATHS).join(', ')})`);
  const profiles = profileNames.map((n) => {
    const p = loadProfile(n.trim());
    return quick && p.name === 'congested' ? quickCongested(p) : p;
  });
  const lastStep = Math.max(0, ...profiles.flatMap((p) => p.schedule.map((s) => s.atMs)));
  const windowMs = values.seconds ? Number(values.seconds) * 1000 : Math.max(quick ? 12_000 : 30_000, lastStep + (quick ? 6000 : 15_000));
  const environment = describeEnvironment();
  const startedAt = new Date();
  process.stderr.write(`bench:network: ${profiles.map((p) => p.name).join(', ')} × ${pathNames.join(', ')}, ${windowMs / 1000} s each\n`);
  const rig = await MediaLab.start({
    moq: pathNames.includes('moqws') || pathNames.includes('moqwt'),
    nodeConfig: { hls: { partTargetMs: 200, segmentTargetMs: 1000 } },
  });
  const results: ViewerResult[] = [];
  let emulatorCpuS = 0;
  try {
    await rig.publish({ simulcast: values.simulcast === true });
    for (const p of pathNames) {
      process.stderr.write(`bench:network: ${p}...\n`);
      results.push(...(await measurePath(rig, p, profiles, windowMs)));
    }
    emulatorCpuS = (await rig.lab.stats()).cpuSeconds;
  } finally {
    await rig.close();
  }
  let cascade: Awaited<ReturnType<typeof measureCascadeHop>> | undefined;
  if (values.cascade) {
    process.stderr.write('bench:network: cascade over intercontinental...\n');
    cascade = await measureCascadeHop(quick ? 8000 : 20_000);
  }
  const endedAt = new Date();
  environment.loadavgEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);

  const figures: Record<string, Figure> = {};
  const flat: Record<string, number | null> = {};
  const put = (k: string, label: string, value: number | null, unit: string, better: 'higher' | 'lower') => {
    figures[k] = figure(label, value, unit, better);
    flat[k] = figures[k]!.value;
  };
  for (const r of results) {
    const prefix = `${r.path}_${key(r.profile)}`;
    const name = `${{ webrtc: 'WebRTC', moqws: 'MoQ over WebSocket', moqwt: 'MoQ over WebTransport/QUIC', llhls: 'LL-HLS' }[r.path]} on ${r.profile}`;
    put(`${prefix}_startupMs`, `${name}: startup (watch() to first frame)`, r.startupMs, 'ms', 'lower');
    put(`${prefix}_rebufferPct`, `${name}: rebuffering`, r.rebufferPct, '%', 'lower');
    put(`${prefix}_bitrateKbps`, `${name}: average bitrate at the viewer's link`, r.bitrateKbps, 'kbit/s', 'higher');
    put(`${prefix}_g2gP50Ms`, `${name}: glass-to-glass p50`, r.g2gP50Ms, 'ms', 'lower');
    put(`${prefix}_g2gP95Ms`, `${name}: glass-to-glass p95`, r.g2gP95Ms, 'ms', 'lower');
    put(`${prefix}_failurePct`, `${name}: failure rate`, r.failed ? 100 : 0, '%', 'lower');
    if (profiles.find((p) => p.name === r.profile)?.schedule.length)
      put(`${prefix}_downswitchMs`, `${name}: drop to a lower layer/rendition`, r.downswitchMs, 'ms', 'lower');
  }
  if (cascade) {
    put(
      'cascade_intercontinental_hopAddedMs',
      `Cascade hop over intercontinental (${cascade.oneWayMs} ms one way): edge viewer g2g p50 − origin viewer's`,
      cascade.hopAddedMs,
      'ms',
      'lower',
    );
    put('cascade_intercontinental_originG2gP50Ms', 'Cascade: viewer on the origin, g2g p50', cascade.originG2gP50Ms, 'ms', 'lower');
    put('cascade_intercontinental_edgeG2gP50Ms', 'Cascade: viewer on the edge, g2g p50', cascade.edgeG2gP50Ms, 'ms', 'lower');
  }
  put('emulatorCpuSeconds', 'Link emulator CPU time (whole run)', emulatorCpuS, 's', 'lower');

  // Charts: frame height and (WebRTC) received kbit/s over the window, per viewer.
  const timeline: TimelinePoint[] = [];
  const series: LoadResult['series'] = {};
  const charts: ChartSpec[] = [];
  for (const r of results) {
    const id = `${r.path}_${key(r.profile)}`;
    series[`${id}_height`] = { label: `${r.path} ${r.profile} frame height`, unit: 'px' };
    for (const p of r.heights) {
      const t = Math.round(p.t);
      let point = timeline.find((x) => x.t === t);
      if (!point) timeline.push((point = { t }));
      point[`${id}_height`] = p.h;
      if (Number.isFinite(p.kbps)) {
        series[`${id}_kbps`] = { label: `${r.path} ${r.profile} received`, unit: 'kbit/s' };
        point[`${id}_kbps`] = Math.round(p.kbps);
      }
    }
  }
  timeline.sort((a, b) => a.t - b.t);
  charts.push({
    id: 'frame-height',
    title: 'Decoded frame height per viewer (schedules start at 0 s)',
    yLabel: 'px',
    series: Object.keys(series)
      .filter((k) => k.endsWith('_height'))
      .map((k) => ({ key: k, label: series[k]!.label, from: 'timeline' as const })),
  });
  const kbpsKeys = Object.keys(series).filter((k) => k.endsWith('_kbps'));
  if (kbpsKeys.length)
    charts.push({
      id: 'webrtc-kbps',
      title: 'WebRTC received bitrate per viewer',
      yLabel: 'kbit/s',
      series: kbpsKeys.map((k) => ({ key: k, label: series[k]!.label, from: 'timeline' as const })),
    });

  const notes = [
    'One Chromium publisher (lan host, clock code over moving noise, H264 over WebRTC) into a node in its own lab host (lan); one Chromium viewer per profile × path, each in its own lab host behind the profile; paths measured one after the other.',
    `Profiles: ${profiles.map((p) => `${p.name} — ${p.description}`).join('; ')}.`,
    "Rebuffering: WebRTC = the receiver's totalFreezesDuration; MoQ = gaps between presented frames over max(3 × mean, mean + 150 ms) (WebRTC's freeze rule); LL-HLS = time from 'waiting' until playing again. Bitrate = IP bytes the emulator delivered on the viewer's downlink. Glass-to-glass = clock code painted by the publisher, read from each presented frame (all hosts share one clock).",
    ...results.filter((r) => r.failed).map((r) => `${r.path} on ${r.profile} failed: ${r.failed}`),
  ];
  const result: LoadResult = {
    schema: RESULT_SCHEMA,
    scenario: 'network',
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationS: Math.round((endedAt.getTime() - startedAt.getTime()) / 100) / 10,
    target: { url: 'local', local: true },
    options: { quick, simulcast: values.simulcast === true, profiles: profiles.map((p) => p.name), paths: pathNames, windowMs },
    environment,
    figures,
    timeline,
    series,
    server: [],
    charts,
    notes,
  };
  const dir = path.resolve(
    values.out ?? path.join(projectRoot, 'loadtest', 'results', `network-${startedAt.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`),
  );
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
  const report = writeReport(result, dir);
  console.log('path     profile           startup   rebuf    kbit/s   g2g p50   g2g p95   down-switch');
  for (const r of results) {
    const f = (v: number | null, d = 0) => (v === null ? '—' : v.toFixed(d));
    console.log(
      `${r.path.padEnd(8)} ${r.profile.padEnd(16)} ${f(r.startupMs).padStart(8)} ${f(r.rebufferPct, 2).padStart(7)} ${f(r.bitrateKbps).padStart(8)} ${f(r.g2gP50Ms).padStart(9)} ${f(r.g2gP95Ms).padStart(9)} ${f(r.downswitchMs).padStart(12)}${r.failed ? `  FAILED: ${r.failed}` : ''}`,
    );
  }
  if (cascade)
    console.log(
      `cascade over intercontinental (${cascade.oneWayMs} ms one way): origin viewer g2g p50 ${cascade.originG2gP50Ms} ms, edge viewer ${cascade.edgeG2gP50Ms} ms, hop added ${cascade.hopAddedMs} ms`,
    );
  console.log(`report: ${report}`);
  console.log(JSON.stringify({ bench: 'network', report, loadavg: environment.loadavgStart, ...flat }));
  // A viewer that could not play is a QoE figure (failure rate); no viewer playing at all means the
  // measurement itself is broken.
  return results.every((r) => r.failed) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
