/**
 * The user-level proof of LL-DASH: two players nobody here wrote, from node_modules — dash.js
 * (low-latency mode, enabled by the MPD's availabilityTimeComplete=false and ServiceDescription)
 * and Shaka Player (lowLatencyMode) — play the node's MPD in Chromium from another origin: video
 * time advances, each switches to the lowest rendition when told (and renders it), each stays
 * near the live edge (latency measured against the MPD's availabilityStartTime on the same
 * clock), and dash.js's CMCD reaches the QoE metrics.
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

const ROOM = 'dashplay';
const DASH_JS = fs.readFileSync(path.join(projectRoot, 'node_modules', 'dashjs', 'dist', 'modern', 'umd', 'dash.all.min.js'), 'utf8');
const SHAKA = fs.readFileSync(path.join(projectRoot, 'node_modules', 'shaka-player', 'dist', 'shaka-player.compiled.js'), 'utf8');

/** Counts the frames the page presents (requestVideoFrameCallback), whatever the player. */
const COUNT_FRAMES =
  '<script>window.presented = 0; const v = document.getElementById("v"); const onFrame = () => { window.presented++; v.requestVideoFrameCallback(onFrame); }; v.requestVideoFrameCallback(onFrame);</script>';

let node: SubsecNode;
let browser: TestBrowser;
let pageServer: http.Server;
let pageOrigin: string;
let mpdUrl: string;

