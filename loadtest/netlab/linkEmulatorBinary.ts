/**
 * Builds the link emulator (native/linkemu.c) with the system C compiler on first use and caches
 * the binary under ~/.cache/subsec/netlab/ keyed by the source's hash, so an edited source is
 * rebuilt and concurrent first uses do not race (build to a temporary file, then rename).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The emulator's C source. */
export const LINKEMU_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'linkemu.c');

/** Returns the path of a built link emulator, compiling it when the cache has none for this source. */
export function linkEmulatorBinary(): string {
  const source = fs.readFileSync(LINKEMU_SOURCE);
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'subsec', 'netlab');
  const binary = path.join(dir, `linkemu-${hash}`);
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const compiler = process.env.CC ?? 'gcc';
  try {
    execFileSync(compiler, ['-O2', '-Wall', '-o', tmp, LINKEMU_SOURCE, '-lm'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(
      `building the network lab's link emulator with ${compiler} failed (install gcc: apt-get install gcc): ${(err as Error).message}\n${stderr}`,
    );
  }
  fs.renameSync(tmp, binary);
  return binary;
}
