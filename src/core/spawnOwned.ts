/**
 * Spawns a helper process (ffmpeg, srt-live-transmit…) that dies with the node: through
 * util-linux `setpriv --pdeathsig SIGKILL` when available, so a node killed with SIGKILL or a
 * crashed test leaves no orphaned encoders behind. Falls back to a plain spawn elsewhere.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

let setprivAvailable: boolean | undefined;

function hasSetpriv(): boolean {
  if (setprivAvailable === undefined) {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore' });
    setprivAvailable = probe.status === 0;
  }
  return setprivAvailable;
}

/** Like `child_process.spawn`, but the child is killed when this process dies. */
export function spawnOwned(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  if (process.platform === 'linux' && hasSetpriv()) {
    return spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], options);
  }
  return spawn(command, args as string[], options);
}
