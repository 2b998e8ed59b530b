/** Runs the standalone MoQ relay (`relay/main.ts`) as its own process, for benches and tests that read its CPU or kill it. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RELAY_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'relay', 'main.ts');

/** Options of {@link startRelayProcess}. */
export interface RelayProcessOptions {
  /** The relay's JWT secret. */
  secret: string;
  /** YAML lines added under `moq.relay` (indented by the caller's four spaces). */
  relayYaml?: string;
  /** Write a V8 CPU profile into this directory when the relay exits. */
  cpuProfileDir?: string;
  /** How long to wait for the relay's banner (ms). */
  timeoutMs?: number;
}

/** A running relay process. */
export interface RelayProcess {
  /** Its WebSocket (and `/info`) URL, `http://host:port`. */
  url: string;
  pid: number;
  /** SIGTERM (a graceful close) and removal of its config. */
  stop(): void;
  /** SIGKILL: the relay vanishes without closing anything. */
  kill(): void;
}

/** Starts `relay/main.ts` on free ports (HTTP/3 on a free UDP port too) and resolves once it printed its WebSocket URL. */
export async function startRelayProcess(o: RelayProcessOptions): Promise<RelayProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-relay-'));
  const config = path.join(dir, 'relay.yaml');
  const extra = o.relayYaml ? `${o.relayYaml.replace(/\n$/, '')}\n` : '';
  fs.writeFileSync(config, `auth:\n  jwtSecret: ${o.secret}\nlogLevel: warn\nmoq:\n  relay:\n    port: 0\n    webtransport:\n      enabled: false\n${extra}`);
  const prof = o.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfileDir] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', RELAY_MAIN, '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cleanUp = () => fs.rmSync(dir, { recursive: true, force: true });
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the relay printed no WebSocket URL in ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /WebSocket \(QMux\):\s+(http:\/\/[\d.:]+)\//.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code, signal) => reject(new Error(`relay exited with ${code ?? signal}`)));
    });
    return {
      url,
      pid: child.pid!,
      stop: () => {
        child.kill('SIGTERM');
        cleanUp();
      },
      kill: () => {
        child.kill('SIGKILL');
        cleanUp();
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    cleanUp();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
