/**
 * Browser-side code for the e2e tests lives in plain `.js` files under test/e2e/pages/: tsx would
 * transpile functions given to `page.evaluate` with helpers (`__name`) that do not exist in the
 * page. They are injected with `page.addScriptTag` and called by name with JSON arguments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');

/** Source of test/e2e/pages/<name>.js. */
export function pageScript(name: string): string {
  return fs.readFileSync(path.join(here, '..', 'pages', `${name}.js`), 'utf8');
}

/** Injects test/e2e/pages/<name>.js into the page's current document. */
export async function inject(page: Page, name: string): Promise<void> {
  await page.addScriptTag({ content: pageScript(name) });
}

/** Calls the in-page function at `fn` (a global path such as `e2e.connect`) with JSON arguments. */
export function call<T = unknown>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`window.${fn}(${args.map((a) => (a === undefined ? 'undefined' : JSON.stringify(a))).join(', ')})`) as Promise<T>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * Rebuilds clients/dist (the bundles the node serves at /sdk/) when a source is newer, so a
 * plain `npx vitest run` tests the SDK and demo as they are in the tree, not a stale bundle.
 */
export async function ensureSdkBuilt(): Promise<void> {
  const bundle = path.join(root, 'clients/dist/subsec.js');
  const built = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : 0;
  const sources = Math.max(...['clients/sdk/src', 'clients/demo', 'src/protocol'].map((d) => newestMtime(path.join(root, d))));
  if (built >= sources && fs.existsSync(path.join(root, 'clients/dist/demo.js'))) return;
  const { buildSdk } = (await import(pathToFileURL(path.join(root, 'scripts/build-sdk.mjs')).href)) as {
    buildSdk: () => Promise<unknown>;
  };
  await buildSdk();
}
