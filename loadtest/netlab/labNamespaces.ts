/**
 * Network namespace plumbing for the lab: `ip` commands, root check, and the sweep that removes
 * what a crashed lab left behind (namespaces named `sslab-<pid>-…` whose process is gone, with
 * every process still running inside them).
 */
import { execFileSync } from 'node:child_process';

/** Prefix of every namespace the lab creates. */
export const NAMESPACE_PREFIX = 'sslab-';

/** Thrown when the lab cannot run here (not root, no `ip`, no /dev/net/tun). */
export class LabUnavailableError extends Error {
  override name = 'LabUnavailableError';
}

/** Runs `ip …` and returns its stdout; throws with its stderr on failure. */
export function ip(...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')}: ${stderr.trim() || (err as Error).message}`);
  }
}

/** Throws a {@link LabUnavailableError} saying why the lab cannot run on this machine, if it cannot. */
export function assertLabAvailable(): void {
  if (process.platform !== 'linux') throw new LabUnavailableError('the network lab needs Linux (network namespaces and TUN devices)');
  if (process.getuid?.() !== 0) {
    throw new LabUnavailableError('the network lab needs root (it creates network namespaces and TUN devices); run it as root, e.g. with sudo');
  }
  try {
    ip('netns', 'list');
  } catch (err) {
    throw new LabUnavailableError(`the network lab needs iproute2's "ip netns": ${(err as Error).message}`);
  }
}

/** Names of the lab's namespaces that exist now. */
export function labNamespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(NAMESPACE_PREFIX));
}

/** Process ids running inside namespace `ns`. */
export function namespacePids(ns: string): number[] {
  try {
    return ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills every process inside `ns` and deletes it (ignoring a namespace that is already gone). */
export function removeNamespace(ns: string): void {
  for (const pid of namespacePids(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    ip('netns', 'del', ns);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes lab namespaces whose owning process (the pid in the name) no longer runs; returns their names. */
export function sweepStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const ns of labNamespaces()) {
    const pid = Number(/^sslab-(\d+)-/.exec(ns)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) continue;
    if (pid === process.pid) continue;
    removeNamespace(ns);
    removed.push(ns);
  }
  return removed;
}
