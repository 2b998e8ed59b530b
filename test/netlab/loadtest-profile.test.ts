/**
 * `subsec loadtest <scenario> --profile P`: the node runs in a lab host and the bots behind
 * profile P, so the run sees P's loss; the report names the profile and what the emulator
 * dropped; the lab is gone afterwards. Without root it refuses clearly with exit code 2, and an
 * unknown profile is a usage error too.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../loadtest/core/LocalNode';
import { labNamespaces } from '../../loadtest/netlab/labNamespaces';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-netlab-loadtest-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs `subsec …` (optionally as another user); resolves with exit code and output. */
function subsec(args: string[], timeoutMs: number, asNobody = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Another user cannot run a node kept under /root (the project's runtime): it uses the system's.
  const node = asNobody && process.execPath.startsWith('/root/') && fs.existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
  const argv = [node, path.join(projectRoot, 'bin/subsec.mjs'), ...args];
  const [cmd, ...rest] = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', 'HOME=/tmp', ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`subsec ${args.join(' ')} took more than ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('subsec loadtest --profile', () => {
  it("runs the rtc bots behind 4g against a node in the lab and reports the profile's loss", async () => {
    const out = path.join(dir, 'rtc-4g');
    const r = await subsec(
      ['loadtest', 'rtc', '--profile', '4g', '--viewers', '3', '--duration', '4', '--quiet', '--out', out, '--scrape-interval', '500'],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    expect(last.viewers).toBe(3);
    expect(last.failedViewers).toBe(0);
    // 1 % random loss on the 4g downlink (plus queue drops): the bots see loss that loopback never has.
    expect(last.lossPct).toBeGreaterThan(0.2);
    expect(last.lossPct).toBeLessThan(6);
    const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('Network profile 4g');
    expect(report).toMatch(/node→bots \d+ packets, [1-9]\d* dropped/);
    const result = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')) as { options: { profile?: string } };
    expect(result.options.profile).toBe('4g');
    // The lab removed its namespaces.
    expect(labNamespaces().filter((n) => !n.startsWith(`sslab-${process.pid}-`))).toEqual([]);
  }, 150_000);

  it('refuses without root (exit 2, says root is needed) and refuses an unknown profile', async () => {
    const nobody = await subsec(['loadtest', 'rtc', '--profile', '4g', '--duration', '2'], 60_000, true);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toMatch(/network lab needs root/);
    const unknown = await subsec(['loadtest', 'rtc', '--profile', 'moon-link', '--duration', '2'], 60_000);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown network profile "moon-link"; known: lan, cable, 4g/);
    const withUrl = await subsec(['loadtest', 'rtc', '--profile', '4g', '--url', 'http://127.0.0.1:1'], 60_000);
    expect(withUrl.code).toBe(2);
    expect(withUrl.stderr).toMatch(/cannot be combined with --url/);
  }, 120_000);
});
