/**
 * QoE on the MoQ path in Chromium: the SDK's player (`client.watch(…, {transport: 'moq'})`,
 * @moq/net to the node's relay — over WebTransport/HTTP3, which the relay offers by default, WebCodecs decoding the bridged synthetic H264)
 * reports startup, bitrate and latency on the `moq` path. A paused ingest (the synthetic ffmpeg
 * stopped with SIGSTOP) must show as a stall; the relay going away as a failure.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { metricSum, metricSumOrZero, metricsText as fetchMetrics } from '../helpers/metrics';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { ensureSdkBuilt } from './support/pageScripts';

const ROOM = 'qoe-moq';

/** The page: the SDK's MoQ player, counting the frames it paints. */
const PLAYER = `
window.moqPlayer = {
  frames: 0,
  async start(token) {
    const { connect } = await import('/sdk/subsec.js');
    const client = await connect(location.origin, token, { qoe: { intervalMs: 1000 } });
    await client.clock.whenSynced();
    const video = document.createElement('video');
    video.muted = true;
    document.body.append(video);
    const count = () => video.requestVideoFrameCallback(() => { this.frames++; count(); });
    count();
    this.player = await client.watch('synthetic', video, { transport: 'moq' });
  },
  state() {
    return { frames: this.frames, transport: this.player?.transport };
  },
};
`;

let node: SubsecNode;
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({
    synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 250 },
    moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
    qoe: { reportIntervalMs: 1000, alerts: [] },
  });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchBrowser(['--disable-background-timer-throttling', '--disable-renderer-backgrounding']);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

/** The synthetic source's ffmpeg: a child of this process running the lavfi test pattern. */
function syntheticFfmpegPid(): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (ppid === process.pid && cmd.includes('ffmpeg') && cmd.includes('lavfi')) return Number(entry);
    } catch {
      // gone
    }
  }
  throw new Error('synthetic ffmpeg not found');
}

const metricsText = () => fetchMetrics(node.url);

const metric = metricSum;
/** For counters that may not have a sample yet (the metric itself must exist). */
const counted = metricSumOrZero;

const moq = { room: ROOM, stream: 'synthetic', path: 'moq' };

describe('QoE on the MoQ path (Chromium)', () => {
  it('reports startup, bitrate and latency; a paused ingest is a stall; a relay that goes away is a failure', async () => {
    page = await browser.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('crash', () => errors.push('the page crashed'));
    await page.goto(`${node.url}/healthz`);
    await page.addScriptTag({ content: PLAYER });
    const token = node.tokens.issue({ room: ROOM, identity: 'moq-viewer', canSubscribe: true });
    await page.evaluate(`moqPlayer.start(${JSON.stringify(token)})`);
    expect(((await page.evaluate('moqPlayer.state()')) as { transport: string }).transport).toBe('moq');

    const started = await waitFor(
      async () => {
        const t = await metricsText();
        return metric(t, 'subsec_qoe_startup_seconds_count', moq) >= 1 &&
          metric(t, 'subsec_qoe_latency_seconds_count', moq) >= 1 &&
          metric(t, 'subsec_qoe_media_bytes_total', moq) > 0
          ? t
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: "the MoQ viewer's reports" },
    );
    expect(metric(started, 'subsec_qoe_sessions_total', moq)).toBe(1);
    const latency = metric(started, 'subsec_qoe_latency_seconds_sum', moq) / metric(started, 'subsec_qoe_latency_seconds_count', moq);
    // MoQ paints each frame as it is decoded (bench:latency: ~20 ms glass to glass on loopback);
    // 1 s leaves room for a loaded CI machine and still catches a player a GOP or more behind.
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(1);

    // Paused ingest: the encoder stops for 2.5 s; frames stop reaching the player.
    const stalledBefore = counted(started, 'subsec_qoe_rebuffer_seconds_total', moq);
    const pid = syntheticFfmpegPid();
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 2500));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const stalled = await waitFor(
      async () => {
        const t = await metricsText();
        return metric(t, 'subsec_qoe_rebuffer_seconds_total', moq) - stalledBefore >= 1.5 ? t : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the reported stall' },
    );
    expect(metric(stalled, 'subsec_qoe_rebuffer_events_total', moq)).toBeGreaterThanOrEqual(1);
    expect(metric(stalled, 'subsec_qoe_rebuffer_seconds_total', moq) - stalledBefore).toBeLessThan(4);
    expect(counted(stalled, 'subsec_qoe_session_failures_total', moq)).toBe(0);
    // Playback went on after the pause.
    const frames = ((await page.evaluate('moqPlayer.state()')) as { frames: number }).frames;
    await waitFor(async () => ((await page.evaluate('moqPlayer.state()')) as { frames: number }).frames > frames + 10, { what: 'frames after the pause' });

    // The relay goes away: the session fails with the SDK's code for a lost connection.
    await node.moqRelay!.close();
    const failed = await waitFor(
      async () => {
        const t = await metricsText();
        return metric(t, 'subsec_qoe_session_failures_total', { ...moq, reason: 'CONNECTION_LOST' }) >= 1 ? t : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the CONNECTION_LOST failure' },
    ).catch(async (error: Error) => {
      // Say what was reported instead (another reason, or nothing at all).
      const reported = (await metricsText()).split('\n').filter((l) => l.startsWith('subsec_qoe_session_failures_total'));
      throw new Error(`${error.message}; failures reported: ${reported.join(' | ') || 'none'}; page errors: ${errors.join(' | ') || 'none'}`);
    });
    expect(metric(failed, 'subsec_qoe_sessions_total', moq)).toBe(1);
    expect(errors).toEqual([]);
  }, 90_000);
});
