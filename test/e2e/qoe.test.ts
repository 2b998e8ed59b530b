/**
 * QoE end to end in Chromium: a real SDK viewer's figures reach the node's metrics on the WebRTC
 * path (startup, bitrate, rendition, server-side first key frame) and on the LL-HLS path (hls.js
 * measured by client.qoe.watchMedia, its CMCD not counted twice); induced trouble — a paused
 * ingest (the publisher's canvas stops painting), HLS requests cut off, an ICE path that cannot
 * connect — produces the expected rebuffering and failures; a threshold alert reaches a webhook
 * receiver; the dashboard page renders the live plots (screenshot).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { WebhookReceiver } from '../helpers/webhookReceiver';
import { metricSum, metricSumOrZero, metricsText as fetchMetrics } from '../helpers/metrics';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { ensureSdkBuilt } from './support/pageScripts';

const PAGE = fs.readFileSync(path.join(projectRoot, 'test/e2e/pages/qoe-page.js'), 'utf8');
const ADMIN = 'subsec-dev-admin-key';
const ROOM = 'qoe-e2e';

let node: SubsecNode;
let browser: TestBrowser;
let receiver: WebhookReceiver;
const pageErrors: string[] = [];
const pages: Page[] = [];

beforeAll(async () => {
  await ensureSdkBuilt();
  receiver = await WebhookReceiver.start();
  node = await startNode({
    synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 250 },
    hls: { renditions: [{ name: 'source', copySource: true, videoKbps: 300 }], segmentTargetMs: 1000 },
    webhooks: { endpoints: [{ url: receiver.url, events: ['qoe.*'] }], secret: 'qoe-e2e-webhook-secret-0123', backoffMs: 50 },
    qoe: {
      reportIntervalMs: 1000,
      alerts: [
        { figure: 'rebufferRatio', above: 0.01, path: 'webrtc', forSeconds: 0 },
        { figure: 'startupMs', above: 2000, forSeconds: 0 },
      ],
    },
  });
  // The publisher's page paints its canvas from a timer: background pages must not be throttled.
  browser = await launchBrowser(['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows']);
}, 120_000);

afterAll(async () => {
  for (const p of pages) await p.evaluate('qoe.close()').catch(() => undefined);
  await browser?.close();
  await node?.close();
  await receiver?.close();
});

async function open(identity: string, grants: { canPublish?: boolean }, options: Record<string, unknown> = {}): Promise<Page> {
  const page = await browser.browser.newPage();
  pages.push(page);
  page.on('pageerror', (e) => pageErrors.push(`${identity}: ${e.message}`));
  await page.goto(`${node.url}/healthz`);
  await page.addScriptTag({ content: PAGE });
  const token = node.tokens.issue({ room: ROOM, identity, canPublish: grants.canPublish ?? false, canSubscribe: true });
  await page.evaluate(`qoe.connect(${JSON.stringify(token)}, ${JSON.stringify(options)})`);
  return page;
}

const metricsText = () => fetchMetrics(node.url);

const metric = metricSum;
/** For counters that may not have a sample yet (the metric itself must exist). */
const counted = metricSumOrZero;

const webrtc = { room: ROOM, stream: 'pub', path: 'webrtc' };
const hls = { room: ROOM, stream: 'synthetic', path: 'hls' };

