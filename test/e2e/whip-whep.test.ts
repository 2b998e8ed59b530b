/**
 * WHIP publish from Chromium (bare RTCPeerConnection, fake camera) → WHEP viewers: Chromium
 * decodes frames, a Node peer (node-datachannel) receives RTP; DELETE leaves no mediasoup
 * objects behind. Also H264 and 3-layer simulcast with the WHEP layer PATCH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import type { SubsecNode } from '../../src/SubsecNode';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { NodeWhepViewer, publishFromPage, tokenFor, viewerStats, viewFromPage } from '../helpers/whipWhep';

let node: SubsecNode;
let browser: Chromium;

beforeAll(async () => {
  node = await startNode({ sfu: { workers: 1 } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

async function routerCounts(room: string) {
  const r = node.rooms.get(room);
  if (!r) return { transports: 0 };
  const dumps = await Promise.all(r.slots.map((s) => s.router.dump()));
  return { transports: dumps.reduce((n, d) => n + d.transportIds.length, 0) };
}

async function del(page: Page, which: 'whip' | 'whep', token: string): Promise<number> {
  return page.evaluate(
    async ({ which, token }) => {
      const s = (window as any)[which];
      const res = await fetch(s.location, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      s.pc.close();
      return res.status;
    },
    { which, token },
  );
}

describe('WHIP → WHEP with real WebRTC peers', () => {
  it('publishes VP8+Opus from Chromium; a Chromium WHEP viewer decodes frames, a Node peer gets RTP; DELETE cleans up', async () => {
    const pubToken = tokenFor(node, { room: 'e2e', identity: 'cam1', canPublish: true });
    const viewToken = tokenFor(node, { room: 'e2e', identity: 'viewer', canSubscribe: true });
    const pub = await browser.page(node);
    const published = await publishFromPage(pub, { url: `${node.url}/whip/e2e/cam1`, token: pubToken, codec: 'VP8' });
    expect(published.status, published.body).toBe(201);
    expect(published.location).toMatch(/^\/whip\/e2e\/cam1\/[0-9a-f-]{36}$/);
    await waitFor(() => node.rooms.get('e2e')?.producersOf('cam1').length === 2, { what: 'two producers', timeoutMs: 10_000 });

    const view = await browser.page(node);
    const viewed = await viewFromPage(view, `${node.url}/whep/e2e/cam1`, viewToken);
    expect(viewed.status, viewed.body).toBe(201);
    const stats = await waitFor(
      async () => {
        const s = await viewerStats(view);
        return s.framesDecoded > 5 && s.audioPackets > 5 ? s : undefined;
      },
      { what: 'decoded frames at the WHEP viewer', timeoutMs: 20_000 },
    );
    expect(stats.frameWidth).toBeGreaterThan(0);

    const nodeViewer = new NodeWhepViewer();
    try {
      const r = await nodeViewer.start(`${node.url}/whep/e2e/cam1`, viewToken);
      expect(r.status, r.body).toBe(201);
      await waitFor(() => nodeViewer.packets.video > 20 && nodeViewer.packets.audio > 10, { what: 'RTP at the Node viewer', timeoutMs: 15_000 });
      const res = await fetch(`${node.url}${nodeViewer.location}`, { method: 'DELETE', headers: { authorization: `Bearer ${viewToken}` } });
      expect(res.status).toBe(200);
    } finally {
      nodeViewer.close();
    }

    expect(await del(view, 'whep', viewToken)).toBe(200);
    expect(await del(pub, 'whip', pubToken)).toBe(200);
    await view.close();
    await pub.close();
    await waitFor(async () => (await routerCounts('e2e')).transports === 0, { what: 'no transports left' });
    expect(node.rooms.get('e2e')?.producersOf('cam1') ?? []).toHaveLength(0);
    expect(node.whip.sessions.size).toBe(0);
    expect(node.whep.sessions.size).toBe(0);
  }, 60_000);

  it('publishes H264 and the WHEP viewer decodes it; closing the publisher ends the viewer session', async () => {
    const pubToken = tokenFor(node, { room: 'e2e-h264', identity: 'cam2', canPublish: true });
    const viewToken = tokenFor(node, { room: 'e2e-h264', identity: 'viewer', canSubscribe: true });
    const pub = await browser.page(node);
    const published = await publishFromPage(pub, { url: `${node.url}/whip/e2e-h264/cam2`, token: pubToken, codec: 'H264' });
    expect(published.status, published.body).toBe(201);
    expect(published.body).toMatch(/a=rtpmap:\d+ H264\/90000/);
    const view = await browser.page(node);
    const viewed = await viewFromPage(view, `${node.url}/whep/e2e-h264/cam2`, viewToken);
    expect(viewed.status, viewed.body).toBe(201);
    await waitFor(async () => (await viewerStats(view)).framesDecoded > 5, { what: 'decoded H264 frames', timeoutMs: 20_000 });

    // The publisher goes away without DELETE: DTLS closes, the stream ends, the viewer session closes.
    await pub.evaluate(() => (window as any).whip.pc.close());
    await waitFor(() => node.whip.sessions.size === 0 && node.whep.sessions.size === 0, {
      what: 'sessions closed after the publisher left',
      timeoutMs: 15_000,
    });
    await pub.close();
    await view.close();
  }, 60_000);

  it('accepts a 3-layer simulcast offer and switches the WHEP viewer to the lowest layer on PATCH', async () => {
    const pubToken = tokenFor(node, { room: 'e2e-sim', identity: 'cam3', canPublish: true });
    const viewToken = tokenFor(node, { room: 'e2e-sim', identity: 'viewer', canSubscribe: true });
    const pub = await browser.page(node);
    const published = await publishFromPage(pub, {
      url: `${node.url}/whip/e2e-sim/cam3`,
      token: pubToken,
      codec: 'VP8',
      simulcast: true,
      width: 1280,
      height: 720,
    });
    expect(published.status, published.body).toBe(201);
    expect(published.body).toContain('a=simulcast:recv q;h;f');
    const producer = node.rooms
      .get('e2e-sim')!
      .producersOf('cam3')
      .find((p) => p.kind === 'video')!;
    expect(producer.type).toBe('simulcast');

    const view = await browser.page(node);
    const viewed = await viewFromPage(view, `${node.url}/whep/e2e-sim/cam3`, viewToken);
    expect(viewed.status, viewed.body).toBe(201);
    await waitFor(async () => (await viewerStats(view)).framesDecoded > 5, { what: 'decoded simulcast frames', timeoutMs: 20_000 });
    const patched = await view.evaluate(async (token) => {
      const res = await fetch((window as any).whep.location, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ spatialLayer: 0 }),
      });
      return res.status;
    }, viewToken);
    expect(patched).toBe(204);
    const low = await waitFor(
      async () => {
        const s = await viewerStats(view);
        return s.frameWidth > 0 && s.frameWidth <= 320 ? s : undefined;
      },
      { what: 'lowest layer (≤ 320 px wide) at the viewer', timeoutMs: 20_000 },
    );
    expect(low.frameWidth).toBeLessThanOrEqual(320);
    expect(await del(view, 'whep', viewToken)).toBe(200);
    expect(await del(pub, 'whip', pubToken)).toBe(200);
    await pub.close();
    await view.close();
  }, 60_000);
});
