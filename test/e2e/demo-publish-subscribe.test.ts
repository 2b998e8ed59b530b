/**
 * The demo page, driven as a person would in Debian Chromium with the fake camera: page A joins a
 * room and publishes its camera with simulcast, page B joins the same room and watches it (frames
 * decoded by B's <video>), switches the layer selector low → high and sees the resolution change,
 * and both chat over the data channel. The node's synthetic source publishes into the same room
 * and plays on the page too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import type { SubsecNode } from '../../src/SubsecNode';
import { call, ensureSdkBuilt, inject } from './support/pageScripts';

const ROOM = 'e2e-demo';

interface Tile {
  frames: number;
  dropped: number;
  width: number;
  height: number;
  spatialLayer: string | null;
  producerId: string;
  layerSelectable: boolean;
  selectedLayer: string | null;
}

let node: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({ synthetic: { enabled: true, room: ROOM } });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

/** Opens the demo page for `identity`, joins the room with the Join button and waits for "connected". */
async function openDemo(identity: string): Promise<Page> {
  const page = await browser.browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${identity}: ${error.message}`));
  await page.goto(`${node.url}/room/?room=${ROOM}`);
  await inject(page, 'demo-probe');
  await page.fill('#identity', identity);
  await page.click('#join');
  await page.waitForSelector('#status[data-state=connected]', { timeout: 15_000 });
  return page;
}

function tile(page: Page, identity: string): Promise<Tile | null> {
  return call<Tile | null>(page, 'demoProbe.tile', identity);
}

/** Waits until the tile of `identity` has decoded `more` frames beyond what it had when called. */
async function framesAdvance(page: Page, identity: string, more: number, timeoutMs = 15_000): Promise<Tile> {
  const start = (await tile(page, identity))?.frames ?? 0;
  return waitFor(
    async () => {
      const t = await tile(page, identity);
      return t && t.frames >= start + more ? t : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${more} more decoded frames of ${identity} (from ${start})` },
  );
}

describe('demo page: publish, watch, layers, chat', () => {
  let alice: Page;
  let bob: Page;

  it('B decodes the camera A publishes with simulcast', async () => {
    alice = await openDemo('alice');
    await alice.click('#publish');
    await waitFor(() => (node.rooms.get(ROOM)?.producersOf('alice').length ?? 0) >= 2, {
      what: "alice's camera and microphone producers",
      timeoutMs: 15_000,
    });
    const video = node.rooms
      .get(ROOM)!
      .producersOf('alice')
      .find((p) => p.kind === 'video')!;
    expect(video.type).toBe('simulcast');
    expect(video.rtpParameters.encodings).toHaveLength(3);
    await alice.waitForSelector('#local:not([hidden])', { timeout: 5_000 });

    bob = await openDemo('bob');
    await bob.waitForSelector('#videos figure.remote[data-identity=alice][data-kind=video]', { timeout: 15_000 });
    await bob.waitForSelector('#audios audio[data-identity=alice]', { state: 'attached', timeout: 10_000 });
    const first = await framesAdvance(bob, 'alice', 10, 20_000);
    expect(first.width).toBeGreaterThan(0);
    expect(first.producerId).toBe(video.id);
    expect(first.layerSelectable).toBe(true);
    // Still decoding a moment later: not just one keyframe.
    await framesAdvance(bob, 'alice', 15);
  }, 60_000);

  it('switching the layer selector low → high changes the received resolution', async () => {
    const select = '#videos figure.remote[data-identity=alice] select.layer';
    await bob.selectOption(select, '0');
    const low = await waitFor(
      async () => {
        const t = await tile(bob, 'alice');
        return t && t.spatialLayer === '0' && t.width > 0 && t.width <= 400 ? t : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the low layer (≤ 400 px wide) on B' },
    );
    await framesAdvance(bob, 'alice', 5);

    await bob.selectOption(select, '2');
    const high = await waitFor(
      async () => {
        const t = await tile(bob, 'alice');
        return t && t.spatialLayer === '2' && t.width >= low.width * 2 ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `the high layer (≥ ${low.width * 2} px wide) on B` },
    );
    await framesAdvance(bob, 'alice', 5);
    expect(high.height).toBeGreaterThanOrEqual(low.height * 2);
  }, 60_000);

  it('chat messages cross the data channel both ways', async () => {
    await alice.fill('#chat-input', 'hello from alice');
    await alice.click('#chat-send');
    await waitFor(async () => (await call<string[]>(bob, 'demoProbe.chat')).some((l) => l.includes('alice:') && l.includes('hello from alice')), {
      what: "alice's message on B",
    });
    await bob.fill('#chat-input', 'hi alice, bob here');
    await bob.click('#chat-send');
    await waitFor(async () => (await call<string[]>(alice, 'demoProbe.chat')).some((l) => l.includes('bob:') && l.includes('hi alice, bob here')), {
      what: "bob's message on A",
    });
  }, 30_000);

  it('the synthetic source in the same room plays on the page', async () => {
    await bob.waitForSelector('#videos figure.remote[data-identity=synthetic][data-kind=video]', { timeout: 15_000 });
    const synthetic = await framesAdvance(bob, 'synthetic', 10, 20_000);
    expect(synthetic).toMatchObject({ width: 640, height: 360 });
    // A plain (non-simulcast) H264 stream: the page hides the layer selector.
    expect(synthetic.layerSelectable).toBe(false);
    expect(await call<string[]>(alice, 'demoProbe.errors')).toEqual([]);
    expect(await call<string[]>(bob, 'demoProbe.errors')).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 45_000);
});
