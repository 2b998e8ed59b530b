/**
 * SRT contribution → WebRTC viewer in Chromium: an ffmpeg SRT caller pushes a test pattern
 * (H264 + AAC), a Chromium viewer on the SDK (/sdk/subsec.iife.js) decodes frames; when the caller
 * hangs up the viewer is told (producerRemoved/peerLeft), and when it calls again under the
 * same name the viewer subscribes again and frames resume. A WHEP viewer in Chromium decodes
 * the same feed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { tokenFor, viewerStats, viewFromPage } from '../helpers/whipWhep';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;
let browser: Chromium;
const callers: ChildProcess[] = [];

beforeAll(async () => {
  node = await startNode({ srt: { enabled: true, port: 0 } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const c of callers) if (c.exitCode === null) c.kill('SIGKILL');
  await browser?.close();
  await node?.close();
});

function call(token: string): ChildProcess {
  const url = `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=live/enc,m=publish,t=${token}&latency=120000`;
  const proc = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=25',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-profile:v',
      'baseline',
      '-g',
      '25',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '64k',
      '-f',
      'mpegts',
      url,
    ],
    { stdio: 'ignore' },
  );
  callers.push(proc);
  return proc;
}

/** An SDK viewer in the page that subscribes to every video of `enc` and counts presented frames. */
async function sdkViewer(page: Page, token: string): Promise<void> {
  await page.addScriptTag({ url: `${node.url}/sdk/subsec.iife.js` });
  await page.evaluate(
    async ({ url, token }) => {
      const client = await (window as any).Subsec.connect(url, token);
      const w = window as any;
      w.frames = 0;
      w.events = [] as string[];
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      document.body.append(video);
      const tick = () =>
        video.requestVideoFrameCallback(() => {
          w.frames++;
          tick();
        });
      tick();
      client.on('producerAdded', async (p: any) => {
        w.events.push(`added:${p.identity}:${p.kind}`);
        if (p.kind !== 'video' || p.identity !== 'enc') return;
        const sub = await client.subscribe(p.producerId);
        video.srcObject = new MediaStream([sub.track]);
      });
      client.on('producerRemoved', (p: any) => w.events.push(`removed:${p.identity}:${p.kind}`));
      client.on('peerLeft', (p: any) => w.events.push(`left:${p.identity}`));
      w.client = client;
    },
    { url: node.url, token },
  );
}

const frames = (page: Page) => page.evaluate(() => (window as any).frames as number);
const events = (page: Page) => page.evaluate(() => (window as any).events as string[]);

describe('SRT → Chromium', () => {
  it('an SDK viewer decodes the SRT feed, is told when it ends, and resumes when the caller returns', async () => {
    const token = tokenFor(node, { room: 'live', identity: 'enc', canPublish: true });
    const page = await browser.page(node);
    await sdkViewer(page, tokenFor(node, { room: 'live', identity: 'viewer' }));

    const first = call(token);
    await waitFor(async () => (await frames(page)) > 25, { what: 'frames from the SRT feed', timeoutMs: 20_000 });

    // A WHEP viewer in Chromium gets the same feed.
    const whepPage = await browser.page(node);
    const viewed = await viewFromPage(whepPage, `${node.url}/whep/live/enc`, tokenFor(node, { room: 'live', identity: 'whep-viewer' }));
    expect(viewed.status, viewed.body).toBe(201);
    await waitFor(async () => (await viewerStats(whepPage)).framesDecoded > 10, { what: 'WHEP frames', timeoutMs: 20_000 });
    await whepPage.close();

    first.kill('SIGINT');
    await waitFor(async () => (await events(page)).includes('left:enc'), { what: 'peerLeft for the feed', timeoutMs: 10_000 });
    expect(await events(page)).toEqual(expect.arrayContaining(['removed:enc:video', 'removed:enc:audio']));

    const before = await frames(page);
    call(token);
    await waitFor(async () => (await events(page)).filter((e) => e === 'added:enc:video').length === 2, { what: 'the feed again', timeoutMs: 15_000 });
    await waitFor(async () => (await frames(page)) > before + 25, { what: 'frames after the caller returned', timeoutMs: 20_000 });
    await page.evaluate(() => (window as any).client.close());
    await page.close();
  }, 90_000);
});
