/**
 * The auction app in Chromium, as people use it: the auctioneer goes live and opens a lot; a
 * bidder on WebRTC bids from the page; a second bidder watching over LL-HLS sees the bid, shown
 * when the video it belongs to is on screen (its playhead's program date has reached the bid's
 * media time) — seconds after the WebRTC bidder, in step with the picture. A double tap bids once;
 * the server's anti-sniping rule extends a lot on a late bid; the lot closes with the winner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { ensureSdkBuilt } from './support/pageScripts';

const ROOM = 'auction-e2e';
let node: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({
    // One copied rendition keeps the 2-core box cool; the anti-sniping window is short for the test.
    hls: { renditions: [{ name: 'source', copySource: true, videoKbps: 1500 }], partTargetMs: 200, segmentTargetMs: 1000 },
    events: { auction: { antiSnipingMs: 7000, extensionMs: 6000 } },
  });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

async function openAuction(name: string, query: string): Promise<Page> {
  const page = await browser.browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  await page.goto(`${node.url}/apps/auction/?room=${ROOM}&name=${name}&${query}`);
  await waitFor(() => page.evaluate("document.getElementById('status').dataset.state === 'connected'"), { what: `${name} connected` });
  return page;
}

interface Shown {
  seq: number;
  type: string;
  mediaTime: number;
  shownAt: number;
  playhead: number | undefined;
  transport: string;
}
const shown = (page: Page) => page.evaluate('window.subsecApp.shown') as Promise<Shown[]>;
const text = (page: Page, id: string) => page.evaluate(`document.getElementById(${JSON.stringify(id)}).textContent`) as Promise<string>;
const transport = (page: Page) => page.evaluate('window.subsecApp.player?.transport ?? null') as Promise<string | null>;

describe('auction app (Chromium)', () => {
  it('auctioneer live, bid on WebRTC, the bid seen in step with the video on LL-HLS, double tap bids once, anti-sniping, sold', async () => {
    const ann = await openAuction('ann', 'role=auctioneer');
    await ann.click('#camera');
    await waitFor(() => ann.evaluate("document.getElementById('camera').textContent === 'Live'"), { what: 'auctioneer live', timeoutMs: 20_000 });

    const bob = await openAuction('bob', 'via=webrtc');
    const hlsViewer = await openAuction('hanna', 'via=hls');
    await waitFor(async () => (await transport(bob)) === 'webrtc', { what: 'bob on WebRTC', timeoutMs: 20_000 });
    await waitFor(async () => (await transport(hlsViewer)) === 'hls', { what: 'hanna on LL-HLS', timeoutMs: 60_000 });

    // The auctioneer opens a lot from the form.
    await ann.fill('#lot-title', 'Brass telescope');
    await ann.fill('#lot-start', '100');
    await ann.fill('#lot-increment', '10');
    await ann.fill('#lot-duration', '30');
    await ann.click('#open-lot button');
    await waitFor(async () => (await text(bob, 'lot-name')) === 'Brass telescope', { what: 'lot on bob' });
    expect(await text(bob, 'price')).toBe('$100');

    // Bob double-taps the minimum bid: one bid ($100), the second tap finds the same idempotency key.
    await Promise.all([bob.click('#bid-min'), bob.click('#bid-min')]);
    await waitFor(async () => (await text(bob, 'price')) === '$100' && (await bob.evaluate("document.querySelectorAll('#ladder li').length")) === 1, {
      what: 'bid on bob',
    });
    const log = await node.events!.log.read(ROOM, 0, 100);
    expect(log.events.filter((e) => e.type === 'bid')).toHaveLength(1);
    const bidEvent = log.events.find((e) => e.type === 'bid')!;

    // Hanna (LL-HLS) sees it too, once her picture reached the bid's media time.
    await waitFor(async () => (await hlsViewer.evaluate("document.querySelectorAll('#ladder li').length")) === 1, {
      what: 'bid on the LL-HLS viewer',
      timeoutMs: 20_000,
    });
    const onHls = (await shown(hlsViewer)).find((s) => s.seq === bidEvent.seq)!;
    const onRtc = (await shown(bob)).find((s) => s.seq === bidEvent.seq)!;
    expect(onHls.transport).toBe('hls');
    expect(onHls.playhead).toBeGreaterThanOrEqual(bidEvent.mediaTime);
    // Shown within a part or two of its frame, not earlier, not much later.
    expect(onHls.playhead! - bidEvent.mediaTime).toBeLessThan(500);
    const hlsDelay = onHls.shownAt - bidEvent.serverTime;
    const rtcDelay = onRtc.shownAt - bidEvent.serverTime;
    expect(hlsDelay).toBeGreaterThan(rtcDelay);
    process.stderr.write(
      `auction: bid shown ${rtcDelay.toFixed(0)} ms after acceptance on WebRTC, ${hlsDelay.toFixed(0)} ms on LL-HLS (playhead ${(onHls.playhead! - bidEvent.mediaTime).toFixed(0)} ms past its media time)\n`,
    );

    // The LL-HLS viewer bids too; her bid is stamped with the frame she was watching.
    await hlsViewer.click('#bid-min');
    await waitFor(async () => (await text(bob, 'price')) === '$110', { what: "hanna's bid on bob" });
    const hannaBid = (await node.events!.log.read(ROOM, 0, 100)).events.find((e) => e.type === 'bid' && e.identity === 'hanna')!;
    expect(hannaBid.serverTime - hannaBid.mediaTime).toBeGreaterThan(300);

    // A lot about to end is extended by a late bid (server rule), and then sold at the bell.
    await ann.fill('#lot-title', 'Pocket watch');
    await ann.fill('#lot-duration', '9');
    await ann.click('#open-lot button');
    await waitFor(async () => (await text(bob, 'lot-name')) === 'Pocket watch', { what: 'second lot' });
    expect(await bob.evaluate("document.getElementById('extended').hidden")).toBe(true);
    // Bid inside the last 7 s (the anti-sniping window of this node), with seconds to spare so a
    // loaded machine still lands the bid before the bell.
    await waitFor(() => bob.evaluate('window.subsecApp.lot().endsAt - window.subsecApp.client.clock.now() < 6000'), {
      what: 'anti-sniping window',
      timeoutMs: 15_000,
    });
    await bob.click('#bid-min');
    await waitFor(() => bob.evaluate("!document.getElementById('extended').hidden"), { what: 'extended badge' });
    await waitFor(async () => (await text(bob, 'result')).startsWith('Sold at the bell to you'), { what: 'sold', timeoutMs: 20_000 });
    await waitFor(async () => (await text(ann, 'result')).includes('bob'), { what: 'sold on the auctioneer' });
    for (const p of [ann, bob, hlsViewer]) await p.close();
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
