/**
 * `hls`: CDN-style LL-HLS viewers on the origin: each follows a rendition's media playlist with
 * blocking reloads and fetches every preload-hinted part, with CMCD headers, as a low-latency
 * player (or a CDN edge without coalescing) would. The stream is published over WHIP by the
 * tool (a looped H264 clip) unless `--stream` names an existing one; the node packages it on
 * the first request. Measures reload and part timings, each part's age when the viewer had it
 * (against its program-date-time), whether viewers keep up, and the node's CPU.
 *
 * autocannon is not used here: it resets a connection's request context after every request
 * cycle, so it cannot carry a viewer's playlist position from one blocking reload to the next.
 */
import { setMaxListeners } from 'node:events';
import { LatencyHistogram } from '../core/LatencyHistogram';
import { figure, type Figure } from '../core/result';
import { intOption, LIMITS, UsageError } from '../core/safety';
import type { Scenario, ScenarioOutput } from '../core/Scenario';
import { LlHlsViewer } from '../players/LlHlsViewer';
import { WhipPublisher } from '../rtc/WhipPublisher';

const ROOM = 'loadtest-hls';
const STREAM = 'loadtest-source';

/** Rendition playlists of a multivariant playlist: name (first path segment) → absolute URL. */
export function renditionsOf(multivariant: string, baseUrl: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = multivariant.split('\n').map((l) => l.trim());
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
    const uri = lines[i + 1];
    if (!uri || uri.startsWith('#')) return;
    const url = new URL(uri, baseUrl);
    const name = uri.split('?')[0]!.split('/')[0]!;
    out.set(name, url.toString());
  });
  return out;
}