beforeAll(async () => {
  node = await startNode({ synthetic: { enabled: true, room: ROOM } });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchBrowser();
  // The player pages come from another origin than the node, as behind a CDN: CORS is exercised.
  pageServer = http.createServer((req, res) => {
    if (req.url === '/dash.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(DASH_JS);
    else if (req.url === '/shaka.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(SHAKA);
    else {
      const script = req.url === '/shaka' ? '/shaka.js' : '/dash.js';
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<!doctype html><video id="v" muted playsinline></video>${COUNT_FRAMES}<script src="${script}"></script>`);
    }
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
  mpdUrl = `${node.url}/dash/${ROOM}/synthetic/manifest.mpd`;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  pageServer?.close();
  await node?.close();
});

interface VideoState {
  currentTime: number;
  /** Frames presented so far. */
  frames: number;
  height: number;
  /** Wall-clock distance of the playhead from now, per the MPD's availabilityStartTime (ms). */
  latencyMs: number;
  errors: string[];
}

async function availabilityStart(): Promise<number> {
  const text = await (await fetch(mpdUrl)).text();
  return Date.parse(/availabilityStartTime="([^"]+)"/.exec(text)![1]!);
}

async function videoState(page: Page, ast: number): Promise<VideoState> {
  return page.evaluate((astMs) => {
    const v = document.getElementById('v') as HTMLVideoElement;
    return {
      currentTime: v.currentTime,
      frames: (window as unknown as { presented: number }).presented,
      height: v.videoHeight,
      latencyMs: Date.now() - (astMs + v.currentTime * 1000),
      errors: (window as unknown as { errors: string[] }).errors,
    };
  }, ast);
}

/** Segment URLs each page requested (to find segments fetched twice). */
const segmentRequests = new Map<Page, string[]>();

async function openPage(route: string): Promise<Page> {
  const page = await browser.browser.newPage();
  const requested: string[] = [];
  segmentRequests.set(page, requested);
  page.on('request', (r) => {
    const m = /\/dash\/[^?]*\/(s\d+\.m4s)/.exec(r.url());
    if (m) requested.push(new URL(r.url()).pathname);
  });
  if (process.env.DASH_DEBUG) {
    page.on('console', (m) => console.log('page:', m.text()));
    page.on('requestfailed', (r) => console.log('failed:', r.url().slice(0, 100), r.failure()?.errorText));
    page.on('requestfinished', (r) => {
      if (r.url().includes('/dash/'))
        void r
          .response()
          .then((res) =>
            console.log(Date.now() % 100000, 'done', res?.status(), new URL(r.url()).pathname.split('/').slice(-3).join('/'), JSON.stringify(r.timing())),
          );
    });
  }
  await page.goto(`${pageOrigin}${route}`);
  return page;
}

/** Asserts that segments were sent while being cut (chunked) and that no segment was fetched twice while the player ran on its own (before a forced switch, which replaces buffered media on purpose). */
function checkSegmentDelivery(page: Page, what: string): void {
  const requested = [...segmentRequests.get(page)!];
  const twice = requested.filter((u, i) => requested.indexOf(u) !== i);
  console.log(`${what}: ${requested.length} segment requests, fetched twice: ${JSON.stringify(twice)}`);
  expect(requested.length).toBeGreaterThan(3);
  expect(twice).toEqual([]);
}

async function chunkedCount(): Promise<number> {
  const text = await node.metrics.registry.getSingleMetricAsString('subsec_dash_requests_total');
  return [...text.matchAll(/kind="chunked",status="200"[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** Waits for playback, checks that time advances, and returns the latency samples over ~3 s. */
async function playsNearLiveEdge(page: Page, ast: number, what: string): Promise<number[]> {
  const first = await waitFor(
    async () => {
      const s = await videoState(page, ast);
      if (process.env.DASH_DEBUG) console.log(what, JSON.stringify(s));
      return s.currentTime > 0.5 ? s : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: `${what} to start playing` },
  );
  const later = await waitFor(
    async () => {
      const s = await videoState(page, ast);
      // Time advances and frames are presented (the frame count can lag the clock on a loaded machine).
      return s.currentTime > first.currentTime + 3 && s.frames > first.frames ? s : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: `${what}: currentTime to advance 3 s with frames presented` },
  );
  expect(later.frames).toBeGreaterThan(first.frames);
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) {
    samples.push((await videoState(page, ast)).latencyMs);
    await new Promise((r) => setTimeout(r, 200));
  }
  return samples.sort((a, b) => a - b);
}

describe('LL-DASH players in Chromium', () => {
  it('dash.js (low-latency mode) plays, switches renditions, stays near the live edge and sends CMCD', async () => {
    const chunkedBefore = await chunkedCount();
    const page = await openPage('/dashjs');
    try {
      await page.evaluate((url) => {
        const w = window as unknown as { dashjs: any; player: any; errors: string[]; rendered: string[] };
        w.errors = [];
        w.rendered = [];
        const player = w.dashjs.MediaPlayer().create();
        w.player = player;
        player.updateSettings({
          streaming: { cmcd: { enabled: true, sid: 'dash-e2e-session', cid: 'dashplay/synthetic', mode: 'query' } },
          debug: { logLevel: 1 },
        });
        player.on(w.dashjs.MediaPlayer.events.ERROR, (e: { error?: { code?: number; message?: string } }) =>
          w.errors.push(`${e.error?.code} ${e.error?.message}`),
        );
        player.on(w.dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, (e: { mediaType: string; newRepresentation?: { id: string } }) => {
          if (e.mediaType === 'video' && e.newRepresentation) w.rendered.push(e.newRepresentation.id);
        });
        player.initialize(document.getElementById('v'), url, true);
      }, mpdUrl);
      const ast = await availabilityStart();
      const latencies = await playsNearLiveEdge(page, ast, 'dash.js');
      const lowLatency = await page.evaluate(() =>
        (window as unknown as { player: { getLowLatencyModeEnabled(): boolean; getCurrentLiveLatency(): number } }).player.getLowLatencyModeEnabled(),
      );
      expect(lowLatency).toBe(true);
      const selfReported = await page.evaluate(() => (window as unknown as { player: { getCurrentLiveLatency(): number } }).player.getCurrentLiveLatency());
      console.log(`dash.js: latency p50 ${latencies[7]} ms (min ${latencies[0]}, max ${latencies.at(-1)}); dash.js reports ${selfReported} s`);
      // A sanity bound (a loaded 2-core box stalls players); bench:hls measures glass-to-glass.
      expect(latencies[7]!).toBeLessThan(6000);

      // It fetched segments in progress (chunked, part by part), each once.
      expect(await chunkedCount()).toBeGreaterThan(chunkedBefore + 2);
      checkSegmentDelivery(page, 'dash.js');

      // Told to play the lowest rendition, it does, and keeps playing.
      await page.evaluate(() => {
        const p = (window as unknown as { player: any }).player;
        p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
        p.setRepresentationForTypeById('video', 'low');
      });
      await waitFor(async () => (await page.evaluate(() => (window as unknown as { rendered: string[] }).rendered)).includes('low'), {
        timeoutMs: 15_000,
        what: 'dash.js to render the low rendition',
      });
      await waitFor(async () => ((await videoState(page, ast)).height === 160 ? true : undefined), { timeoutMs: 10_000, what: 'the video to be 160 px high' });
      const afterSwitch = (await videoState(page, ast)).currentTime;
      await waitFor(async () => (await videoState(page, ast)).currentTime > afterSwitch + 1.5, {
        timeoutMs: 15_000,
        what: 'dash.js playback after the switch',
      });
      expect((await videoState(page, ast)).errors).toEqual([]);

      // Its CMCD reached the QoE metrics (the same intake as LL-HLS).
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`subsec_hls_cmcd_requests_total\\{[^}]*room="${ROOM}"[^}]*ot="v"[^}]*\\} [1-9]`));
      expect(metrics).toMatch(new RegExp(`subsec_hls_cmcd_active_sessions\\{[^}]*room="${ROOM}"[^}]*\\} 1`));
      expect(metrics).toMatch(new RegExp(`subsec_hls_cmcd_buffer_length_seconds_count\\{[^}]*room="${ROOM}"[^}]*\\} [1-9]`));
    } finally {
      await page.close();
    }
  }, 120_000);

  it('Shaka Player (lowLatencyMode) plays, switches renditions and stays near the live edge', async () => {
    const chunkedBefore = await chunkedCount();
    const page = await openPage('/shaka');
    try {
      await page.evaluate(async (url) => {
        const w = window as unknown as { shaka: any; player: any; errors: string[] };
        w.errors = [];
        w.shaka.polyfill.installAll();
        const player = new w.shaka.Player();
        await player.attach(document.getElementById('v'));
        w.player = player;
        player.configure({ streaming: { lowLatencyMode: true } });
        player.addEventListener('error', (e: { detail?: { code?: number; message?: string } }) =>
          w.errors.push(`${e.detail?.code} ${e.detail?.message ?? ''}`),
        );
        await player.load(url);
        void (document.getElementById('v') as HTMLVideoElement).play().catch(() => undefined);
      }, mpdUrl);
      const ast = await availabilityStart();
      const latencies = await playsNearLiveEdge(page, ast, 'shaka');
      const live = await page.evaluate(() => (window as unknown as { player: { isLive(): boolean } }).player.isLive());
      expect(live).toBe(true);
      console.log(`shaka: latency p50 ${latencies[7]} ms (min ${latencies[0]}, max ${latencies.at(-1)})`);
      expect(latencies[7]!).toBeLessThan(6000);
      expect(await chunkedCount()).toBeGreaterThan(chunkedBefore + 2);
      checkSegmentDelivery(page, 'shaka');

      const lowHeight = await page.evaluate(() => {
        const p = (window as unknown as { player: any }).player;
        p.configure({ abr: { enabled: false } });
        const tracks = p.getVariantTracks() as Array<{ height: number }>;
        const low = tracks.reduce((a, b) => (b.height < a.height ? b : a));
        p.selectVariantTrack(low, true);
        return low.height;
      });
      expect(lowHeight).toBe(160);
      await waitFor(async () => ((await videoState(page, ast)).height === 160 ? true : undefined), {
        timeoutMs: 15_000,
        what: 'Shaka to render the 160 px rendition',
      });
      const afterSwitch = (await videoState(page, ast)).currentTime;
      await waitFor(async () => (await videoState(page, ast)).currentTime > afterSwitch + 1.5, { timeoutMs: 15_000, what: 'Shaka playback after the switch' });
      expect((await videoState(page, ast)).errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);
});
