/**
 * Browser-side code for the e2e tests lives in plain `.js` files under test/e2e/pages/: tsx would
 * transpile functions given to `page.evaluate` with helpers (`__name`) that do not exist in the
 * page. They are injected with `page.addScriptTag` and called by name with JSON arguments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

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

export { ensureSdkBuilt } from '../../../loadtest/core/sdkBundle';