/** The `hls` scenario. */
export const hlsScenario: Scenario = {
  name: 'hls',
  summary: 'LL-HLS viewers: blocking playlist reloads + preload-hinted part fetches with CMCD, per rendition.',
  help: [
    `  --viewers N           concurrent viewers (default 20, at most ${LIMITS.maxViewers}); each holds 2 HTTP/1.1 connections`,
    '  --renditions LIST     rendition names to spread viewers over, or all (default all)',
    '  --stream ROOM/ID      watch an existing stream instead of publishing one over WHIP',
    '  --bitrate KBPS        bitrate of the published clip (default 600)',
  ],
  options: {
    viewers: { type: 'string' },
    renditions: { type: 'string' },
    stream: { type: 'string' },
    bitrate: { type: 'string' },
  },
  scrape: {
    gauges: { hlsStreams: 'subsec_hls_streams' },
    rates: { heldDelaySumPerS: 'subsec_hls_held_response_delay_seconds_sum', heldCountPerS: 'subsec_hls_held_response_delay_seconds_count' },
  },
  localNode: (_values, common) => ({ workers: common.workers, config: { hls: { enabled: true } } }),
  async run(ctx): Promise<ScenarioOutput> {
    const v = ctx.values;
    const viewerCount = intOption('viewers', v.viewers as string | undefined, 20, 1, LIMITS.maxViewers);
    const bitrateKbps = intOption('bitrate', v.bitrate as string | undefined, 600, 50, 20_000);
    let room = ROOM;
    let stream = STREAM;
    if (typeof v.stream === 'string') {
      const m = /^([^/]+)\/([^/]+)$/.exec(v.stream);
      if (!m) throw new UsageError('--stream must be ROOM/IDENTITY');
      [room, stream] = [m[1]!, m[2]!];
    }
    let publisher: WhipPublisher | undefined;
    const viewers: LlHlsViewer[] = [];
    const controller = new AbortController();
    // Every viewer's requests listen on this one signal.
    setMaxListeners(0, controller.signal);
    const onAbort = () => controller.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const playlist = new LatencyHistogram();
    const ttfb = new LatencyHistogram();
    const partTotal = new LatencyHistogram();
    const age = new LatencyHistogram();
    const errors = new Map<string, number>();
    let bytes = 0;
    let measuring = false;
    try {
      if (typeof v.stream !== 'string') {
        ctx.phase('publishing the source over WHIP');
        publisher = await WhipPublisher.start({
          url: ctx.target.url,
          room,
          stream,
          token: await ctx.target.token({ room, identity: stream, canPublish: true }),
          bitrateKbps,
        });
      }
      ctx.phase('waiting for the node to package the stream');
      const base = `${ctx.target.url}/hls/${encodeURIComponent(room)}/${encodeURIComponent(stream)}/index.m3u8`;
      const deadline = Date.now() + 40_000;
      let multivariant: string | undefined;
      let lastStatus = 0;
      while (Date.now() < deadline && !ctx.signal.aborted) {
        const res = await fetch(base, { signal: AbortSignal.timeout(20_000) }).catch(() => undefined);
        lastStatus = res?.status ?? 0;
        if (res?.status === 200) {
          multivariant = await res.text();
          break;
        }
        if (res?.status === 404 && Date.now() > deadline - 30_000) throw new UsageError(`${base}: 404 — the target has no LL-HLS output (or no such stream)`);
        await new Promise((r) => setTimeout(r, 500));
      }
      if (!multivariant) throw new Error(`${base} did not become available (last status ${lastStatus})`);
      const all = renditionsOf(multivariant, base);
      const wanted = typeof v.renditions === 'string' && v.renditions !== 'all' ? v.renditions.split(',').map((s) => s.trim()) : [...all.keys()];
      for (const w of wanted) if (!all.has(w)) throw new UsageError(`--renditions: no rendition ${w} (has ${[...all.keys()].join(', ')})`);
      if (wanted.length === 0) throw new Error('the multivariant playlist lists no renditions');

      ctx.phase(`starting ${viewerCount} viewers over ${wanted.join(', ')}`);
      ctx.status(
        () =>
          `${viewers.length} viewers  ${partTotal.count} parts  ${[...errors.values()].reduce((a, b) => a + b, 0)} errors  part age p95 ${age.percentile(95).toFixed(0)} ms`,
      );
      const runs: Promise<void>[] = [];
      for (let i = 0; i < viewerCount && !ctx.signal.aborted; i++) {
        const viewer = new LlHlsViewer(all.get(wanted[i % wanted.length]!)!, {
          playlist: (ms) => {
            if (measuring) playlist.record(ms);
          },
          part: (firstByte, total, n, ageMs) => {
            if (!measuring) return;
            ttfb.record(firstByte);
            partTotal.record(total);
            bytes += n;
            ctx.timeline.count('parts');
            ctx.timeline.count('kbytes', n / 1000);
            if (ageMs !== null) {
              age.record(Math.max(0, ageMs));
              ctx.timeline.latency(Math.max(0, ageMs));
            }
          },
          error: (kind, reason) => {
            const key = `${kind}: ${reason}`;
            errors.set(key, (errors.get(key) ?? 0) + 1);
            if (measuring) ctx.timeline.count('errors');
          },
        });
        viewers.push(viewer);
        runs.push(viewer.run(controller.signal));
        await new Promise((r) => setTimeout(r, Math.min(50, 1000 / viewerCount)));
      }
      // Let every viewer reach the live edge before measuring.
      await new Promise((r) => setTimeout(r, 2000));
      errors.clear();
      const serverFrom = ctx.server().length;
      const partsBefore = viewers.reduce((a, x) => a + x.parts, 0);
      measuring = true;
      const t0 = performance.now();
      ctx.phase(`measuring ${viewers.length} viewers for ${ctx.common.durationS} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ctx.common.durationS * 1000);
        ctx.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
      measuring = false;
      const seconds = (performance.now() - t0) / 1000;
      const parts = viewers.reduce((a, x) => a + x.parts, 0) - partsBefore;
      controller.abort();
      for (const x of viewers) x.stop();
      await Promise.race([Promise.allSettled(runs), new Promise((r) => setTimeout(r, 5000))]);
      const server = ctx.server().slice(serverFrom);
      const mean = (key: string) => {
        const vals = server.map((s) => s[key]).filter((x): x is number => typeof x === 'number');
        return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
      };
      const heldSum = server.reduce((a, s) => a + ((s.heldDelaySumPerS as number | null) ?? 0), 0);
      const heldCount = server.reduce((a, s) => a + ((s.heldCountPerS as number | null) ?? 0), 0);
      const partTargetMs = 200;
      const partsPerViewerPerS = parts / seconds / Math.max(1, viewers.length);
      const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
      const figures: Record<string, Figure> = {
        viewers: figure('Viewers', viewers.length, 'count', 'none'),
        errors: figure('Errors (failed or unexpected-status requests)', errorCount, 'count', 'lower', 0),
        partsPerSPerViewer: figure('Parts per second per viewer', partsPerViewerPerS, 'parts/s', 'higher', 0.1),
        throughputMbps: figure('Media delivered (all viewers)', (bytes * 8) / 1e6 / seconds, 'Mbps', 'higher', 0.1),
        partAgeP50Ms: figure('Part age at receipt p50 (now − its media start; includes the part itself)', age.percentile(50), 'ms', 'lower', 0.3),
        partAgeP95Ms: figure('Part age at receipt p95', age.percentile(95), 'ms', 'lower', 0.3),
        partTtfbP50Ms: figure('Part time to first byte p50 (held until published)', ttfb.percentile(50), 'ms', 'none'),
        partTotalP99Ms: figure('Part request p99 (to last byte)', partTotal.percentile(99), 'ms', 'lower', 0.3),
        playlistP50Ms: figure('Blocking reload p50 (held until the next part)', playlist.percentile(50), 'ms', 'none'),
        playlistP99Ms: figure('Blocking reload p99', playlist.percentile(99), 'ms', 'lower', 0.3),
        heldDelayMeanMs: figure('Held answer after publication, mean (node metric)', heldCount > 0 ? (1000 * heldSum) / heldCount : null, 'ms', 'lower', 0.3),
        nodeCpuPct: figure('Node process CPU (mean, /metrics)', mean('nodeCpuPct'), '%', 'lower', 0.25),
        totalCpuPct: figure('Node + workers + ffmpeg CPU (mean, /proc)', mean('totalCpuPct'), '%', 'lower', 0.25),
      };
      const notes = [
        `${viewers.length} viewers over ${wanted.join(', ')}; one part per ${partTargetMs} ms is ${(1000 / partTargetMs).toFixed(0)} parts/s per viewer at the live edge.`,
        "Part age compares the part's program-date-time with this machine's clock: meaningful when the node shares the clock (local, or NTP-synced). A part cannot be younger than its own duration.",
      ];
      if (errors.size)
        notes.push(
          `Errors: ${[...errors]
            .slice(0, 6)
            .map(([k, n]) => `${n} × ${k}`)
            .join('; ')}.`,
        );
      if (publisher)
        notes.push(
          `Source: a ${bitrateKbps} kbps H264 clip published over WHIP by the tool; the node transcodes its ladder on demand (ffmpeg CPU is in the process-tree figure).`,
        );
      return {
        figures,
        series: {
          parts: { label: 'parts per second (all viewers)', unit: 'parts/s' },
          kbytes: { label: 'kB per second', unit: 'kB/s' },
          errors: { label: 'errors per second', unit: 'count' },
        },
        charts: [
          {
            id: 'throughput',
            title: 'Parts delivered per second (all viewers)',
            yLabel: 'per second',
            series: [
              { key: 'parts', label: 'parts/s', from: 'timeline' },
              { key: 'errors', label: 'errors/s', from: 'timeline' },
            ],
          },
        ],
        notes: ['The latency chart shows the part age at receipt per second.', ...notes],
        options: {
          viewers: viewerCount,
          renditions: wanted,
          stream: `${room}/${stream}`,
          published: Boolean(publisher),
          bitrateKbps: publisher ? bitrateKbps : null,
        },
      };
    } finally {
      controller.abort();
      ctx.signal.removeEventListener('abort', onAbort);
      for (const x of viewers) x.stop();
      await publisher?.stop();
    }
  },
};
