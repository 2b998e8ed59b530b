/**
 * Safe-by-default rules: the tool only loads loopback targets unless `--allow-remote`, and every
 * run is bounded in time and size (the caps below), so a typo cannot load someone's production.
 */
import dns from 'node:dns/promises';
import net from 'node:net';

/** Upper bounds of every scenario's options. */
export const LIMITS = {
  /** Longest run (s). */
  maxDurationS: 600,
  /** Most concurrent HTTP connections / WebSocket clients. */
  maxConnections: 1000,
  /** Most RTC or MoQ viewers one load generator runs. */
  maxViewers: 2000,
  /** Most requests one `api` sub-run sends. */
  maxRequests: 2_000_000,
} as const;

/** A usage error: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '');
  if (net.isIPv4(a)) return a.startsWith('127.');
  if (net.isIPv6(a)) return a === '::1' || /^::ffff:127\./i.test(a);
  return false;
}

/**
 * Throws a {@link UsageError} unless `url` points at this machine (every address its host name
 * resolves to is loopback) or `allowRemote` is set.
 */
export async function assertTargetAllowed(url: string, allowRemote: boolean): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--url must be http:// or https:// (got ${parsed.protocol})`);
  if (allowRemote) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else if (host === 'localhost') addresses = ['127.0.0.1'];
  else {
    try {
      addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
    } catch {
      throw new UsageError(`cannot resolve ${host}; refusing a target that is not loopback without --allow-remote`);
    }
  }
  const remote = addresses.filter((a) => !isLoopbackAddress(a));
  if (remote.length > 0) {
    throw new UsageError(
      `refusing to load ${parsed.host} (${remote.join(', ')} is not loopback). Load tests hurt the target: ` +
        'pass --allow-remote if you own that deployment and mean it.',
    );
  }
}

/** Parses an integer option within [min, max] or throws a {@link UsageError} naming it. */
export function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got ${raw})`);
  return n;
}

/** Parses a number option within [min, max] or throws a {@link UsageError} naming it. */
export function numberOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max} (got ${raw})`);
  return n;
}
