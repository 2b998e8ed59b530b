/**
 * `npm run bench`: the quick version of every `bench:*` script in package.json, one after the
 * other (they share the machine, so never in parallel), each bounded by a timeout. Prints each
 * bench's own last line as it finishes, then one JSON summary line last: every figure the
 * benches reported under their own key names, plus `benches` (status and seconds of each) and
 * the machine and its load. A bench that exits non-zero or reports `failures` (its measurement
 * failed: see loadtest/core/benchOutcome.ts) is `failed`, and then so is the whole run.
 *
 * Options: --only a,b (bench names without `bench:`) --skip a,b --timeout S (per bench, default 300)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../core/LocalNode';

/** Arguments and environment that make each known bench quick; unknown benches run as they are. */
const QUICK: Record<string, { args?: string[]; env?: Record<string, string> }> = {
  fanout: { args: ['--quick'] },
  latency: { args: ['--seconds', '5', '--rounds', '2'] },
  ingest: { args: ['--seconds', '5', '--rounds', '1'] },
  hls: { args: ['--seconds', '8', '--duration', '2', '--connections', '20', '--held', '500', '--ladder-seconds', '6'] },
  cascade: { args: ['--seconds', '4', '--setups', '2', '--failovers', '1', '--client-failovers', '1'] },
  moq: { env: { SUBSCRIBERS: '20', SECONDS: '4', WARMUP_SECONDS: '1' } },
  qoe: { args: ['--viewers', '200', '--rooms', '4', '--seconds', '6', '--warmup-seconds', '3'] },
  events: { args: ['--subscribers', '200', '--events', '100', '--max-rate', '800', '--step-seconds', '2'] },
  network: { args: ['--quick'] },
};

interface BenchOutcome {
  name: string;
  status: 'ok' | 'failed' | 'timeout' | 'no-json';
  seconds: number;
  /** Why the bench's measurement failed, as it reported them. */
  failures: string[];
  figures: Record<string, unknown>;
  tail: string;
}

function runBench(name: string, script: string, timeoutS: number): Promise<BenchOutcome> {
  const quick = QUICK[name] ?? {};
  const [cmd, ...scriptArgs] = script.split(/\s+/);
  const entry = cmd === 'tsx' ? ['--import', 'tsx', ...scriptArgs] : [cmd!, ...scriptArgs];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd === 'tsx' ? process.execPath : entry[0]!, [...(cmd === 'tsx' ? entry : entry.slice(1)), ...(quick.args ?? [])], {
      cwd: projectRoot,
      env: { ...process.env, ...quick.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString()).slice(-200_000);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, timeoutS * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      const last = stdout.trim().split('\n').pop() ?? '';
      let figures: Record<string, unknown> | undefined;
      try {
        const parsed = JSON.parse(last);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) figures = parsed;
      } catch {
        figures = undefined;
      }
      // A bench whose measurement failed exits non-zero and names why in `failures` (benchOutcome.ts).
      const failures = Array.isArray(figures?.failures) ? (figures.failures as unknown[]).map(String) : [];
      const status = timedOut ? 'timeout' : code !== 0 || failures.length > 0 ? 'failed' : figures ? 'ok' : 'no-json';
      // reportBench writes each failure to stderr too: show them once, then the rest of the tail.
      const rest = (stderr || stdout)
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('measurement failed: '))
        .slice(-5);
      const tail = [...failures.map((f) => `measurement failed: ${f}`), ...rest].join('\n');
      resolve({ name, status, seconds, figures: figures ?? {}, failures, tail });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, skip: { type: 'string' }, timeout: { type: 'string' } }, strict: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const only = values.only?.split(',').map((s) => s.trim());
  const skip = new Set(values.skip?.split(',').map((s) => s.trim()) ?? []);
  const timeoutS = Number(values.timeout ?? 300);
  if (!Number.isFinite(timeoutS) || timeoutS < 10) throw new Error('--timeout must be at least 10 seconds');
  const benches = Object.entries(pkg.scripts)
    .filter(([k]) => k.startsWith('bench:'))
    .map(([k, script]) => ({ name: k.slice('bench:'.length), script }))
    .filter((b) => (!only || only.includes(b.name)) && !skip.has(b.name));
  const loadStart = os.loadavg()[0]!;
  const summary: Record<string, unknown> = {};
  const statuses: Record<string, { status: string; seconds: number; failures?: string[] }> = {};
  for (const b of benches) {
    process.stdout.write(`bench:${b.name} …\n`);
    const r = await runBench(b.name, b.script, timeoutS);
    statuses[b.name] = { status: r.status, seconds: r.seconds, ...(r.failures.length > 0 ? { failures: r.failures } : {}) };
    if (r.status === 'ok') {
      process.stdout.write(`  ${JSON.stringify(r.figures)}\n`);
      for (const [k, v] of Object.entries(r.figures)) {
        if (k === 'bench') continue;
        // Every bench reports under its own key names; a clash keeps both, the later one prefixed.
        if (k in summary && JSON.stringify(summary[k]) !== JSON.stringify(v)) summary[`${b.name}.${k}`] = v;
        else summary[k] = v;
      }
    } else {
      process.stdout.write(`  ${r.status} after ${r.seconds} s\n${r.tail.replace(/^/gm, '    ')}\n`);
    }
  }
  const cpus = os.cpus();
  process.stdout.write(
    JSON.stringify({
      bench: 'all',
      ...summary,
      benches: statuses,
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model.trim() ?? 'unknown', loadavgStart: loadStart, loadavgEnd: os.loadavg()[0] },
    }) + '\n',
  );
  if (Object.values(statuses).some((s) => s.status !== 'ok')) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(2);
});
