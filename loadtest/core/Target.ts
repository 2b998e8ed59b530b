/**
 * The deployment a scenario loads: a node the tool starts (default) or `--url` (refused unless
 * loopback or `--allow-remote`). Also the few REST calls every scenario needs (tokens).
 */
import { LocalNode, processTreeStats, type LocalNodeOptions, type ProcessTreeStats } from './LocalNode';
import { assertTargetAllowed, UsageError } from './safety';

/** Options that choose the target. */
export interface TargetOptions {
  url?: string;
  adminKey?: string;
  allowRemote: boolean;
  /** MoQ relay URL of a remote deployment (`--moq-url`). */
  moqUrl?: string;
  /** What the local node needs when the tool starts one. */
  local: LocalNodeOptions;
}

/** Grants of a token the tool asks for. */
export interface TokenGrants {
  room: string;
  identity: string;
  canPublish?: boolean;
  canSubscribe?: boolean;
  canPublishData?: boolean;
  ttlSeconds?: number;
}

/** A resolved target. */
export class Target {
  readonly url: string;
  readonly adminKey: string;
  readonly local: LocalNode | undefined;
  readonly moqUrl: string | undefined;

  private constructor(url: string, adminKey: string, local: LocalNode | undefined, moqUrl: string | undefined) {
    this.url = url.replace(/\/+$/, '');
    this.adminKey = adminKey;
    this.local = local;
    this.moqUrl = moqUrl;
  }

  /** Checks or starts the target; the caller must `close()` it. */
  static async open(options: TargetOptions): Promise<Target> {
    if (options.url) {
      await assertTargetAllowed(options.url, options.allowRemote);
      if (options.moqUrl) await assertTargetAllowed(options.moqUrl, options.allowRemote);
      const target = new Target(options.url, options.adminKey ?? 'subsec-dev-admin-key', undefined, options.moqUrl);
      const health = await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(5_000) }).catch((err: Error) => err);
      if (health instanceof Error || !health.ok) {
        throw new UsageError(`${target.url}/healthz did not answer 200 (${health instanceof Error ? health.message : health.status}); is the node up?`);
      }
      return target;
    }
    const node = await LocalNode.start(options.local);
    return new Target(node.url, node.adminKey, node, node.moqUrl);
  }

  /** Issues a token through `POST /v1/tokens` with the admin key. */
  async token(grants: TokenGrants): Promise<string> {
    const res = await fetch(`${this.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(grants),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status === 401 || res.status === 403) throw new UsageError(`the node refused the admin key (HTTP ${res.status}); pass --admin-key`);
    if (!res.ok) throw new Error(`POST /v1/tokens: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  }

  /** CPU and memory of the node's process tree (only for a node the tool started). */
  processStats(): ProcessTreeStats | undefined {
    return this.local ? processTreeStats(this.local.pid) : undefined;
  }

  /** Stops the local node, if any. */
  async close(): Promise<void> {
    await this.local?.close();
  }
}