describe('QoE in Chromium', () => {
  it("WebRTC: a viewer's startup, bitrate and rendition reach the metrics; a paused ingest shows as rebuffering and fires the alert webhook", async () => {
    const publisher = await open('pub', { canPublish: true });
    await publisher.evaluate('qoe.publishCanvas()');
    const viewer = await open('viewer-rtc', {}, { qoe: { intervalMs: 1000 } });
    expect(await viewer.evaluate(`qoe.watchWebRtc('pub')`)).toEqual({ subscriptions: 1 });

    const started = await waitFor(
      async () => {
        const t = await metricsText();
        const ready = metric(t, 'subsec_qoe_startup_seconds_count', webrtc) >= 1 && metric(t, 'subsec_qoe_media_bytes_total', webrtc) > 0;
        return ready && metric(t, 'subsec_qoe_active_sessions', webrtc) >= 1 ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: "the WebRTC viewer's first reports" },
    );
    expect(metric(started, 'subsec_qoe_sessions_total', webrtc)).toBe(1);
    const startupSeconds = metric(started, 'subsec_qoe_startup_seconds_sum', webrtc);
    expect(startupSeconds).toBeGreaterThan(0);
    expect(startupSeconds).toBeLessThan(10);
    expect(metric(started, 'subsec_qoe_active_sessions', { ...webrtc, rendition: '240p' })).toBe(1);
    // What the node saw itself: the consumer's first key frame.
    expect(metric(started, 'subsec_qoe_server_first_frame_seconds_count', { room: ROOM, stream: 'pub' })).toBeGreaterThanOrEqual(1);
    const view = node.qoe!.snapshot().streams.find((s) => s.key === `${ROOM}/pub`)!;
    expect(view.paths.webrtc!.viewers).toBe(1);
    expect(view.ingest?.figures.tracks).toBe(1);

    // Paused ingest: the canvas stops painting for 4 s. Chromium still sends a refresh frame of a
    // static canvas about once a second, which its own freeze statistics (what the SDK reads) count
    // as about one second of freeze; the viewer reports it as a stall.
    const stalledBefore = counted(await metricsText(), 'subsec_qoe_rebuffer_seconds_total', webrtc);
    const eventsBefore = counted(await metricsText(), 'subsec_qoe_rebuffer_events_total', webrtc);
    await publisher.evaluate('qoe.pauseDrawing(4000)');
    const after = await waitFor(
      async () => {
        const t = await metricsText();
        return metric(t, 'subsec_qoe_rebuffer_seconds_total', webrtc) - stalledBefore >= 0.8 ? t : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the reported stall' },
    );
    expect(metric(after, 'subsec_qoe_rebuffer_events_total', webrtc)).toBeGreaterThan(eventsBefore);
    expect(metric(after, 'subsec_qoe_rebuffer_seconds_total', webrtc) - stalledBefore).toBeLessThan(5);
    expect(counted(after, 'subsec_qoe_session_failures_total', webrtc)).toBe(0);
    const fired = await waitFor(() => receiver.delivered().find((h) => h.type === 'qoe.alert_fired' && h.data.figure === 'rebufferRatio'), {
      timeoutMs: 10_000,
      what: 'the rebuffering alert webhook',
    });
    expect(fired).toMatchObject({ room: ROOM, data: { stream: 'pub', path: 'webrtc', op: '>', threshold: 0.01 } });
    expect(fired.data.value as number).toBeGreaterThan(0.01);
  }, 120_000);

  it('WebRTC: a viewer whose ICE cannot connect fails with startup_timeout, and the node counts the transport that never connected', async () => {
    const before = await metricsText();
    const blocked = await open('viewer-blocked', {}, { iceTransportPolicy: 'relay', qoe: { intervalMs: 1000, startupTimeoutMs: 3000 } });
    expect(await blocked.evaluate(`qoe.watchWebRtc('pub')`)).toEqual({ subscriptions: 1 });
    const t = await waitFor(
      async () => {
        const x = await metricsText();
        return metric(x, 'subsec_qoe_session_failures_total', { ...webrtc, reason: 'startup_timeout' }) >= 1 ? x : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the startup_timeout failure' },
    );
    expect(metric(t, 'subsec_qoe_sessions_no_first_frame_total', webrtc)).toBe(counted(before, 'subsec_qoe_sessions_no_first_frame_total', webrtc) + 1);
    await blocked.evaluate('qoe.close()');
    await waitFor(async () => metric(await metricsText(), 'subsec_qoe_transport_failures_total', { kind: 'never_connected', direction: 'recv' }) >= 1, {
      timeoutMs: 10_000,
      what: 'never_connected',
    });
    expect(node.qoe!.snapshot().totals.transportFailures.never_connected).toBeGreaterThanOrEqual(1);
    // The failure is in the windowed failure rate (computed once a second).
    await waitFor(() => (node.qoe!.snapshot().streams.find((s) => s.key === `${ROOM}/pub`)!.paths.webrtc!.figures.failureRate ?? 0) > 0, {
      what: 'failure rate',
    });
  }, 60_000);

  it('LL-HLS: hls.js startup, bitrate and latency reach the metrics once (CMCD deduplicated); cut-off requests stall it, and without retries it fails', async () => {
    await waitFor(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf('synthetic')
          .some((p) => p.kind === 'video'),
      { timeoutMs: 20_000, what: 'synthetic video' },
    );
    const viewer = await open('viewer-hls', {}, { qoe: { intervalMs: 1000 } });
    // Patient retries: this viewer is to ride out the outage below, not give up.
    const patient = {
      manifestLoadingMaxRetry: 30,
      levelLoadingMaxRetry: 30,
      fragLoadingMaxRetry: 30,
      levelLoadingRetryDelay: 250,
      fragLoadingRetryDelay: 250,
      levelLoadingMaxRetryTimeout: 1000,
      fragLoadingMaxRetryTimeout: 1000,
    };
    const { cmcdSid } = (await viewer.evaluate(`qoe.watchHls(${JSON.stringify(ROOM)}, 'synthetic', ${JSON.stringify(patient)})`)) as { cmcdSid: string };
    const started = await waitFor(
      async () => {
        const t = await metricsText();
        const ready =
          metric(t, 'subsec_qoe_startup_seconds_count', hls) >= 1 &&
          metric(t, 'subsec_qoe_latency_seconds_count', hls) >= 1 &&
          metric(t, 'subsec_qoe_media_bytes_total', hls) > 0;
        // The viewer gauge is computed once a second; the rendition is known once the picture is.
        return ready && metric(t, 'subsec_qoe_active_sessions', { ...hls, rendition: '180p' }) >= 1 ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the LL-HLS viewer's reports" },
    );
    // hls.js also sent CMCD with its session id: counted once, through the SDK report.
    expect(metric(started, 'subsec_hls_cmcd_requests_total', { room: ROOM, stream: 'synthetic' })).toBeGreaterThan(0);
    expect(metric(started, 'subsec_qoe_sessions_total', hls)).toBe(1);
    expect(metric(started, 'subsec_qoe_active_sessions', { ...hls, rendition: '180p' })).toBe(1);
    const latency = metric(started, 'subsec_qoe_latency_seconds_sum', hls) / metric(started, 'subsec_qoe_latency_seconds_count', hls);
    // LL-HLS with 200 ms parts is about a second behind (bench:latency: ~0.8 s); 4 s leaves room
    // for a loaded CI machine, and catches a player that fell back to whole segments or the DVR window.
    expect(latency).toBeGreaterThan(0.2);
    expect(latency).toBeLessThan(4);
    expect(cmcdSid).toMatch(/^sq-/);

    // The network to the HLS origin goes away until the buffer has drained and playback stalled, and 1 s more.
    await viewer.route('**/hls/**', (route) => route.abort('internetdisconnected'));
    await waitFor(async () => ((await viewer.evaluate('qoe.sessions()')) as { hlsSession: { state: string } }).hlsSession.state === 'stalled', {
      timeoutMs: 15_000,
      what: 'the hls.js stall',
    });
    await new Promise((r) => setTimeout(r, 1000));
    await viewer.unroute('**/hls/**');
    const t = await waitFor(
      async () => {
        const x = await metricsText();
        return metric(x, 'subsec_qoe_rebuffer_events_total', hls) >= 1 && metric(x, 'subsec_qoe_rebuffer_seconds_total', hls) > 0.5 ? x : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the reported hls stall' },
    );
    expect(counted(t, 'subsec_qoe_session_failures_total', hls)).toBe(0);

    // A second viewer without retries loses its network: hls.js gives up, a failure with its reason.
    const fragile = await open('viewer-hls-fragile', {}, { qoe: { intervalMs: 1000 } });
    await fragile.evaluate(
      `qoe.watchHls(${JSON.stringify(ROOM)}, 'synthetic', { manifestLoadingMaxRetry: 0, levelLoadingMaxRetry: 0, fragLoadingMaxRetry: 0, levelLoadingRetryDelay: 100 })`,
    );
    await waitFor(async () => ((await fragile.evaluate('qoe.sessions()')) as { hlsSession: { state: string } }).hlsSession.state === 'playing', {
      timeoutMs: 30_000,
      what: 'the second hls viewer playing',
    });
    await fragile.route('**/hls/**', (route) => route.abort('internetdisconnected'));
    const failed = await waitFor(
      async () => {
        const x = await metricsText();
        return metric(x, 'subsec_qoe_session_failures_total', hls) >= 1 ? x : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the hls failure' },
    );
    const reasons = failed.split('\n').filter((l) => l.startsWith('subsec_qoe_session_failures_total{') && l.includes('path="hls"'));
    // Whichever request hls.js gave up on first: level, audio track, fragment, part or manifest.
    expect(reasons.join('\n')).toMatch(/reason="[A-Za-z]+(LoadError|LoadTimeOut)"/);
    expect(metric(failed, 'subsec_qoe_sessions_total', hls)).toBe(2);
  }, 150_000);

  it('the dashboard renders live plots of every path, viewers and the alert (screenshot)', async () => {
    const page = await browser.browser.newPage();
    await page.setViewportSize({ width: 1400, height: 1100 });
    page.on('pageerror', (e) => pageErrors.push(`dashboard: ${e.message}`));
    // Without the key the page asks for it; the data API refuses.
    await page.goto(`${node.url}/qoe/`);
    await page.waitForSelector('#login:not([hidden])');
    const refused = await fetch(`${node.url}/v1/qoe`);
    expect(refused.status).toBe(401);
    const wrongKey = await fetch(`${node.url}/v1/qoe`, { headers: { authorization: 'Bearer not-the-admin-key' } });
    expect(wrongKey.status).toBe(401);
    await page.fill('#key', ADMIN);
    await page.click('#login button');
    await page.waitForSelector(`section.stream[data-stream="${ROOM}/pub"]`, { timeout: 15_000 });
    const frames0 = (await page.evaluate('window.qoeDashboard.frames')) as number;
    await waitFor(async () => ((await page.evaluate('window.qoeDashboard.frames')) as number) >= frames0 + 2, { timeoutMs: 10_000, what: 'two more updates' });
    const drawn = (await page.evaluate(
      `[...document.querySelectorAll('section.stream[data-stream="${ROOM}/pub"] .plots canvas')].map((c) => Number(c.dataset.points))`,
    )) as number[];
    expect(drawn).toHaveLength(5);
    expect(drawn[2]).toBeGreaterThan(0); // bitrate has points
    // The WebRTC line colour is on the bitrate canvas.
    const blue = await page.evaluate(`(() => {
      const c = document.querySelectorAll('section.stream[data-stream="${ROOM}/pub"] .plots canvas')[2];
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 0x4e) < 30 && Math.abs(d[i + 1] - 0xa1) < 30 && Math.abs(d[i + 2] - 0xff) < 30) n++;
      return n;
    })()`);
    expect(blue).toBeGreaterThan(20);
    const text = (await page.textContent('body')) ?? '';
    expect(text).toContain('LL-HLS');
    expect(text).toMatch(/viewers/);
    expect(await page.locator(`section.stream[data-stream="${ROOM}/synthetic"] .sub .plot`).count()).toBe(4);
    const file = path.join(os.tmpdir(), `subsec-qoe-dashboard-${process.pid}.png`);
    const png = await page.screenshot({ path: file, fullPage: true });
    expect(png.byteLength).toBeGreaterThan(30_000);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
