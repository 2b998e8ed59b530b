/**
 * The SDK's MoQ path over WebTransport/HTTP3 in Chromium (QUIC enabled): `client.watch()` plays
 * the node's SFU-bridged synthetic stream from its relay's HTTP/3 listener, and the relay's own
 * session counters prove the session is WebTransport over QUIC, not WebSocket. The certificate is
 * then rotated: the running session keeps playing and a new viewer pins and uses the new hash.
 * A viewer holding a stale certificate hash (the relay rotated between its join and its watch)
 * fails the QUIC handshake, falls back to WebSocket and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { ensureSdkBuilt } from './support/pageScripts';
import { metricSum, metricsText } from '../helpers/metrics';

const ROOM = 'sdk-moq-wt';

const PAGE = `
window.wtTest = {
  async join(token) {
    const { connect } = await import('/sdk/subsec.js');
    this.client = await connect(location.origin, token, { qoe: { intervalMs: 1000 } });
  },
  async watch() {
    const client = this.client;
    const video = document.createElement('video');
    video.muted = true;
    document.body.append(video);
    const s = { frames: 0, pinned: client.moqWebTransport()?.certificateSha256 };
    const count = () => video.requestVideoFrameCallback(() => { s.frames++; count(); });
    count();
    const player = await client.watch('synthetic', video, { transport: 'moq' });
    Object.assign(this, { client, player, video, s });
  },
  state() {
    const { player, video, s } = this;
    return { ...s, carrier: player.wireTransport, transport: player.transport, width: video.videoWidth, latencyMs: player.latencyMs };
  },
  close() {
    this.player?.close();
    return this.client?.close();
  },
};
`;

interface PageState {
  frames: number;
  carrier?: string;
  transport?: string;
  pinned?: string;
  width: number;
  latencyMs: number;
}

let node: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({
    synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 250 },
    moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
  });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchBrowser(['--disable-background-timer-throttling', '--disable-renderer-backgrounding'], { quic: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

async function openPage(b: TestBrowser, identity: string, beforeWatch?: () => Promise<unknown>): Promise<Page> {
  const page = await b.browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${identity}: ${e.message}`));
  await page.goto(`${node.url}/healthz`);
  await page.addScriptTag({ content: PAGE });
  const token = node.tokens.issue({ room: ROOM, identity, canSubscribe: true });
  await page.evaluate(`wtTest.join(${JSON.stringify(token)})`);
  await beforeWatch?.();
  await page.evaluate('wtTest.watch()');
  return page;
}

const state = (page: Page) => page.evaluate('wtTest.state()') as Promise<PageState>;
const h3Sessions = () => node.moqRelay!.stats.sessionsByTransport['webtransport-h3'] ?? 0;

describe('SDK MoQ over WebTransport/HTTP3 (Chromium)', () => {
  it('plays the bridged stream over WebTransport; the relay counts an HTTP/3 session', async () => {
    const relay = node.moqRelay!;
    expect(relay.addresses.http3Url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const wsBefore = relay.stats.sessionsTotalByTransport['websocket'] ?? 0;
    const page = await openPage(browser, 'wt-viewer-1');
    await waitFor(async () => (await state(page)).frames >= 15, { timeoutMs: 20_000, what: 'frames over WebTransport' });
    const s = await state(page);
    expect(s.transport).toBe('moq');
    expect(s.carrier).toBe('webtransport');
    expect(s.width).toBe(320);
    expect(s.pinned).toBe(relay.certificateSha256);
    // The relay side: an open WebTransport-over-HTTP/3 session, and no WebSocket session was used.
    expect(h3Sessions()).toBeGreaterThanOrEqual(1);
    expect(relay.stats.sessionsTotalByTransport['websocket'] ?? 0).toBe(wsBefore);
    expect(relay.quicStats!.connections).toBeGreaterThanOrEqual(1);
    expect(metricSum(await metricsText(node.url), 'subsec_moq_sessions_by_transport', { transport: 'webtransport-h3' })).toBeGreaterThanOrEqual(1);
    expect(pageErrors).toEqual([]);

    // Rotation: the running session keeps playing; a new viewer gets and uses the new hash.
    const oldHash = relay.certificateSha256!;
    const newHash = await relay.rotateCertificate();
    expect(newHash).not.toBe(oldHash);
    const before = (await state(page)).frames;
    await waitFor(async () => (await state(page)).frames >= before + 15, { timeoutMs: 10_000, what: 'old session still playing after rotation' });
    const page2 = await openPage(browser, 'wt-viewer-2');
    await waitFor(async () => (await state(page2)).frames >= 10, { timeoutMs: 20_000, what: 'frames for the viewer after rotation' });
    const s2 = await state(page2);
    expect(s2.pinned).toBe(newHash);
    expect(s2.carrier).toBe('webtransport');
    expect(h3Sessions()).toBeGreaterThanOrEqual(2);
    await page.evaluate('wtTest.close()');
    await page2.evaluate('wtTest.close()');
    await waitFor(() => h3Sessions() === 0, { timeoutMs: 10_000, what: 'HTTP/3 sessions closed' });
  }, 90_000);

  it('falls back to WebSocket when the QUIC handshake fails (stale certificate hash), and reports it', async () => {
    const relay = node.moqRelay!;
    let rotatedTo = '';
    const page = await openPage(browser, 'ws-viewer', async () => {
      rotatedTo = await relay.rotateCertificate();
    });
    await waitFor(async () => (await state(page)).frames >= 10, { timeoutMs: 20_000, what: 'frames over WebSocket' });
    const s = await state(page);
    expect(s.pinned).not.toBe(rotatedTo);
    expect(s.carrier).toBe('websocket');
    expect(relay.stats.sessionsByTransport['websocket'] ?? 0).toBeGreaterThanOrEqual(1);
    expect(h3Sessions()).toBe(0);
    await page.evaluate('wtTest.close()');
  }, 60_000);
});
