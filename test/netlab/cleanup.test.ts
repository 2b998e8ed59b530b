/**
 * The lab leaves nothing behind: `close()` removes its namespaces, processes and emulator; and
 * when the process that owns a lab is killed (SIGKILL, no clean-up), its emulator and the
 * processes it started die with it and the next lab's stale sweep removes its namespaces.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../loadtest/core/LocalNode';
import { labNamespaces } from '../../loadtest/netlab/labNamespaces';
import { NetworkLab } from '../../loadtest/netlab/NetworkLab';
import { waitFor } from '../../loadtest/core/waitFor';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('network lab clean-up', () => {
  it('close() removes namespaces, processes and the emulator', async () => {
    const lab = await NetworkLab.create({ controller: false });
    const host = await lab.addHost('a');
    const sleeper = host.spawn('sleep', ['600'], { stdio: 'ignore' });
    const emulatorPid = lab.emulator.pid!;
    expect(labNamespaces()).toContain(host.ns);
    await lab.close();
    expect(labNamespaces()).not.toContain(host.ns);
    await waitFor(() => !alive(sleeper.pid!) && !alive(emulatorPid), { timeoutMs: 5000, what: 'lab processes gone' });
  }, 30_000);

  it('a killed owner leaves no emulator or children, and the next lab sweeps its namespaces', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-netlab-crash-'));
    const script = path.join(dir, 'owner.mts');
    fs.writeFileSync(
      script,
      `import { NetworkLab } from ${JSON.stringify(path.join(projectRoot, 'loadtest/netlab/NetworkLab.ts'))};
const lab = await NetworkLab.create({ controller: false });
const host = await lab.addHost('crashy');
const child = host.spawn('sleep', ['600'], { stdio: 'ignore' });
console.log(JSON.stringify({ ns: host.ns, emulator: lab.emulator.pid, child: child.pid }));
setInterval(() => undefined, 1000);
`,
    );
    try {
      const owner = spawn(process.execPath, ['--import', 'tsx', script], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      owner.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const info = await waitFor(
        () => (out.includes('\n') ? (JSON.parse(out.split('\n')[0]!) as { ns: string; emulator: number; child: number }) : undefined),
        { timeoutMs: 30_000, what: "the owner's lab" },
      );
      owner.kill('SIGKILL');
      await new Promise((r) => owner.once('exit', r));
      // pdeathsig: the emulator and the host's process die with their owner; the namespace stays until swept.
      await waitFor(() => !alive(info.emulator) && !alive(info.child), { timeoutMs: 5000, what: 'orphans gone' });
      expect(labNamespaces()).toContain(info.ns);
      const next = await NetworkLab.create({ controller: false });
      await next.close();
      expect(labNamespaces()).not.toContain(info.ns);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
