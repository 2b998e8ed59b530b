/**
 * dash.js (low-latency mode) in Chromium keeps playing the LL-DASH MPD while the audience-shaped
 * ladder (hls.ladderAdaptation) changes under it: a Representation nobody fetches leaves the MPD
 * (its encode stops), then comes back when CMCD viewers' throughput asks for it — dash.js, pinned
 * on the top Representation, plays on through both MPD updates without an error.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';

const ROOM = 'dashladder';
const DASH_JS = fs.readFileSync(path.join(projectRoot, 'node_modules', 'dashjs', 'dist', 'modern', 'umd', 'dash.all.min.js'), 'utf8');

let node: SubsecNode;
let browser: TestBrowser;
let page: Page;
let pageServer: http.Server;

beforeAll(async () => {
  node = await startNode({
    synthetic: { enabled: true, room: ROOM },
    hls: {
      renditions: [
        { name: 'high', height: 360, videoKbps: 900 },
        { name: 'mid', height: 240, videoKbps: 400 },
        { name: 'low', height: 160, videoKbps: 180 },
      ],
      ladderAdaptation: {
        enabled: true,
        windowMs: 6000,
        evaluateIntervalMs: 250,
        dropAfterMs: 6000,
        minDwellMs: 2000,
        minChangeIntervalMs: 1000,
        retireIdleMs: 1500,
      },
    },
  });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchBrowser();
  page = await browser.browser.newPage();
  pageServer = http.createServer((req, res) => {
    if (req.url === '/dash.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(DASH_JS);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><video id="v" muted playsinline></video><script src="/dash.js"></script>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  await page.goto(`http://localhost:${(pageServer.address() as AddressInfo).port}/`);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  pageServer?.close();
  await node?.close();
});

const representations = async () =>
  [...(await (await fetch(`${node.url}/dash/${ROOM}/synthetic/manifest.mpd`)).text()).matchAll(/<Representation id="([^"]+)"/g)].map((m) => m[1]);

async function player(): Promise<{ currentTime: number; errors: string[] }> {
  return page.evaluate(() => ({
    currentTime: (document.getElementById('v') as HTMLVideoElement).currentTime,
    errors: (window as unknown as { errors: string[] }).errors,
  }));
}

async function playsOn(what: string): Promise<void> {
  const t0 = (await player()).currentTime;
  await waitFor(async () => (await player()).currentTime > t0 + 3, { timeoutMs: 20_000, what: `dash.js playing on after ${what}` });
  expect((await player()).errors).toEqual([]);
}

describe('dash.js across ladder changes', () => {
  it('plays on while a Representation leaves the MPD and comes back', async () => {
    expect(await representations()).toEqual(['high', 'mid', 'low', 'audio']);
    let viewers = [
      { sid: 'd1', rendition: 'high', mtp: 5000 },
      { sid: 'd2', rendition: 'high', mtp: 5000 },
    ];
    const abort = new AbortController();
    const timer = setInterval(() => {
      for (const { sid, rendition, mtp } of viewers) {
        const cmcd = encodeURIComponent(`mtp=${mtp},ot=m,sid="${sid}",v=2`);
        fetch(`${node.url}/hls/${ROOM}/synthetic/${rendition}/index.m3u8?CMCD=${cmcd}`, { signal: abort.signal })
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
      }
    }, 400);
    try {
      await page.evaluate((url) => {
        const w = window as unknown as { dashjs: any; player: any; errors: string[] };
        w.errors = [];
        const p = w.dashjs.MediaPlayer().create();
        w.player = p;
        p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } }, debug: { logLevel: 1 } });
        p.on(w.dashjs.MediaPlayer.events.ERROR, (e: { error?: { code?: number; message?: string } }) => w.errors.push(`${e.error?.code} ${e.error?.message}`));
        p.on(w.dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => p.setRepresentationForTypeById('video', 'high'));
        p.initialize(document.getElementById('v'), url, true);
      }, `${node.url}/dash/${ROOM}/synthetic/manifest.mpd`);
      await waitFor(async () => (await player()).currentTime > 1, { timeoutMs: 30_000, what: 'dash.js playing' });

      await waitFor(async () => !(await representations()).includes('mid'), { timeoutMs: 30_000, what: 'mid out of the MPD' });
      expect((await representations()).sort()).toEqual(['audio', 'high', 'low']);
      await playsOn('mid left the MPD');

      // Two viewers on the floor could sustain `mid` (a third still sustains the top, so it is not lowered).
      viewers = [
        { sid: 'd1', rendition: 'low', mtp: 1000 },
        { sid: 'd2', rendition: 'low', mtp: 1000 },
        { sid: 'd3', rendition: 'high', mtp: 5000 },
      ];
      await waitFor(async () => (await representations()).includes('mid'), { timeoutMs: 30_000, what: 'mid back in the MPD' });
      expect((await representations()).sort()).toEqual(['audio', 'high', 'low', 'mid']);
      await playsOn('mid came back');
    } finally {
      clearInterval(timer);
      abort.abort();
    }
  }, 180_000);
});
