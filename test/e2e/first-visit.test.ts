/**
 * A newcomer's first minutes, in Chromium: every page opened fresh by a lone visitor, who does
 * nothing a first-time visitor would not do. The start page plays the synthetic stream over WebRTC,
 * MoQ and LL-HLS, each with a latency read from the picture that keeps changing; the auction page
 * shows the demo auctioneer's video and an open lot within 10 s, and the visitor's bid is
 * accepted; a person going on camera as auctioneer takes over from the demo; the watch party plays
 * its sample, and a second visitor plays in sync; the API page lists the routes; the docs render.
 * At 390 px width no page scrolls sideways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { sampleVideo } from '../../src/demo/appRoutes';
import { DEMO_AUCTION_ROOM, DEMO_AUCTIONEER } from '../../src/demo/demoRooms';
import { ensureSdkBuilt } from './support/pageScripts';

let node: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];
const PHONE = { width: 390, height: 844 };

beforeAll(async () => {
  await Promise.all([ensureSdkBuilt(), sampleVideo()]);
  node = await startNode({
    synthetic: { enabled: true },
    moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
    // One copied rendition keeps the 2-core box cool (the default ladder also transcodes two).
    hls: { renditions: [{ name: 'source', copySource: true, videoKbps: 600 }], partTargetMs: 200, segmentTargetMs: 1000 },
  });
  browser = await launchBrowser(['--disable-background-timer-throttling', '--disable-renderer-backgrounding']);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

async function open(path: string, name: string): Promise<Page> {
  const page = await browser.browser.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  await page.goto(`${node.url}${path}`);
  return page;
}

/**
 * Controls a keyboard or screen-reader user could not use: not reachable with Tab (negative
 * tabIndex) or without an accessible name (text, aria-label, a label, a title or a placeholder).
 */
function unusableControls(page: Page): Promise<string[]> {
  return page.evaluate(`[...document.querySelectorAll('a[href], button, input, select, summary, textarea')]
    .filter((e) => e.getClientRects().length > 0)
    .filter((e) => e.tabIndex < 0 || !((e.getAttribute('aria-label') || e.textContent.trim() || e.title || e.placeholder || (e.labels && e.labels.length)) ))
    .map((e) => e.outerHTML.slice(0, 120))`) as Promise<string[]>;
}

/** The page's width overflow at phone size (0: no horizontal scrolling). */
async function overflowAtPhoneWidth(page: Page): Promise<number> {
  await page.setViewportSize(PHONE);
  // Layout settles on the next frames.
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  return page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;
}

interface TileFigures {
  state: string;
  frames: number;
  latencyMs: number | null;
  samples: number;
  startupMs: number | null;
  kbps: number | null;
  wire: string | null;
  shown: string;
}

function tiles(page: Page): Promise<Record<string, TileFigures>> {
  return page.evaluate(`Object.fromEntries([...document.querySelectorAll('.path')].map((t) => [t.dataset.path, {
    state: t.dataset.state, frames: Number(t.dataset.frames ?? 0),
    latencyMs: t.dataset.latencyMs === undefined ? null : Number(t.dataset.latencyMs),
    samples: Number(t.dataset.latencySamples ?? 0),
    startupMs: t.dataset.startupMs === undefined ? null : Number(t.dataset.startupMs),
    kbps: t.dataset.kbps === undefined ? null : Number(t.dataset.kbps),
    wire: t.dataset.wire ?? null,
    shown: t.querySelector('[data-role=latency]').textContent,
  }]))`) as Promise<Record<string, TileFigures>>;
}

const PATHS = ['webrtc', 'moq', 'hls'] as const;

