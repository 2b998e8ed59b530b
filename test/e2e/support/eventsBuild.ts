/**
 * Rebuilds clients/dist (SDK, demo and the watch-party/auction apps) when a source is newer than
 * the bundles, so the room-event e2e tests run the code in the tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../../src/config/loadConfig';

function newest(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return t;
}

/** Builds the bundles once per process when any client source is newer than them. */
let built: Promise<void> | undefined;
export function ensureAppsBuilt(): Promise<void> {
  built ??= (async () => {
    const out = path.join(projectRoot, 'clients/dist/subsec.js');
    const bundle = fs.existsSync(out) ? fs.statSync(out).mtimeMs : 0;
    const sources = Math.max(
      newest(path.join(projectRoot, 'clients/sdk/src')),
      newest(path.join(projectRoot, 'clients/apps')),
      newest(path.join(projectRoot, 'src/protocol')),
      fs.statSync(path.join(projectRoot, 'src/moq/hangFormat.ts')).mtimeMs,
    );
    const complete = ['clients/dist/apps', 'clients/dist/vendor/moq-net.mjs'].every((p) => fs.existsSync(path.join(projectRoot, p)));
    if (sources <= bundle && complete) return;
    const { buildSdk } = (await import(path.join(projectRoot, 'scripts/build-sdk.mjs'))) as { buildSdk: (o?: { minify?: boolean }) => Promise<unknown> };
    await buildSdk();
  })();
  return built;
}
