/**
 * The load tool at tiny scale: each scenario runs briefly against a node it starts, its
 * results are sane and its report renders; `compare` gives verdicts; remote targets are refused
 * without --allow-remote; bench:fanout ends with a JSON line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario, type RunOutcome } from '../../loadtest/core/runScenario';
import { apiScenario } from '../../loadtest/scenarios/api';
import { signalingScenario } from '../../loadtest/scenarios/signaling';
import { rtcScenario } from '../../loadtest/scenarios/rtc';
import { moqScenario } from '../../loadtest/scenarios/moq';
import { eventsScenario } from '../../loadtest/scenarios/events';
import { hlsScenario } from '../../loadtest/scenarios/hls';
import type { Scenario } from '../../loadtest/core/Scenario';
import { projectRoot } from '../../loadtest/core/LocalNode';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-loadtest-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a scenario in-process; returns its outcome and the last stdout line parsed. */
async function run(scenario: Scenario, args: string[]): Promise<{ outcome: RunOutcome; last: Record<string, unknown> }> {
  let out = '';
  const outcome = await runScenario(scenario, [...args, '--quiet', '--out', path.join(dir, scenario.name), '--scrape-interval', '500'], (s) => {
    out += s;
  });
  const lines = out.trim().split('\n');
  return { outcome: outcome!, last: JSON.parse(lines[lines.length - 1]!) };
}