describe('a first visit (Chromium)', () => {
  it('start page: the stream decodes on WebRTC, MoQ and LL-HLS, with latency read from the picture that changes over time', async () => {
    const page = await open('/', 'start');
    const playing = await waitFor(
      async () => {
        const t = await tiles(page);
        return PATHS.every((p) => t[p]?.state === 'playing' && t[p]!.samples >= 3 && t[p]!.latencyMs !== null) ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'all three paths playing with latency readings' },
    );
    // What the page shows over the next seconds: frames keep decoding, the figures keep moving.
    const shown: Record<string, Set<string>> = { webrtc: new Set(), moq: new Set(), hls: new Set() };
    let last = playing;
    for (let i = 0; i < 6; i++) {
      await waitFor(
        async () => {
          const t = await tiles(page);
          // One more second of figures (the page updates them once a second).
          return PATHS.every((p) => t[p]!.samples >= last[p]!.samples + 5) ? t : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'more latency readings' },
      );
      last = await tiles(page);
      for (const p of PATHS) shown[p]!.add(last[p]!.shown);
    }
    for (const p of PATHS) {
      const t = last[p]!;
      expect(t.frames, `${p} frames`).toBeGreaterThan(playing[p]!.frames);
      expect(shown[p]!.size, `${p} latency figures shown: ${[...shown[p]!].join(', ')}`).toBeGreaterThan(1);
      // Signed: a browser whose estimate of the node's clock runs a little behind can read just below 0.
      expect(t.latencyMs!, `${p} latency`).toBeGreaterThan(-100);
      expect(t.startupMs!, `${p} startup`).toBeGreaterThan(0);
      expect(t.kbps!, `${p} bitrate`).toBeGreaterThan(50);
    }
    // Sub-second paths stay sub-second; LL-HLS is seconds, not tens.
    expect(last.webrtc!.latencyMs!).toBeLessThan(1000);
    expect(last.moq!.latencyMs!).toBeLessThan(1500);
    expect(last.hls!.latencyMs!).toBeLessThan(10_000);
    expect(['websocket', 'webtransport']).toContain(last.moq!.wire);
    expect(await page.evaluate("document.querySelector('[data-path=moq] [data-role=wire]').textContent")).toMatch(/over Web(Socket|Transport)/);
    process.stderr.write(
      `start page: glass-to-glass ${PATHS.map((p) => `${p} ${last[p]!.latencyMs} ms (startup ${last[p]!.startupMs} ms, ${last[p]!.kbps} kbit/s)`).join(', ')}\n`,
    );
    // Links a newcomer looks for.
    for (const href of ['/apps/auction/', '/apps/watch-party/', '/qoe/', '/v1/docs', '/docs/']) {
      expect(await page.evaluate(`!!document.querySelector('a[href="${href}"]')`), href).toBe(true);
    }
    expect(await unusableControls(page)).toEqual([]);
    expect(await overflowAtPhoneWidth(page)).toBe(0);
    await page.close();
  }, 150_000);

  it('auction: a lone visitor sees video and an open lot within 10 s and can bid; a person on camera takes over from the demo', async () => {
    const started = Date.now();
    const page = await open('/apps/auction/', 'auction');
    await waitFor(
      () =>
        page.evaluate(
          "(() => { const v = document.getElementById('video'); return v.readyState >= 2 && !v.paused && v.getVideoPlaybackQuality().totalVideoFrames > 0 && !document.getElementById('bid-min').disabled && !!window.subsecApp.lot(); })()",
        ),
      { timeoutMs: 10_000, intervalMs: 100, what: 'decoding video and an open lot' },
    );
    process.stderr.write(`auction: video and an open lot ${Date.now() - started} ms after opening the page\n`);
    const me = (await page.evaluate('window.subsecApp.client.identity')) as string;
    expect(await page.evaluate('window.subsecApp.lot().auctioneer')).toBe(DEMO_AUCTIONEER);
    // The visitor bids with the big button; a demo bidder may outbid at the same moment: bid again then.
    let accepted = false;
    for (let attempt = 0; attempt < 3 && !accepted; attempt++) {
      await page.click('#bid-min');
      accepted = await waitFor(
        async () => {
          const log = await node.events!.log.read(DEMO_AUCTION_ROOM, 0, 1000);
          if (log.events.some((e) => e.type === 'bid' && e.identity === me)) return 'yes';
          const toast = (await page.evaluate(
            "document.querySelector('.toast')?.hidden === false ? document.querySelector('.toast').textContent : ''",
          )) as string;
          return /must be at least/.test(toast) ? 'outbid' : undefined;
        },
        { timeoutMs: 10_000, what: "the visitor's bid" },
      ).then((r) => r === 'yes');
    }
    expect(accepted).toBe(true);
    await waitFor(() => page.evaluate("document.querySelector('#ladder li.mine') !== null"), { what: "the visitor's bid on the ladder" });

    // A person joins as the auctioneer and goes on camera: the demo leaves, the visitor watches them.
    const ann = await open(`/apps/auction/?role=auctioneer&name=ann`, 'auctioneer');
    await waitFor(() => ann.evaluate("document.getElementById('status').dataset.state === 'connected'"), { what: 'ann connected' });
    await ann.click('#camera');
    await waitFor(() => node.demos?.auctioneer?.running === false && (node.rooms.get(DEMO_AUCTION_ROOM)?.producersOf(DEMO_AUCTIONEER).length ?? 0) === 0, {
      timeoutMs: 15_000,
      what: 'the demo auctioneer gone',
    });
    await waitFor(() => page.evaluate("window.subsecApp.player?.identity === 'ann'"), { timeoutMs: 20_000, what: 'the visitor watching ann' });
    // The demo's open lot was closed early when it left.
    const log = (await node.events!.log.read(DEMO_AUCTION_ROOM, 0, 1000)).events;
    const demoLots = log.filter((e) => e.type === 'lot.open' && e.identity === DEMO_AUCTIONEER).map((e) => (e.payload as { lotId: string }).lotId);
    const lastDemoLot = demoLots.at(-1)!;
    expect(log.some((e) => e.type === 'lot.closed' && (e.payload as { lotId: string }).lotId === lastDemoLot)).toBe(true);
    // Ann leaves: the demo comes back on camera for the visitor still there.
    await ann.close();
    await waitFor(() => node.demos?.auctioneer?.running, { timeoutMs: 15_000, what: 'the demo auctioneer back' });
    await waitFor(() => page.evaluate(`window.subsecApp.player?.identity === ${JSON.stringify(DEMO_AUCTIONEER)}`), {
      timeoutMs: 20_000,
      what: 'the visitor watching the demo again',
    });
    expect(await unusableControls(page)).toEqual([]);
    expect(await overflowAtPhoneWidth(page)).toBe(0);
    await page.close();
  }, 120_000);

  it('watch party: the sample plays for the first visitor, and a second one plays in sync', async () => {
    const first = await open('/apps/watch-party/', 'party-1');
    const playingAt = (p: Page) =>
      p.evaluate(
        "(() => { const v = document.getElementById('shared'); return !v.paused && v.readyState >= 3 && v.currentTime > 0.5 && v.currentSrc.endsWith('/apps/media/sample.webm'); })()",
      );
    await waitFor(() => playingAt(first), { timeoutMs: 20_000, what: 'the sample playing for the first visitor' });
    const second = await open('/apps/watch-party/', 'party-2');
    await waitFor(() => playingAt(second), { timeoutMs: 20_000, what: 'the sample playing for the second visitor' });
    // In sync: both positions brought to the same instant of the node's clock.
    await waitFor(
      async () => {
        const [a, b] = (await Promise.all([first.evaluate('window.subsecApp.sample()'), second.evaluate('window.subsecApp.sample()')])) as Array<{
          at: number;
          position: number;
        }>;
        const diff = Math.abs(b.position + (a.at - b.at) / 1000 - a.position);
        return diff < 0.25;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the two visitors within 250 ms' },
    );
    expect(await unusableControls(first)).toEqual([]);
    expect(await overflowAtPhoneWidth(first)).toBe(0);
    await first.close();
    await second.close();
  }, 90_000);

  it('API page: the route list renders from the node, offline', async () => {
    const page = await open('/v1/docs', 'api');
    await waitFor(() => page.evaluate("document.querySelectorAll('.opblock').length >= 10"), { timeoutMs: 20_000, what: 'the route list' });
    const paths = (await page.evaluate("[...document.querySelectorAll('.opblock-summary-path')].map((e) => e.textContent)")) as string[];
    expect(paths.some((p) => p.includes('/v1/tokens'))).toBe(true);
    expect(paths.some((p) => p.includes('/v1/rooms'))).toBe(true);
    expect(await overflowAtPhoneWidth(page)).toBe(0);
    await page.close();
  }, 60_000);

  it('the other pages a newcomer reaches fit a phone too: apps, room, QoE dashboard, docs', async () => {
    for (const path of ['/apps/', '/room/', '/qoe/', '/docs/', '/docs/events.md']) {
      const page = await open(path, path);
      await page.waitForLoadState('load');
      expect(await unusableControls(page), path).toEqual([]);
      expect(await overflowAtPhoneWidth(page), path).toBe(0);
      await page.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('with http.demo off, the node runs no demo', async () => {
    const plain = await startNode({ http: { demo: false } });
    try {
      expect(plain.demos).toBeUndefined();
      expect((await fetch(`${plain.url}/demo/info`)).status).toBe(404);
      // The API reference is part of the API, not of the demo.
      expect((await fetch(`${plain.url}/v1/docs`)).status).toBe(200);
      expect((await fetch(`${plain.url}/v1/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    } finally {
      await plain.close();
    }
  }, 30_000);
});
