import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import { projectRoot } from '../../src/config/loadConfig';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function runNode(yaml: string, env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-proc-'));
  const file = path.join(dir, 'node.yaml');
  fs.writeFileSync(file, yaml);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), '--config', file], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

describe('node process', () => {
  it('refuses to start on an unknown config key, naming it, with exit code 2', async () => {
    const { exited, output } = runNode('sfu:\n  wrokers: 2\n');
    expect(await exited).toBe(2);
    expect(output()).toMatch(/sfu\.wrokers/);
  });

  it('refuses a bad env override value, naming the key', async () => {
    const { exited, output } = runNode('{}\n', { SUBSEC_HTTP_PORT: 'abc' });
    expect(await exited).toBe(2);
    expect(output()).toMatch(/http\.port/);
  });

  it('prints its demo URL, then drains gracefully on SIGTERM: clients are told, readiness fails, exit 0', async () => {
    const { child, exited, output } = runNode('http:\n  port: 0\nsfu:\n  workers: 1\nsynthetic:\n  enabled: false\ndrainTimeoutMs: 3000\nlogLevel: warn\n');
    const url = (await waitFor(() => /Start page:\s+(http:\/\/\S+?)\/\s/.exec(output())?.[1], { what: 'demo URL', timeoutMs: 20_000 }))!;
    const page = await fetch(url + '/');
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const token = (await (await fetch(`${url}/demo/token?room=drain`)).json()).token;
    const c = await SignalingTestClient.connect(url);
    await c.call('join', { protocol: 1, token });

    child.kill('SIGTERM');
    await waitFor(() => c.notifications.find((n) => n.notification === 'draining'), { what: 'draining notice' });
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const late = await SignalingTestClient.connect(url).catch((e: Error) => e);
    expect(late).toBeInstanceOf(Error);
    c.close(); // the client leaves; the node no longer waits for the deadline
    expect(await exited).toBe(0);
  });
});
