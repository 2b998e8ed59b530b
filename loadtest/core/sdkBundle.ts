/**
 * Keeps clients/dist (the SDK bundle the node serves at /sdk/) in step with the sources, for the
 * benches and the browser tests that load it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function newestMtime(file: string): number {
  if (!fs.existsSync(file)) return 0;
  const stat = fs.statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, entry)));
  return newest;
}

/** Everything bundled into clients/dist. */
const BUNDLE_SOURCES = ['clients/sdk/src', 'clients/demo', 'clients/apps', 'src/protocol', 'scripts/build-sdk.mjs'];
/** Outputs that must exist besides subsec.js. */
const BUNDLE_OUTPUTS = ['clients/dist/start.js', 'clients/dist/demo.js', 'clients/dist/apps', 'clients/dist/vendor/moq-net.mjs', 'clients/dist/vendor/hls.mjs'];

let building: Promise<void> | undefined;

/**
 * Rebuilds clients/dist (the SDK, demo, apps and vendored modules the node serves at /sdk/) once
 * per process when a source is newer or an output is missing, so a plain `npx vitest run` tests
 * the code in the tree, not a stale bundle.
 */
export function ensureSdkBuilt(): Promise<void> {
  building ??= (async () => {
    const bundle = path.join(root, 'clients/dist/subsec.js');
    const built = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : 0;
    const sources = Math.max(...BUNDLE_SOURCES.map((d) => newestMtime(path.join(root, d))));
    if (built >= sources && BUNDLE_OUTPUTS.every((o) => fs.existsSync(path.join(root, o)))) return;
    const { buildSdk } = (await import(pathToFileURL(path.join(root, 'scripts/build-sdk.mjs')).href)) as {
      buildSdk: () => Promise<unknown>;
    };
    await buildSdk();
  })();
  return building;
}
