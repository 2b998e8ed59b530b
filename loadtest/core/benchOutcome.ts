/**
 * The end of every benchmark: the figures go out as the last stdout line (one JSON object) and
 * the process exits non-zero when the measurement failed — a figure that came out empty (no
 * samples: NaN, null, undefined), or a check the bench names (an incomplete delivery, non-2xx
 * answers during a throughput run, a frame rate below what was sent). `npm run bench` marks such
 * a bench failed. The JSON carries `failures` (the reasons) so a reader sees why.
 */

/** Collects the reasons a benchmark's measurement failed. */
export class BenchChecks {
  readonly failures: string[] = [];

  /** Records `reason` unless `ok`. */
  expect(ok: boolean, reason: string): this {
    if (!ok) this.failures.push(reason);
    return this;
  }

  /** Every named figure of `result` must be a finite number (an empty sample set gives NaN/null). */
  figures(result: Record<string, unknown>, keys: readonly string[]): this {
    for (const k of keys) {
      const v = result[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) this.failures.push(`figure ${k} has no value (${JSON.stringify(v) ?? 'undefined'}): no samples`);
    }
    return this;
  }
}

/**
 * Prints `result` (plus `failures` when there are any) as the last line and sets the exit code:
 * 0 when every check passed, 1 otherwise. Returns whether the bench passed.
 */
export function reportBench(
  result: Record<string, unknown>,
  checks: BenchChecks,
  write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
): boolean {
  const ok = checks.failures.length === 0;
  for (const f of checks.failures) process.stderr.write(`measurement failed: ${f}\n`);
  write(JSON.stringify(ok ? result : { ...result, failures: checks.failures }));
  if (!ok) process.exitCode = 1;
  return ok;
}

/** The exit code a bench's own `process.exit` should use after {@link reportBench}. */
export function benchExitCode(): number {
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
