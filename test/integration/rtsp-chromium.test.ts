/**
 * RTSP pull → Chromium WebRTC viewer, picture by picture: GStreamer's RTSP server paints the wall
 * clock into every frame (loadtest/core/rtspServer.py, the code bench:ingest reads), once in one
 * slice per picture and once in four slices with SPS/PPS before each slice of a key frame; the
 * node pulls both and a Chromium WHEP viewer reads the clock back (loadtest/ingest/ingest-page.js)
 * on nearly every presented frame, not only at key frames.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { tokenFor } from '../helpers/whipWhep';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { startRtspServer, type RtspTestServer } from '../../loadtest/core/rtspServer';
import type { SubsecNode } from '../../src/SubsecNode';

const PAGE_SCRIPT = fs.readFileSync(new URL('../../loadtest/ingest/ingest-page.js', import.meta.url), 'utf8');
/** The clock code's geometry, as rtspServer.py paints it. */
const CODE = { block: 32, bits: 48, perRow: 16 };
const SAMPLE_MS = 5000;

let node: SubsecNode;
let camera: RtspTestServer;
let browser: Chromium;

beforeAll(async () => {
  camera = await startRtspServer(0, undefined, undefined, { RTSP_CLOCK: '1' });
  node = await startNode({ rtsp: { enabled: true } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
  await camera?.kill();
});

/** What the viewer read over SAMPLE_MS (see sampleClock in ingest-page.js). */
interface ClockSamples {
  samples: number[];
  rejected: number;
  frames: number;
}

async function readClock(path: string, stream: string): Promise<ClockSamples> {
  node.rtsp!.add({ url: camera.url(path), room: 'clocks', stream, transport: 'tcp' });
  try {
    await waitFor(
      () =>
        node.rooms
          .get('clocks')
          ?.producersOf(stream)
          .some((p) => p.kind === 'video') ?? false,
      {
        what: `${stream} feed`,
        timeoutMs: 20_000,
      },
    );
    const page = await browser.page(node);
    try {
      await page.addScriptTag({ content: PAGE_SCRIPT });
      const args = {
        url: `${node.url}/whep/clocks/${stream}`,
        token: tokenFor(node, { room: 'clocks', identity: `viewer-${stream}` }),
        code: CODE,
        sampleMs: SAMPLE_MS,
      };
      return (await page.evaluate(`window.subsecIngestBench.sampleClock(${JSON.stringify(args)})`)) as ClockSamples;
    } finally {
      await page.close();
    }
  } finally {
    await node.rtsp!.remove(`clocks-${stream}`);
  }
}

describe('RTSP pull to a Chromium viewer', () => {
  for (const [path, what] of [
    ['/clock-slices', 'four slices a picture, SPS/PPS before every key-frame slice'],
    ['/clock', 'one slice a picture'],
  ] as const) {
    it(`shows every picture of a camera that sends ${what}`, async () => {
      const clock = await readClock(path, path.slice(1));
      const detail = JSON.stringify({ frames: clock.frames, read: clock.samples.length, rejected: clock.rejected });
      // 30 fps for 5 s; a loaded machine presents fewer, but far more than the 5 key frames.
      expect(clock.frames, detail).toBeGreaterThan(50);
      // The page inspects most presented frames (a busy page skips some) ...
      const inspected = clock.samples.length + clock.rejected;
      expect(inspected, detail).toBeGreaterThanOrEqual(0.6 * clock.frames);
      // ... and a picture broken after its key frame fails the code's complement check on every frame until the next one.
      expect(clock.rejected, detail).toBeLessThanOrEqual(0.05 * inspected);
      // The code read is the wall clock of a moment ago, so these are pictures of now, not stale ones.
      const sorted = [...clock.samples].sort((a, b) => a - b);
      expect(sorted[Math.floor(sorted.length / 2)], detail).toBeLessThan(2000);
    }, 60_000);
  }
});
