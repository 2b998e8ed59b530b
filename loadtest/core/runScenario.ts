/**
 * Runs one scenario end to end: opens the target (or starts a node), samples `/metrics`, shows
 * progress, writes `result.json` and `report.md` (+ SVG charts), prints the figures, and ends
 * stdout with one JSON line. Ctrl-C stops the measurement early and still writes the results.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from './LocalNode';
import { MetricsScraper } from './MetricsScraper';
import { Progress } from './Progress';
import { describeEnvironment, figure, RESULT_SCHEMA, type LoadResult } from './result';
import { intOption, LIMITS, UsageError } from './safety';
import type { CommonOptions, Scenario } from './Scenario';
import { Target } from './Target';
import { Timeline } from './Timeline';
import { formatValue, writeReport } from '../report/markdownReport';
import { openProfileLab, type ProfileLab } from '../netlab/profileLab';

/** Options every scenario accepts. */
export const commonOptions = {
  url: { type: 'string' },
  'admin-key': { type: 'string' },
  'moq-url': { type: 'string' },
  'allow-remote': { type: 'boolean' },
  duration: { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string' },
  'scrape-interval': { type: 'string' },
  quiet: { type: 'boolean' },
  profile: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Help lines of the common options. */
export const commonHelp = [
  '  --url URL             deployment to load (default: start a local node; non-loopback needs --allow-remote)',
  '  --admin-key KEY       admin key of --url (default subsec-dev-admin-key)',
  '  --allow-remote        allow a target that is not this machine (you own it and mean it)',
  `  --duration S          measurement time in seconds (default 10, at most ${LIMITS.maxDurationS})`,
  '  --workers N           mediasoup workers of the local node (default 1)',
  '  --out DIR             where result.json, report.md and the charts go (default loadtest/results/<scenario>-<time>)',
  '  --scrape-interval MS  /metrics sampling period (default 2000; each scrape costs the node a little)',
  '  --quiet               no progress bar',
  '  --profile P           run the node in the network lab and the load behind network profile P (lan, cable, 4g,',
  '                        lossy-wifi, congested, intercontinental, udp-blocked, or a .json file; needs root; docs/network-lab.md)',
];

/** The result of a run as the CLI and tests see it. */
export interface RunOutcome {
  result: LoadResult;
  resultFile: string;
  reportFile: string;
}

/** Parses the arguments of `loadtest <scenario> …`, runs it and writes its files. */
export async function runScenario(
  scenario: Scenario,
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<RunOutcome | undefined> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...commonOptions, ...scenario.options }, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see loadtest ${scenario.name} --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    out([`Usage: npm run loadtest -- ${scenario.name} [options]`, '', scenario.summary, '', 'Options:', ...scenario.help, ...commonHelp, ''].join('\n'));
    return undefined;
  }
  const common: CommonOptions = {
    durationS: intOption('duration', values.duration as string | undefined, 10, 1, LIMITS.maxDurationS),
    workers: intOption('workers', values.workers as string | undefined, 1, 1, 64),
    quiet: values.quiet === true,
  };
  const scrapeMs = intOption('scrape-interval', values['scrape-interval'] as string | undefined, 2000, 250, 60_000);
  const environment = describeEnvironment();
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: stopping and writing what was measured (Ctrl-C again to quit at once)\n');
    controller.abort(new Error('interrupted'));
  };
  let lab: ProfileLab | undefined;
  if (values.profile !== undefined) {
    if (values.url !== undefined) throw new UsageError('--profile runs a node of its own inside the network lab; it cannot be combined with --url');
    lab = await openProfileLab(values.profile as string);
  }
  process.on('SIGINT', onSigint);
  let target: Target;
  try {
    target = await Target.open({
      url: values.url as string | undefined,
      adminKey: values['admin-key'] as string | undefined,
      moqUrl: values['moq-url'] as string | undefined,
      allowRemote: values['allow-remote'] === true,
      local: { ...scenario.localNode(values, common), labHost: lab?.nodeHost },
    });
  } catch (err) {
    process.off('SIGINT', onSigint);
    await lab?.close();
    throw err;
  }
  let statusFn = () => '';
  const progress = new Progress({ label: scenario.name, totalS: common.durationS, status: () => statusFn(), quiet: common.quiet });
  try {
    const startedAt = new Date();
    const cpu0 = process.cpuUsage();
    const timeline = new Timeline(startedAt.getTime());
    const scraper = new MetricsScraper(target, startedAt.getTime(), { intervalMs: scrapeMs, ...scenario.scrape });
    await scraper.start();
    progress.start();
    let output;
    try {
      output = await scenario.run({
        target,
        common,
        values,
        timeline,
        signal: controller.signal,
        server: () => scraper.samples,
        phase: (t) => progress.phase(t),
        status: (fn) => {
          statusFn = fn;
        },
      });
    } finally {
      progress.stop();
      await scraper.stop();
    }
    const endedAt = new Date();
    environment.loadavgEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
    const notes = [...output.notes];
    if (lab) notes.push(...(await lab.notes()));
    if (controller.signal.aborted) notes.push('The run was interrupted before its planned end.');
    if (scraper.failures > 0) notes.push(`${scraper.failures} /metrics scrapes failed or timed out (the node was busy or unreachable).`);
    if (!target.local) notes.push('Remote target: server CPU/memory come from its /metrics only; the process-tree figures need a node started by the tool.');
    const durationS = (endedAt.getTime() - startedAt.getTime()) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const generatorCpuPct = (100 * (cpu.user + cpu.system)) / 1e6 / Math.max(0.001, durationS);
    const figures = { ...output.figures, generatorCpuPct: figure('Load generator CPU (this process, mean)', generatorCpuPct, '%', 'none') };
    if (generatorCpuPct > 85)
      notes.push(`The load generator used ${generatorCpuPct.toFixed(0)} % of a core: it may have limited the load (run it on another machine with --url).`);
    const result: LoadResult = {
      schema: RESULT_SCHEMA,
      scenario: scenario.name,
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationS: Math.round(durationS * 10) / 10,
      target: { url: target.local ? 'local' : target.url, local: Boolean(target.local) },
      options: {
        durationS: common.durationS,
        workers: target.local ? common.workers : undefined,
        ...(lab ? { profile: lab.profile.name } : {}),
        ...output.options,
      },
      environment,
      figures,
      timeline: timeline.points(Math.ceil(durationS)),
      series: output.series,
      server: scraper.samples,
      charts: output.charts,
      notes,
    };
    const dir = path.resolve((values.out as string | undefined) ?? path.join(projectRoot, 'loadtest', 'results', `${scenario.name}-${stamp(startedAt)}`));
    fs.mkdirSync(dir, { recursive: true });
    const resultFile = path.join(dir, 'result.json');
    fs.writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
    const reportFile = writeReport(result, dir);
    const width = Math.max(...Object.values(result.figures).map((f) => f.label.length), 10);
    out(
      `\n${scenario.name}: ${result.durationS} s against ${target.local ? 'a local node' : target.url} (load average ${environment.loadavgStart[0]} → ${environment.loadavgEnd[0]} on ${environment.cpus} cores)\n`,
    );
    for (const f of Object.values(result.figures)) out(`  ${f.label.padEnd(width)}  ${formatValue(f)}\n`);
    for (const n of notes) out(`  note: ${n}\n`);
    out(`  results: ${resultFile}\n  report:  ${reportFile}\n`);
    const flat = Object.fromEntries(Object.entries(result.figures).map(([k, f]) => [k, f.value]));
    out(JSON.stringify({ scenario: scenario.name, result: resultFile, report: reportFile, ...flat }) + '\n');
    return { result, resultFile, reportFile };
  } catch (err) {
    if (target.local && !(err instanceof UsageError)) {
      const tail = target.local.stderrTail.trim();
      if (tail) process.stderr.write(`local node stderr (last lines):\n${tail.split('\n').slice(-10).join('\n')}\n`);
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    await target.close();
    await lab?.close();
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
