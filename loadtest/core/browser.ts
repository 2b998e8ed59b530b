/** Launches Debian's Chromium through playwright-core with a fake camera and microphone. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Chromium flags for headless WebRTC on this closed network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/** A launched browser with its own profile directory; `close()` removes both. */
export interface TestBrowser {
  browser: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches a persistent-context Chromium (fresh user-data-dir) with camera permission.
 * `quic: true` leaves QUIC on (WebTransport over HTTP/3 needs it); by default it is off so
 * WebRTC/HTTP tests never race a QUIC attempt.
 */
export async function launchBrowser(extraArgs: string[] = [], options: { quic?: boolean } = {}): Promise<TestBrowser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-chromium-'));
  const base = options.quic ? CHROMIUM_ARGS.filter((a) => a !== '--disable-quic') : CHROMIUM_ARGS;
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...base, ...extraArgs],
    permissions: ['camera', 'microphone'],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export type { Browser };
