/**
 * `npm run bench:fanout`: the fan-out ramp. How many consumers of one ~600 kbps H264 stream a
 * mediasoup worker (one core) forwards with < 1 % loss. Consumers sit on SRTP PlainTransports
 * that send to counting UDP sinks (no decryption; loss = RTP sequence gaps per consumer), so
 * the worker does the per-packet work of a WebRTC viewer (RTP rewrite, SRTP encryption, one
 * sendto per packet) while the load generator stays cheap. A step passes only when every consumer
 * kept receiving to the end of the window (one that stopped or never started counts its missing
 * packets as lost) and the loss is under the limit. A failed first window is measured twice more
 * and the step decided by the majority of all three; every attempt is printed and kept in the
 * JSON. The ramp doubles the consumer count until a step fails, then bisects. Afterwards a
 * calibration against real WebRTC viewers (libdatachannel over WHEP; 10 in --quick) anchors the
 * cheap-consumer figure. Prints a line per attempt, writes result.json + report.md, and ends stdout
 * with one JSON line; exits non-zero when no step passed or the calibration measured nothing.
 *
 * Options: see `--help`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FanoutRig, SRTP_SUITES, type SrtpSuite, type WindowMeasurement } from './FanoutRig';
import { describeEnvironment, figure, RESULT_SCHEMA, type LoadResult, type TimelinePoint } from '../core/result';
import { intOption, numberOption, UsageError } from '../core/safety';
import { projectRoot } from '../core/LocalNode';
import { writeReport } from '../report/markdownReport';
import { calibrateWebRtc, type Calibration } from './calibrateWebRtc';
import { BenchChecks, benchExitCode, reportBench } from '../core/benchOutcome';

const HELP = `Usage: npm run bench:fanout -- [options]

Finds the most consumers of one stream a mediasoup worker forwards at < 1 % loss.
  --workers N         mediasoup workers, consumers spread round-robin (default 1; use one per spare core)
  --start N           first step (default 100; --quick 200)
  --max N             stop ramping here (default 8000 per worker)
  --window S          measurement window per step (default 5; --quick 3)
  --settle S          wait after changing the consumer count (default 2; --quick 1.5)
  --loss PCT          loss limit in % (default 1)
  --bitrate KBPS      stream bitrate (default 600)
  --source clip|synthetic   looped pre-encoded clip via ffmpeg -c copy (default) or the node's live x264 source
  --srtp SUITE|none   consumers' SRTP suite (default AEAD_AES_256_GCM, Chromium's choice; ${Object.keys(SRTP_SUITES).join(', ')})
  --sink-threads N    receiver threads (default 1; more on a bigger machine)
  --calibrate N       afterwards, compare worker CPU of N WebRTC viewers (WHEP, libdatachannel) with N
                      SRTP plain consumers and estimate real viewers per core (default 0 = skip, --quick 10; try 100)
  --quick             shorter windows and a coarser search (CI)
  --out DIR           result.json + report.md (default loadtest/results/fanout-<time>)
`;

interface Step {
  consumers: number;
  /** The window the step is reported by (the last attempt). */
  m: WindowMeasurement;
  /** Every window measured at this step, in order, with its own verdict. */
  attempts: Array<{ m: WindowMeasurement; verdict: Verdict }>;
  pass: boolean;
  /** Failed while the worker waited for a CPU most of the time: the box, not the SFU. */
  starved: boolean;
  atS: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' },
      start: { type: 'string' },
      max: { type: 'string' },
      window: { type: 'string' },
      settle: { type: 'string' },
      loss: { type: 'string' },
      bitrate: { type: 'string' },
      source: { type: 'string' },
      srtp: { type: 'string' },
      'sink-threads': { type: 'string' },
      calibrate: { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const quick = values.quick === true;
  const workers = intOption('workers', values.workers, 1, 1, 256);
  const start = intOption('start', values.start, quick ? 200 : 100, 1, 1_000_000);
  const max = intOption('max', values.max, 8000 * workers, start, 1_000_000);
  const windowS = numberOption('window', values.window, quick ? 3 : 5, 1, 120);
  const settleS = numberOption('settle', values.settle, quick ? 1.5 : 2, 0.5, 60);
  const lossLimit = numberOption('loss', values.loss, 1, 0.01, 50);
  const bitrateKbps = intOption('bitrate', values.bitrate, 600, 50, 20_000);
  const source = (values.source ?? 'clip') as 'clip' | 'synthetic';
  if (source !== 'clip' && source !== 'synthetic') throw new UsageError('--source must be clip or synthetic');
  const srtp = (values.srtp ?? 'AEAD_AES_256_GCM') as SrtpSuite | 'none';
  if (srtp !== 'none' && !(srtp in SRTP_SUITES)) throw new UsageError(`--srtp must be none or one of ${Object.keys(SRTP_SUITES).join(', ')}`);
  const sinkThreads = intOption('sink-threads', values['sink-threads'], 1, 1, 64);
  const calibrateN = intOption('calibrate', values.calibrate, quick ? 10 : 0, 0, 1000);
  const environment = describeEnvironment();
  const startedAt = new Date();
  const log = (s: string) => process.stdout.write(s + '\n');

  log(`bench:fanout: ${workers} worker(s), ${bitrateKbps} kbps H264 (${source}), consumers on PlainTransports with SRTP ${srtp}, loss limit ${lossLimit} %`);
  log(
    `machine: ${environment.cpus} × ${environment.cpuModel}; load average ${environment.loadavgStart.join(' / ')} (the box is shared: figures move with the neighbours)`,
  );
  const rig = await FanoutRig.start({ workers, bitrateKbps, source, srtp, capacity: max + 16, sinkThreads });
  const steps: Step[] = [];
  const t0 = Date.now();
  let calibration: Calibration | undefined;
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    log(
      'consumers  loss %  worst %  >1% cons  stopped/silent  kbps/cons  worker CPU %  CPU wait %  µs/pkt  bench CPU %  sink drops  ingress drops  load1  verdict',
    );
    const measure = async (n: number): Promise<Step> => {
      // Stepping down after an overload: the worker first drains what queued up, so wait longer.
      const settle = n < rig.consumerCount ? 2 * settleS : settleS;
      await rig.setConsumers(n);
      await new Promise((r) => setTimeout(r, settle * 1000));
      // New consumers start on a key frame: give them up to 5 s more before the window (a consumer
      // that has not started by then counts its missing packets as lost, and fails the step).
      for (const until = Date.now() + 5000; rig.consumersStarted < n && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
      const attempts: Step['attempts'] = [];
      const attempt = async () => {
        const m = await rig.measure(windowS, controller.signal);
        const verdict = judge(m, lossLimit);
        attempts.push({ m, verdict });
        return verdict;
      };
      // A failed window can be a neighbour's burst on a shared box: two more windows, and the
      // step is decided by the majority of all three (each one printed and kept), never by the
      // last one alone. A starved worker (waiting for a CPU) gets a pause before each.
      const first = await attempt();
      if (first !== 'pass') {
        print(n, attempts[0]!.m, `${first}?`);
        for (let retry = 0; retry < 2 && !controller.signal.aborted; retry++) {
          if (attempts.at(-1)!.verdict === 'starved') await new Promise((r) => setTimeout(r, 3000));
          const v = await attempt();
          if (retry === 0) print(n, attempts.at(-1)!.m, `${v}?`);
        }
      }
      const passes = attempts.filter((a) => a.verdict === 'pass').length;
      const pass = passes * 2 > attempts.length;
      const m = attempts.at(-1)!.m;
      const verdict: Verdict = pass ? 'pass' : attempts.at(-1)!.verdict === 'pass' ? 'fail' : attempts.at(-1)!.verdict;
      print(
        n,
        m,
        pass ? (attempts.length > 1 ? `pass (${passes}/${attempts.length})` : 'pass') : `${verdict.toUpperCase()} (${passes}/${attempts.length} passed)`,
      );
      const step: Step = { consumers: n, m, attempts, pass, starved: !pass && attempts.some((a) => a.verdict === 'starved'), atS: (Date.now() - t0) / 1000 };
      steps.push(step);
      if (!rig.sourceRunning) throw new Error('the ffmpeg source stopped');
      return step;
    };
    const print = (n: number, m: WindowMeasurement, verdict: string) => {
      const cpu = m.workerCpuPct.map((c) => c.toFixed(0)).join('+');
      const wait = m.workerWaitPct.map((c) => c.toFixed(0)).join('+');
      log(
        `${String(n).padStart(9)}  ${m.lossPct.toFixed(2).padStart(6)}  ${m.worstLossPct.toFixed(1).padStart(7)}  ${String(m.consumersOver1Pct).padStart(8)}  ${`${m.stopped}/${m.notStarted}`.padStart(14)}  ` +
          `${m.meanKbps.toFixed(0).padStart(9)}  ${cpu.padStart(12)}  ${wait.padStart(10)}  ${(m.workerUsPerPacket?.toFixed(2) ?? '-').padStart(6)}  ${m.benchCpuPct.toFixed(0).padStart(11)}  ${String(m.sinkDrops).padStart(10)}  ${String(m.ingressDrops).padStart(13)}  ${m.loadavg1.toFixed(2).padStart(5)}  ${verdict}`,
      );
    };

    let lastPass = 0;
    let firstFail = Infinity;
    let starved = false;
    for (let n = start; !controller.signal.aborted;) {
      const s = await measure(n);
      if (!s.pass) {
        firstFail = n;
        starved = s.starved;
        break;
      }
      lastPass = n;
      if (n >= max) break;
      n = Math.min(max, n * 2);
    }
    const resolution = (pass: number) => Math.max(quick ? 50 : 20, Math.round(pass * (quick ? 0.1 : 0.05)));
    while (!controller.signal.aborted && !starved && Number.isFinite(firstFail) && firstFail - lastPass > resolution(lastPass)) {
      const mid = Math.round((lastPass + firstFail) / 2 / 10) * 10;
      if (mid <= lastPass || mid >= firstFail) break;
      const s = await measure(mid);
      if (s.pass) lastPass = mid;
      else {
        firstFail = mid;
        starved = s.starved;
      }
    }
    const best = [...steps].reverse().find((s) => s.pass && s.consumers === lastPass);
    const failing = [...steps].reverse().find((s) => !s.pass && s.consumers === firstFail);
    const limitedBy = !Number.isFinite(firstFail)
      ? 'max'
      : starved
        ? 'cpu-contention'
        : failing && failing.m.sinkDrops > 0.005 * Math.max(1, failing.m.packetsExpected)
          ? 'sink'
          : 'worker';
    if (calibrateN > 0 && !controller.signal.aborted) {
      await rig.setConsumers(0);
      log(`calibrating against ${calibrateN} WebRTC viewers (WHEP + libdatachannel)…`);
      calibration = await calibrateWebRtc(rig, calibrateN, { windowS, settleS });
      log(`  ${calibration.note}`);
    }

    const bestCpu = best ? best.m.workerCpuPct.reduce((a, b) => a + b, 0) : null;
    const consumersPerCore = lastPass > 0 ? Math.round(lastPass / workers) : null;
    const perFullCore = best && bestCpu && bestCpu > 0 ? Math.round((lastPass / bestCpu) * 100) : null;
    // The cost view: worker µs per forwarded packet (median over windows that forwarded enough
    // to be meaningful), turned into consumers a fully available core would carry.
    const costs = steps
      .map((s) => s.m.workerUsPerPacket)
      .filter((v): v is number => v !== null && Number.isFinite(v))
      .sort((a, b) => a - b);
    const usPerPacket = best?.m.workerUsPerPacket ?? (costs.length ? costs[Math.floor(costs.length / 2)]! : null);
    const pps = best?.m.ppsPerConsumer || steps.find((s) => s.m.ppsPerConsumer > 0)?.m.ppsPerConsumer || 0;
    const perCoreByCost = usPerPacket && pps ? Math.round(1e6 / (usPerPacket * pps)) : null;
    environment.loadavgEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
    const summary = {
      bench: 'fanout',
      consumersPerCore,
      maxConsumers: lastPass,
      firstFailingConsumers: Number.isFinite(firstFail) ? firstFail : null,
      limitedBy,
      workers,
      streamKbps: bitrateKbps,
      measuredKbpsPerConsumer: best ? Math.round(best.m.meanKbps) : null,
      lossPctAtMax: best ? round(best.m.lossPct, 3) : null,
      workerCpuPctAtMax: bestCpu === null ? null : round(bestCpu, 1),
      consumersPerWorkerCpuCore: perFullCore,
      workerUsPerPacket: usPerPacket === null ? null : round(usPerPacket, 3),
      packetsPerSecondPerConsumer: round(pps, 1),
      consumersPerCoreByCost: perCoreByCost,
      ...(calibration
        ? {
            webrtcCpuRatio: round(calibration.ratio, 2),
            estimatedWebRtcViewersPerCore: consumersPerCore === null ? null : Math.round(consumersPerCore / calibration.ratio),
            estimatedWebRtcViewersPerCoreByCost: perCoreByCost === null ? null : Math.round(perCoreByCost / calibration.ratio),
          }
        : {}),
      srtp,
      source,
      loss: lossLimit,
      cpus: environment.cpus,
      cpuModel: environment.cpuModel,
      loadavgStart: environment.loadavgStart[0],
      loadavgEnd: environment.loadavgEnd[0],
      steps: steps.map((s) => ({
        consumers: s.consumers,
        pass: s.pass,
        attempts: s.attempts.map(({ m, verdict }) => ({
          verdict,
          lossPct: round(m.lossPct, 3),
          worstLossPct: round(m.worstLossPct, 2),
          stopped: m.stopped,
          notStarted: m.notStarted,
          lateStart: m.lateStart,
          usPerPacket: m.workerUsPerPacket === null ? null : round(m.workerUsPerPacket, 3),
          workerCpuPct: round(
            m.workerCpuPct.reduce((a, b) => a + b, 0),
            1,
          ),
          workerWaitPct: round(Math.max(...m.workerWaitPct), 1),
        })),
      })),
    };
    const dir = path.resolve(
      values.out ?? path.join(projectRoot, 'loadtest', 'results', `fanout-${startedAt.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`),
    );
    const result = toLoadResult(summary, steps, calibration, {
      startedAt,
      environment,
      options: { workers, start, max, windowS, settleS, lossLimit, bitrateKbps, source, srtp, sinkThreads, quick, calibrate: calibrateN },
    });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
    const report = writeReport(result, dir);
    log('');
    log(
      consumersPerCore === null
        ? `max consumers at < ${lossLimit} % loss: inconclusive — no step passed (limited by ${limitedBy})`
        : `max consumers at < ${lossLimit} % loss: ${lastPass} on ${workers} worker(s) → ${consumersPerCore} per worker core (limited by ${limitedBy})`,
    );
    if (perCoreByCost)
      log(
        `cost: ${usPerPacket!.toFixed(2)} µs of worker CPU per forwarded packet at ${pps.toFixed(0)} packets/s per consumer → ${perCoreByCost} consumers per fully available core`,
      );
    if (best)
      log(
        `at that step: worker CPU ${bestCpu!.toFixed(0)} %, loss ${best.m.lossPct.toFixed(3)} %, ${best.m.meanKbps.toFixed(0)} kbps per consumer; linear estimate for a fully used core: ${perFullCore}`,
      );
    if (calibration)
      log(
        `real WebRTC viewers cost ×${calibration.ratio.toFixed(2)} the worker CPU per packet of these consumers → about ${summary.estimatedWebRtcViewersPerCore ?? '?'} (by the ramp) / ${summary.estimatedWebRtcViewersPerCoreByCost ?? '?'} (by cost) viewers per core`,
      );
    log(`report: ${report}`);
    const checks = new BenchChecks()
      .expect(consumersPerCore !== null, `no step passed (first step ${start} consumers, limited by ${limitedBy})`)
      .expect(!controller.signal.aborted, 'interrupted')
      // Loss is counted against what reached the worker; a starved source or worker input socket
      // (ingress drops) sends less than the stream's bitrate, and every figure would be inflated.
      .expect(
        !best || best.m.meanKbps >= 0.5 * bitrateKbps,
        `the stream reached the consumers at ${best ? Math.round(best.m.meanKbps) : '?'} of ${bitrateKbps} kbps (ingress drops ${best?.m.ingressDrops ?? '?'}): the box did not feed the worker`,
      );
    if (calibrateN > 0) {
      checks
        .expect(calibration !== undefined, 'the WebRTC calibration did not run')
        .figures({ webrtcCpuRatio: calibration?.ratio }, ['webrtcCpuRatio'])
        .expect((calibration?.webrtcLossPct ?? 100) < lossLimit, `the WebRTC calibration viewers lost ${calibration?.webrtcLossPct ?? '?'} % of packets`);
    }
    reportBench(summary, checks, log);
  } finally {
    await rig.close();
  }
}

