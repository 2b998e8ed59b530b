/**
 * Debian's Chromium through playwright-core with a fake camera and microphone and its own
 * profile, for WHIP/WHEP benches and tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';

/** A launched Chromium with its own profile; `close()` removes both. */
export interface Chromium {
  context: BrowserContext;
  /** A page on the node's origin (so fetch to /whip and /whep is same-origin). */
  page(node: SubsecNode): Promise<Page>;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fake camera and microphone. */
export async function launchChromium(): Promise<Chromium> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-whip-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
    permissions: ['camera', 'microphone'],
  });
  return {
    context,
    async page(node) {
      const page = await context.newPage();
      await page.goto(`${node.url}/metrics`);
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
