/**
 * Chromium inside a lab host (playwright-core through a wrapper script that runs it with
 * `ip netns exec`), with the flags of the project's browser tests; the lab's close() kills
 * whatever is left in the host.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../core/browser';
import type { LabHost } from './NetworkLab';

/** Flags that keep timers and rendering going in background pages (publishers paint from timers). */
export const NO_THROTTLING = ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

/**
 * Lab addresses are not secure contexts, and the SDK needs one (mediasoup-client's device check
 * reads navigator.userAgentData; WebCodecs, WebTransport). So lab pages live at this origin —
 * `http://localhost` is secure — answered by playwright itself (nothing listens there), and load
 * the SDK and talk to the node across origins (the node answers CORS). Chromium's Local Network
 * Access checks, which would stop a loopback page from reaching a private address, are off.
 */
export const LAB_PAGE_URL = 'http://localhost/netlab';
/** Flags of lab browsers on top of the project's. */
export const LAB_CHROMIUM_ARGS = [...NO_THROTTLING, '--disable-features=LocalNetworkAccessChecks'];

/** A Chromium running in a lab host. */
export interface LabBrowser {
  context: BrowserContext;
  /** A new blank page at {@link LAB_PAGE_URL}. */
  page(): Promise<Page>;
  close(): Promise<void>;
}

/** Launches Chromium inside `host`. */
export async function launchLabBrowser(host: LabHost, extraArgs: string[] = []): Promise<LabBrowser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), `subsec-chromium-${host.name}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: host.lab.chromiumExecutable(host),
    headless: true,
    args: [...CHROMIUM_ARGS, ...LAB_CHROMIUM_ARGS, ...extraArgs],
    permissions: ['camera', 'microphone'],
  });
  return {
    context,
    async page() {
      const page = await context.newPage();
      await page.route(`${LAB_PAGE_URL}*`, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><html><head><title>netlab</title></head><body></body></html>' }),
      );
      await page.goto(LAB_PAGE_URL);
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
