/**
 * `rtc`: N WebRTC subscriber bots (WHEP on libdatachannel: real ICE, DTLS, SRTP) on one
 * published stream, measuring what each receives — bitrate, loss from RTP sequence gaps,
 * frames and freezes — and the node's CPU from /metrics. The stream is published by a WHIP bot
 * (a looped pre-encoded H264 clip, no encoding cost) unless `--stream` names an existing one.
 */
import { LatencyHistogram, percentileOf } from '../core/LatencyHistogram';
import { figure, type Figure } from '../core/result';
import { intOption, LIMITS, UsageError } from '../core/safety';
import type { Scenario, ScenarioOutput } from '../core/Scenario';
import { WhepBot } from '../rtc/WhepBot';
import { WhipPublisher } from '../rtc/WhipPublisher';
import type { RtpCounters } from '../rtc/RtpReceiveStats';

const ROOM = 'loadtest-rtc';
const STREAM = 'loadtest-source';

/** The `rtc` scenario. */
export const rtcScenario: Scenario = {
  name: 'rtc',
  summary: 'N WebRTC viewers (WHEP, libdatachannel) of one stream: received bitrate, loss, freezes, node CPU.',
  help: [
    `  --viewers N           subscriber bots (default 10, at most ${LIMITS.maxViewers}; each costs this machine CPU too)`,
    '  --ramp N              viewers started per second (default 10)',
    '  --stream ROOM/ID      watch an existing stream instead of publishing one over WHIP',
    '  --bitrate KBPS        bitrate of the published clip (default 600)',
    '  --audio               viewers also receive audio (only with --stream; the WHIP bot publishes video)',
  ],
  options: {
    viewers: { type: 'string' },
    ramp: { type: 'string' },
    stream: { type: 'string' },
    bitrate: { type: 'string' },
    audio: { type: 'boolean' },
  },
  scrape: {
    gauges: { whepSessions: 'subsec_whep_sessions', consumers: 'subsec_consumers' },
    rates: { rtpOutPacketsPerS: 'subsec_rtp_packets_total{direction="out"}' },
  },
  localNode: (_values, common) => ({ workers: common.workers, config: { whep: { maxSessions: LIMITS.maxViewers + 10 } } }),
  async run(ctx): Promise<ScenarioOutput> {
    const v = ctx.values;
    const viewers = intOption('viewers', v.viewers as string | undefined, 10, 1, LIMITS.maxViewers);
    const rampPerS = intOption('ramp', v.ramp as string | undefined, 10, 1, 1000);
    const bitrateKbps = intOption('bitrate', v.bitrate as string | undefined, 600, 50, 20_000);
    let room = ROOM;
    let stream = STREAM;
    if (typeof v.stream === 'string') {
      const m = /^([^/]+)\/([^/]+)$/.exec(v.stream);
      if (!m) throw new UsageError('--stream must be ROOM/IDENTITY');
      [room, stream] = [m[1]!, m[2]!];
    }
    const notes: string[] = [];
    let publisher: WhipPublisher | undefined;
    const bots: WhepBot[] = [];
    const setup = new LatencyHistogram();
    const failures = new Map<string, number>();
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
      const token = await ctx.target.token({ room, identity: 'loadtest-viewer', canSubscribe: true });
      const url = `${ctx.target.url}/whep/${encodeURIComponent(room)}/${encodeURIComponent(stream)}`;
      // The source needs a moment before WHEP finds its producer.
      const ready = Date.now() + 10_000;
      for (;;) {
        const probe = await WhepBot.start('loadtest-probe', { url, token, audio: v.audio === true }).catch((err: Error & { status?: number }) => err);
        if (!(probe instanceof Error)) {
          await probe.stop();
          break;
        }
        if (Date.now() > ready || (probe.status !== 404 && probe.status !== undefined)) throw new Error(`cannot watch ${room}/${stream}: ${probe.message}`);
        await new Promise((r) => setTimeout(r, 250));
      }

      ctx.phase(`starting ${viewers} viewers at ${rampPerS}/s`);
      let last = new Map<WhepBot, RtpCounters>();
      const sampler = setInterval(() => {
        const now = new Map<WhepBot, RtpCounters>();
        let bytes = 0;
        let expected = 0;
        let received = 0;
        let freezes = 0;
        let receiving = 0;
        for (const bot of bots) {
          const c = bot.counters().video;
          now.set(bot, c);
          const p = last.get(bot);
          if (!p) continue;
          bytes += c.bytes - p.bytes;
          expected += c.expected - p.expected;
          received += c.packets - p.packets;
          freezes += c.freezes - p.freezes;
          if (c.packets > p.packets) receiving++;
        }
        last = now;
        ctx.timeline.gauge('viewers', bots.length);
        ctx.timeline.gauge('receiving', receiving);
        ctx.timeline.gauge('kbpsPerViewer', receiving ? Math.round((bytes * 8) / 1000 / receiving) : 0);
        ctx.timeline.gauge('lossPct', expected > 0 ? Math.round((10000 * Math.max(0, expected - received)) / expected) / 100 : 0);
        ctx.timeline.count('freezes', freezes);
      }, 1000);
      ctx.status(() => `${bots.length}/${viewers} viewers  ${failures.size ? [...failures.values()].reduce((a, b) => a + b, 0) + ' failed  ' : ''}`);
      try {
        const startOne = async (i: number) => {
          const t = performance.now();
          try {
            const bot = await WhepBot.start(`loadtest-viewer-${i}`, { url, token, audio: v.audio === true });
            setup.record(performance.now() - t);
            ctx.timeline.latency(performance.now() - t);
            bots.push(bot);
          } catch (err) {
            const key = (err as Error).message.replace(/[0-9a-f-]{36}/g, '…').slice(0, 80);
            failures.set(key, (failures.get(key) ?? 0) + 1);
            ctx.timeline.count('failures');
          }
        };
        const starting: Promise<void>[] = [];
        for (let i = 0; i < viewers && !ctx.signal.aborted; i++) {
          starting.push(startOne(i));
          await new Promise((r) => setTimeout(r, 1000 / rampPerS));
        }
        await Promise.all(starting);
        ctx.phase(`holding ${bots.length} viewers for ${ctx.common.durationS} s`);
        const holdStart = new Map(bots.map((b) => [b, b.counters()]));
        const holdT0 = performance.now();
        const serverFrom = ctx.server().length;
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
        const holdS = (performance.now() - holdT0) / 1000;
        let expected = 0;
        let received = 0;
        let bytes = 0;
        let freezes = 0;
        let freezeMs = 0;
        let frames = 0;
        let silent = 0;
        const perViewerLoss: number[] = [];
        const firstPackets: number[] = [];
        for (const bot of bots) {
          const a = holdStart.get(bot)!.video;
          const c = bot.counters();
          const b = c.video;
          const e = b.expected - a.expected;
          const r = b.packets - a.packets;
          expected += e;
          received += r;
          bytes += b.bytes - a.bytes;
          freezes += b.freezes - a.freezes;
          freezeMs += b.freezeMs - a.freezeMs;
          frames += b.frames - a.frames;
          if (r === 0) silent++;
          perViewerLoss.push(e > 0 ? (100 * Math.max(0, e - r)) / e : 100);
          if (c.firstPacketMs !== null) firstPackets.push(c.firstPacketMs);
        }
        const n = Math.max(1, bots.length);
        const server = ctx.server().slice(serverFrom);
        const mean = (key: string) => {
          const vals = server.map((s) => s[key]).filter((x): x is number => typeof x === 'number');
          return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
        };
        const failed = [...failures.values()].reduce((a, b) => a + b, 0);
        const figures: Record<string, Figure> = {
          viewers: figure('Viewers connected', bots.length, 'count', 'higher', 0),
          failedViewers: figure('Viewers that failed to connect', failed, 'count', 'lower', 0),
          silentViewers: figure('Connected viewers that received nothing while holding', silent, 'count', 'lower', 0),
          kbpsPerViewer: figure('Received bitrate per viewer (mean)', (bytes * 8) / 1000 / holdS / n, 'kbps', 'higher', 0.1),
          fpsPerViewer: figure('Frames per second per viewer (mean)', frames / holdS / n, 'fps', 'higher', 0.1),
          lossPct: figure('Packet loss (all viewers)', expected > 0 ? (100 * Math.max(0, expected - received)) / expected : null, '%', 'lower', 0.5),
          worstViewerLossPct: figure('Packet loss, worst viewer', perViewerLoss.length ? Math.max(...perViewerLoss) : null, '%', 'lower', 0.5),
          freezesPerViewerMinute: figure('Freezes per viewer-minute', (freezes / n / holdS) * 60, 'count', 'lower', 0.5),
          frozenPct: figure('Time frozen (share of viewing time)', (100 * freezeMs) / 1000 / (holdS * n), '%', 'lower', 0.5),
          setupP50Ms: figure('Set-up p50 (offer → connected)', setup.percentile(50), 'ms', 'lower', 0.25),
          setupP95Ms: figure('Set-up p95', setup.percentile(95), 'ms', 'lower', 0.3),
          firstPacketP50Ms: figure('First video packet p50 (from POST)', percentileOf(firstPackets, 50), 'ms', 'lower', 0.3),
          firstPacketP95Ms: figure('First video packet p95', percentileOf(firstPackets, 95), 'ms', 'lower', 0.3),
          workerCpuPct: figure('Worker CPU while holding (mean, /metrics)', mean('workerCpuPct'), '%', 'lower', 0.25),
          nodeCpuPct: figure('Node process CPU while holding (mean, /metrics)', mean('nodeCpuPct'), '%', 'lower', 0.25),
        };
        // What the node says it sent (all its consumers, including one pipe per WHEP router) against
        // what the bots got: a shortfall without sequence gaps means the bots fell behind.
        const sentPps = mean('rtpOutPacketsPerS');
        const receivedPps = received / holdS;
        if (sentPps !== null && sentPps > 0) {
          figures.receivedOfSentPct = figure(
            'Packets the bots received of those the node sent',
            Math.min(100, (100 * receivedPps) / sentPps),
            '%',
            'higher',
            0.02,
          );
          if (receivedPps < 0.9 * sentPps) {
            notes.push(
              `The bots received ${((100 * receivedPps) / sentPps).toFixed(0)} % of the packets the node sent (${receivedPps.toFixed(0)} of ${sentPps.toFixed(0)} packets/s): ` +
                'the load generator, not the node, is the limit here — libdatachannel delivers only a few thousand packets/s to JavaScript per process. ' +
                'Use fewer viewers per run, run several generators, or measure capacity with npm run bench:fanout.',
            );
          }
        }
        const workerCpu = figures.workerCpuPct!.value;
        if (workerCpu !== null && bots.length > 0) {
          figures.workerCpuPerViewerPct = figure('Worker CPU per viewer', workerCpu / bots.length, '%', 'lower', 0.25);
        }
        notes.push(`${bots.length} of ${viewers} viewers connected; measured over ${holdS.toFixed(1)} s of holding after the ramp.`);
        if (failures.size) notes.push(`Viewer failures: ${[...failures].map(([k, n]) => `${n} × ${k}`).join('; ')}.`);
        notes.push(
          'Viewers are libdatachannel peers: real ICE/DTLS/SRTP, no decoding. A freeze is an inter-frame gap above max(3 × mean, mean + 150 ms), as in WebRTC stats.',
        );
        if (publisher) notes.push(`Source: a ${bitrateKbps} kbps H264 clip published over WHIP by the tool (${publisher.packetsSent} packets sent).`);
        return {
          figures,
          series: {
            viewers: { label: 'viewers', unit: 'count' },
            receiving: { label: 'viewers receiving', unit: 'count' },
            kbpsPerViewer: { label: 'kbps per viewer', unit: 'kbps' },
            lossPct: { label: 'loss', unit: '%' },
            freezes: { label: 'freezes', unit: 'count' },
          },
          charts: [
            {
              id: 'viewers',
              title: 'Viewers',
              yLabel: 'count',
              series: [
                { key: 'viewers', label: 'connected', from: 'timeline' },
                { key: 'receiving', label: 'receiving this second', from: 'timeline' },
              ],
            },
            {
              id: 'bitrate',
              title: 'Received bitrate per viewer',
              yLabel: 'kbps',
              series: [{ key: 'kbpsPerViewer', label: 'kbps per viewer', from: 'timeline' }],
            },
            {
              id: 'loss',
              title: 'Loss and freezes',
              yLabel: '% / count',
              series: [
                { key: 'lossPct', label: 'loss %', from: 'timeline' },
                { key: 'freezes', label: 'freezes (all viewers)', from: 'timeline' },
              ],
            },
          ],
          notes,
          options: {
            viewers,
            rampPerS,
            stream: `${room}/${stream}`,
            published: Boolean(publisher),
            bitrateKbps: publisher ? bitrateKbps : null,
            audio: v.audio === true,
          },
        };
      } finally {
        clearInterval(sampler);
      }
    } finally {
      await Promise.all(bots.map((b) => b.stop()));
      await publisher?.stop();
    }
  },
};
