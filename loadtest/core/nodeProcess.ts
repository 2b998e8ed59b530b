/**
 * A node as a real process (`node --import tsx src/main.ts --config <file>`), for tests that kill
 * it (SIGKILL), freeze it (SIGSTOP/SIGCONT) or read its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { projectRoot } from '../../src/config/loadConfig';
import type { ConfigInput } from '../../src/config/schema';
import { waitFor } from './waitFor';

/** A node process. */
export interface NodeProcess {
  readonly child: ChildProcess;
  /** Base URL once started. */
  readonly url: string;
  /** Everything it printed so far (stdout + stderr, last 200 kB). */
  output(): string;
  /** Resolves with the exit code (or signal name) when it exits. */
  readonly exited: Promise<number | string | null>;
  /** Sends a signal. */
  kill(signal?: NodeJS.Signals): void;
}

/** Spawns a node with `config` and resolves once it printed its URL (or rejects after `timeoutMs`). */
export async function spawnNode(config: ConfigInput, timeoutMs = 60_000): Promise<NodeProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-node-'));
  const file = path.join(dir, 'node.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), '--config', file], {
    cwd: projectRoot,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | string | null>((r) =>
    child.once('exit', (code, signal) => {
      fs.rmSync(dir, { recursive: true, force: true });
      r(code ?? signal);
    }),
  );
  const url = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}: ${out.slice(-2000)}`);
      // The start banner always lists the metrics URL (the demo page only when http.demo is on).
      return /Metrics:\s+(http:\/\/\S+?)\/metrics\s/.exec(out)?.[1];
    },
    { timeoutMs, what: 'node process start' },
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${out.slice(-3000)}`);
  });
  return {
    child,
    url,
    output: () => out,
    exited,
    kill: (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