/** Share of a window a worker may wait for a CPU before a failure is blamed on the neighbours (%). */
const STARVED_WAIT_PCT = 20;

type Verdict = 'pass' | 'fail' | 'starved';

/** A window passes when the loss (missing packets of every consumer) is under the limit and every consumer kept receiving. */
function judge(m: WindowMeasurement, lossLimit: number): Verdict {
  if (m.lossPct < lossLimit && m.stopped === 0 && m.notStarted === 0 && m.lateStart === 0) return 'pass';
  return Math.max(...m.workerWaitPct) > STARVED_WAIT_PCT ? 'starved' : 'fail';
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function toLoadResult(
  summary: Record<string, unknown> & { consumersPerCore: number | null; maxConsumers: number },
  steps: Step[],
  calibration: Calibration | undefined,
  ctx: { startedAt: Date; environment: LoadResult['environment']; options: Record<string, unknown> },
): LoadResult {
  const endedAt = new Date();
  const timeline: TimelinePoint[] = steps.map((s) => ({
    t: Math.round(s.atS),
    consumers: s.consumers,
    lossPct: round(s.m.lossPct, 3),
    worstLossPct: round(s.m.worstLossPct, 2),
    workerCpuPct: round(
      s.m.workerCpuPct.reduce((a, b) => a + b, 0),
      1,
    ),
    workerWaitPct: round(Math.max(...s.m.workerWaitPct), 1),
    usPerPacket: s.m.workerUsPerPacket === null ? null : round(s.m.workerUsPerPacket, 3),
    benchCpuPct: round(s.m.benchCpuPct, 1),
    sinkDrops: s.m.sinkDrops,
    ingressDrops: s.m.ingressDrops,
    pass: s.pass ? 1 : 0,
  }));
  const figures = {
    consumersPerCore: figure('Consumers per worker core at < 1 % loss', summary.consumersPerCore, 'consumers', 'higher', 0.15),
    maxConsumers: figure('Max consumers (all workers)', summary.maxConsumers, 'consumers', 'higher', 0.15),
    workerCpuPctAtMax: figure('Worker CPU at max', summary.workerCpuPctAtMax as number | null, '%', 'none'),
    consumersPerWorkerCpuCore: figure(
      'Consumers per 100 % worker CPU (linear estimate)',
      summary.consumersPerWorkerCpuCore as number | null,
      'consumers',
      'higher',
      0.15,
    ),
    lossPctAtMax: figure('Loss at max', summary.lossPctAtMax as number | null, '%', 'none'),
    workerUsPerPacket: figure('Worker CPU per forwarded packet', summary.workerUsPerPacket as number | null, 'µs', 'lower', 0.15),
    consumersPerCoreByCost: figure(
      'Consumers per fully available core (from the packet cost)',
      summary.consumersPerCoreByCost as number | null,
      'consumers',
      'higher',
      0.15,
    ),
    ...(calibration
      ? {
          webrtcCpuRatio: figure('WebRTC viewer / SRTP plain consumer worker CPU', calibration.ratio, '×', 'lower', 0.2),
          estimatedWebRtcViewersPerCore: figure(
            'Estimated WebRTC viewers per core (ramp / ratio)',
            summary.estimatedWebRtcViewersPerCore as number | null,
            'viewers',
            'higher',
            0.2,
          ),
          estimatedWebRtcViewersPerCoreByCost: figure(
            'Estimated WebRTC viewers per fully available core (cost / ratio)',
            summary.estimatedWebRtcViewersPerCoreByCost as number | null,
            'viewers',
            'higher',
            0.2,
          ),
        }
      : {}),
  };
  const notes = [
    `Limited by: ${summary.limitedBy}${
      summary.limitedBy === 'sink'
        ? ' — the receiving sinks dropped packets in the kernel, so the figure is a lower bound for the SFU (add --sink-threads or use a bigger machine)'
        : summary.limitedBy === 'cpu-contention'
          ? ' — the worker spent much of the failing windows waiting for a CPU (other processes on the box), so the figure is a lower bound; see consumersPerWorkerCpuCore'
          : ''
    }.`,
    'Consumers are PlainTransports with SRTP: the worker rewrites, encrypts and sends every packet as for a WebRTC viewer, but handles no ICE consent, DTLS, RTCP feedback or bandwidth estimation (see docs/loadtest.md).',
  ];
  if (calibration) notes.push(`Calibration with ${calibration.viewers} WebRTC viewers: ${calibration.note}`);
  return {
    schema: RESULT_SCHEMA,
    scenario: 'bench-fanout',
    startedAt: ctx.startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationS: Math.round((endedAt.getTime() - ctx.startedAt.getTime()) / 100) / 10,
    target: { url: 'in-process', local: true },
    options: ctx.options,
    environment: ctx.environment,
    figures,
    timeline,
    series: {
      consumers: { label: 'consumers', unit: 'count' },
      lossPct: { label: 'loss', unit: '%' },
      workerCpuPct: { label: 'worker CPU', unit: '%' },
    },
    server: [],
    charts: [
      {
        id: 'ramp-cpu',
        title: 'Worker and load-generator CPU vs consumers',
        yLabel: '% of one core',
        x: { key: 'consumers', label: 'consumers' },
        series: [
          { key: 'workerCpuPct', label: 'mediasoup worker(s)', from: 'timeline' },
          { key: 'benchCpuPct', label: 'sinks + control (bench process)', from: 'timeline' },
          { key: 'workerWaitPct', label: 'worker waiting for a CPU', from: 'timeline' },
        ],
      },
      {
        id: 'ramp-cost',
        title: 'Worker CPU per forwarded packet vs consumers',
        yLabel: 'µs',
        x: { key: 'consumers', label: 'consumers' },
        series: [{ key: 'usPerPacket', label: 'µs per packet', from: 'timeline' }],
      },
      {
        id: 'ramp-loss',
        title: 'Loss vs consumers',
        yLabel: '%',
        x: { key: 'consumers', label: 'consumers' },
        series: [
          { key: 'lossPct', label: 'loss (all consumers)', from: 'timeline' },
          { key: 'worstLossPct', label: 'worst consumer', from: 'timeline' },
        ],
      },
      { id: 'ramp', title: 'Consumers over the ramp', yLabel: 'consumers', series: [{ key: 'consumers', label: 'consumers', from: 'timeline' }] },
    ],
    notes,
  };
}

main().then(
  () => process.exit(benchExitCode()),
  (err) => {
    process.stderr.write(`bench:fanout: ${err instanceof UsageError ? err.message : ((err as Error).stack ?? err)}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
