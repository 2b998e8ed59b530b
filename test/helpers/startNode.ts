/** Starts an in-process node on a free port with test-friendly overrides. */
import { deepMerge, parseConfig } from '../../src/config/loadConfig';
import type { ConfigInput } from '../../src/config/schema';
import { SubsecNode } from '../../src/SubsecNode';

/** Deep-merges overrides into the test defaults (free port, no synthetic source, 1 worker). */
export async function startNode(overrides: ConfigInput = {}): Promise<SubsecNode> {
  const base: ConfigInput = {
    node: { id: 'test-node' },
    http: { host: '127.0.0.1', port: 0, demo: true },
    sfu: { workers: 1, respawnBackoffMs: 50 },
    synthetic: { enabled: false },
    logLevel: 'warn',
  };
  const merged = deepMerge(base as Record<string, unknown>, overrides as Record<string, unknown>);
  const node = new SubsecNode(parseConfig(merged));
  try {
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}
