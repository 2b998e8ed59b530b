/**
 * The load-testing tool: `npm run loadtest -- <scenario> [options]` (or `subsec loadtest …`),
 * `compare a.json b.json`, `report result.json`. Exit codes: 0 ok, 1 failure, 2 bad usage,
 * 3 `compare --fail-on-worse` found a worse figure.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runScenario } from './core/runScenario';
import { UsageError } from './core/safety';
import { compareResults, comparisonMarkdown, readResult } from './report/compare';
import { writeReport } from './report/markdownReport';
import { pendingScenarios, scenarios } from './scenarios/index';

function help(): string {
  const width = Math.max(...scenarios.map((s) => s.name.length), 8);
  return [
    'subsec load tests',
    '',
    'Usage:',
    '  npm run loadtest -- <scenario> [options]      run a scenario (default target: a node started for the run)',
    '  npm run loadtest -- compare A.json B.json      verdict per figure of run B against baseline A',
    '  npm run loadtest -- report RESULT.json         re-render report.md and charts from a results file',
    '',
    'Scenarios:',
    ...scenarios.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    ...pendingScenarios.map((p) => `  ${p.name.padEnd(width)}  (pending: ${p.reason})`),
    '',
    'Every scenario: --url URL (loopback only unless --allow-remote), --duration S (≤ 600), --out DIR, --quiet;',
    '`npm run loadtest -- <scenario> --help` lists its options. stdout ends with one JSON line of the figures.',
    '',
  ].join('\n');
}

async function compare(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { threshold: { type: 'string' }, 'fail-on-worse': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm run loadtest -- compare A.json B.json [--threshold PCT] [--fail-on-worse]\n\n' +
        'Judges each figure of B against A: better, worse, or same within PCT % (default 10; figures may carry their own\n' +
        'tolerance, e.g. CPU). --fail-on-worse exits 3 when any figure is worse. Last line: JSON with every verdict.\n',
    );
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('compare needs two result files: compare A.json B.json');
  const threshold = values.threshold === undefined ? 10 : Number(values.threshold);
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1000) throw new UsageError('--threshold must be a percentage from 0 to 1000');
  const [fileA, fileB] = positionals as [string, string];
  const a = readResult(fileA);
  const b = readResult(fileB);
  const c = compareResults(a, b, threshold / 100);
  process.stdout.write(comparisonMarkdown(c, path.basename(path.dirname(path.resolve(fileA))), path.basename(path.dirname(path.resolve(fileB)))));
  process.stdout.write(
    JSON.stringify({ compare: c.scenario, overall: c.overall, verdicts: Object.fromEntries(c.rows.map((r) => [r.key, r.verdict])), warnings: c.warnings }) +
      '\n',
  );
  return values['fail-on-worse'] && c.rows.some((r) => r.verdict === 'worse') ? 3 : 0;
}

function report(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new UsageError('report needs one result file: report RESULT.json [--out DIR]');
  const result = readResult(positionals[0]!);
  const file = writeReport(result, path.resolve(values.out ?? path.dirname(path.resolve(positionals[0]!))));
  process.stdout.write(`${file}\n`);
  process.stdout.write(JSON.stringify({ report: file }) + '\n');
  return 0;
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(help());
      return command ? 0 : 2;
    }
    if (command === 'compare') return await compare(rest);
    if (command === 'report') return report(rest);
    const scenario = scenarios.find((s) => s.name === command);
    if (!scenario) {
      const pending = pendingScenarios.find((p) => p.name === command);
      if (pending) throw new UsageError(`scenario ${command} is not available yet: ${pending.reason}`);
      throw new UsageError(`unknown scenario or command "${command}"; known: ${scenarios.map((s) => s.name).join(', ')}, compare, report`);
    }
    await runScenario(scenario, rest);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`loadtest: ${(err as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`loadtest: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Native addons (node-datachannel) and sockets may keep the loop alive after a run.
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (err) => {
    process.stderr.write(`loadtest: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