/** Runs a command in the project root; resolves with exit code and output. */
function exec(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const cli = (args: string[], timeoutMs = 60_000) => exec(process.execPath, ['--import', 'tsx', 'loadtest/cli.ts', ...args], timeoutMs);

function expectReport(outcome: RunOutcome): void {
  const md = fs.readFileSync(outcome.reportFile, 'utf8');
  expect(md).toContain(`# Load test: \`${outcome.result.scenario}\``);
  const charts = [...md.matchAll(/!\[[^\]]*\]\(([^)]+\.svg)\)/g)].map((m) => m[1]!);
  expect(charts.length).toBeGreaterThan(0);
  for (const c of charts) expect(fs.readFileSync(path.join(path.dirname(outcome.reportFile), c), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  const saved = JSON.parse(fs.readFileSync(outcome.resultFile, 'utf8'));
  expect(saved.schema).toBe('subsec-loadtest/1');
  expect(saved.environment.loadavgEnd).toHaveLength(3);
}

describe('loadtest scenarios against a local node', () => {
  let apiOutcome: RunOutcome | undefined;

  it('api: every endpoint answers under load without errors', async () => {
    const { outcome, last } = await run(apiScenario, ['--duration', '5', '--connections', '4', '--endpoints', 'token,rooms,streams,whep,whip']);
    apiOutcome = outcome;
    const f = outcome.result.figures;
    expect(f.requests!.value).toBeGreaterThan(50);
    expect(f.errors!.value).toBe(0);
    for (const e of ['token', 'rooms', 'streams', 'whep', 'whip']) {
      expect(f[`${e}Rps`]!.value, e).toBeGreaterThan(0);
      expect(f[`${e}P99Ms`]!.value, e).toBeGreaterThan(0);
    }
    expect(last.requests).toBe(f.requests!.value);
    expect(outcome.result.server.length).toBeGreaterThan(0);
    expectReport(outcome);
  }, 90_000);

  it('signaling: clients join, subscribe and leave without errors', async () => {
    const { outcome } = await run(signalingScenario, ['--duration', '3', '--clients', '4', '--hold', '50']);
    const f = outcome.result.figures;
    expect(f.sessions!.value).toBeGreaterThan(4);
    expect(f.errors!.value).toBe(0);
    expect(f.setupP50Ms!.value).toBeGreaterThan(0);
    expect(f.consumeP99Ms!.value).toBeGreaterThan(0);
    expectReport(outcome);
  }, 90_000);

  it('rtc: WebRTC viewers receive the published stream', async () => {
    const { outcome } = await run(rtcScenario, ['--duration', '4', '--viewers', '3']);
    const f = outcome.result.figures;
    expect(f.viewers!.value).toBe(3);
    expect(f.failedViewers!.value).toBe(0);
    expect(f.silentViewers!.value).toBe(0);
    expect(f.kbpsPerViewer!.value).toBeGreaterThan(100);
    expect(f.lossPct!.value).toBeLessThan(5);
    expectReport(outcome);
  }, 120_000);

  it('moq: subscribers get the track through the relay', async () => {
    const { outcome } = await run(moqScenario, ['--duration', '3', '--subscribers', '3', '--fps', '10']);
    const f = outcome.result.figures;
    expect(f.subscribers!.value).toBe(3);
    expect(f.silentSubscribers!.value).toBe(0);
    expect(f.deliveredPct!.value).toBeGreaterThan(90);
    expect(f.latencyP50Ms!.value).toBeGreaterThan(0);
    expectReport(outcome);
  }, 120_000);

  it('events: every listener gets every event, in order', async () => {
    const { outcome } = await run(eventsScenario, ['--duration', '3', '--rate', '20', '--listeners', '5']);
    const f = outcome.result.figures;
    expect(f.eventsPerS!.value).toBeGreaterThan(5);
    expect(f.errors!.value).toBe(0);
    expect(f.deliveredPct!.value).toBe(100);
    expect(f.gaps!.value).toBe(0);
    expect(f.outOfOrder!.value).toBe(0);
    expect(f.deliveryP50Ms!.value).toBeGreaterThan(0);
    expectReport(outcome);
  }, 90_000);

  it('hls: viewers follow the live edge part by part', async () => {
    const { outcome } = await run(hlsScenario, ['--duration', '4', '--viewers', '3']);
    const f = outcome.result.figures;
    expect(f.viewers!.value).toBe(3);
    expect(f.errors!.value).toBe(0);
    expect(f.partsPerSPerViewer!.value).toBeGreaterThan(2);
    expect(f.throughputMbps!.value).toBeGreaterThan(0);
    expectReport(outcome);
  }, 120_000);

  it('compare: a run against itself is the same; a worse copy is judged worse', async () => {
    expect(apiOutcome, 'the api run').toBeDefined();
    const worse = structuredClone(apiOutcome!.result);
    worse.figures.tokenRps!.value = worse.figures.tokenRps!.value! / 2;
    worse.figures.tokenP99Ms!.value = worse.figures.tokenP99Ms!.value! * 3;
    const worseFile = path.join(dir, 'worse.json');
    fs.writeFileSync(worseFile, JSON.stringify(worse));
    const same = await cli(['compare', apiOutcome!.resultFile, apiOutcome!.resultFile]);
    expect(same.code).toBe(0);
    const sameJson = JSON.parse(same.stdout.trim().split('\n').pop()!);
    expect(sameJson.overall).toBe('same');
    expect(Object.values(sameJson.verdicts).every((v) => v === 'same' || v === 'info' || v === 'n/a')).toBe(true);
    const judged = await cli(['compare', apiOutcome!.resultFile, worseFile, '--fail-on-worse']);
    expect(judged.code).toBe(3);
    const json = JSON.parse(judged.stdout.trim().split('\n').pop()!);
    expect(json.verdicts.tokenRps).toBe('worse');
    expect(json.verdicts.tokenP99Ms).toBe('worse');
    expect(json.overall).toBe('worse');
    expect(judged.stdout).toContain('| token: throughput |');
  }, 60_000);
});

describe('loadtest safety', () => {
  it('refuses a non-loopback target without --allow-remote', async () => {
    const r = await cli(['api', '--url', 'http://192.0.2.10:8080', '--duration', '1'], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not loopback/);
    expect(r.stderr).toMatch(/--allow-remote/);
  }, 40_000);

  it('refuses durations beyond the cap and unknown scenarios', async () => {
    const long = await cli(['signaling', '--duration', '100000'], 30_000);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/--duration must be an integer from 1 to 600/);
    const unknown = await cli(['nope'], 30_000);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown scenario/);
  }, 40_000);
});

describe('bench:fanout', () => {
  it('ramps a few steps and ends with a JSON line', async () => {
    const out = path.join(dir, 'fanout');
    const r = await exec(
      process.execPath,
      ['--import', 'tsx', 'loadtest/bench/fanout.ts', '--start', '10', '--max', '20', '--window', '1', '--settle', '1', '--out', out],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.bench).toBe('fanout');
    expect(summary.steps.length).toBeGreaterThan(0);
    // On a busy box a step may fail; the mechanics must still hold.
    expect(['max', 'worker', 'sink', 'cpu-contention']).toContain(summary.limitedBy);
    expect(summary.workerUsPerPacket).toBeGreaterThan(0);
    expect(summary.packetsPerSecondPerConsumer).toBeGreaterThan(10);
    expect(fs.existsSync(path.join(out, 'report.md'))).toBe(true);
  }, 130_000);
});
