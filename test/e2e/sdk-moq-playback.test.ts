/**
 * The SDK's MoQ path in Chromium: `client.watch()` plays the node's bridged broadcast from its
 * MoQ relay (WebTransport/HTTP3 when it connects first, else WebSocket) with WebCodecs — forced, and chosen by the fallback order when policy
 * rules WebRTC out — shows the picture at the stream's size with sub-second latency, times room
 * events to the frames on screen, reports QoE on the `moq` path, and falls back to LL-HLS when the
 * relay goes away. A node without MoQ makes the player skip the step and say why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { ensureSdkBuilt } from './support/pageScripts';
import { metricSum, metricsText } from '../helpers/metrics';

const ROOM = 'sdk-moq';
const SOURCE = { width: 320, height: 180, fps: 15, bitrateKbps: 250 };

/** The page's side: one SDK client, one player, and what they reported. */
const PAGE = `
window.moqTest = {
  async watch(token, options) {
    const { connect } = await import('/sdk/subsec.js');
    const client = await connect(location.origin, token, { qoe: { intervalMs: 1000 } });
    await client.clock.whenSynced();
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    document.body.append(video);
    const s = { transports: [], fallbacks: [], events: [], frames: 0, failed: undefined };
    const count = () => video.requestVideoFrameCallback(() => { s.frames++; count(); });
    count();
    const player = await client.watch('synthetic', video, options);
    player.on('transport', (e) => s.transports.push(e.transport));
    player.on('fallback', (e) => s.fallbacks.push(e));
    player.on('failed', (e) => (s.failed = e.reason));
    player.on('event', (e) => s.events.push({ seq: e.seq, mediaTime: e.mediaTime, playhead: player.mediaTime(), at: client.clock.now() }));
    s.transports.push(player.transport);
    Object.assign(this, { client, player, video, s });
  },
  async send(type) {
    const e = await this.client.events.send(type, { at: Date.now() });
    return { seq: e.seq, mediaTime: e.mediaTime };
  },
  /** Peak level of the element's audio over ~300 ms (0 when it has none). */
  async audioPeak() {
    const stream = this.video.srcObject;
    if (!stream || stream.getAudioTracks().length === 0) return 0;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks())).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 50));
      analyser.getFloatTimeDomainData(data);
      for (const v of data) peak = Math.max(peak, Math.abs(v));
    }
    await ctx.close();
    return peak;
  },
  state() {
    const { player, video, s, client } = this;
    return { ...s, transport: player.transport, latencyMs: player.latencyMs, mediaTime: player.mediaTime(), width: video.videoWidth, height: video.videoHeight, now: client.clock.now() };
  },
  close() {
    this.player?.close();
    return this.client?.close();
  },
};
`;

interface PageState {
  transports: string[];
  fallbacks: Array<{ from: string; to?: string; reason: string }>;
  events: Array<{ seq: number; mediaTime: number; playhead: number; at: number }>;
  frames: number;
  failed?: string;
  transport?: string;
  latencyMs: number;
  mediaTime: number;
  width: number;
  height: number;
  now: number;
}

let node: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({
    synthetic: { enabled: true, room: ROOM, ...SOURCE },
    moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
    hls: { renditions: [{ name: 'source', copySource: true, videoKbps: 400 }], partTargetMs: 200, segmentTargetMs: 1000 },
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

async function openPage(at: SubsecNode, identity: string, options: Record<string, unknown>): Promise<Page> {
  const page = await browser.browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${identity}: ${e.message}`));
  await page.goto(`${at.url}/healthz`);
  await page.addScriptTag({ content: PAGE });
  const token = at.tokens.issue({ room: ROOM, identity, canSubscribe: true, canPublishData: true });
  await page.evaluate(`moqTest.watch(${JSON.stringify(token)}, ${JSON.stringify(options)})`);
  return page;
}

const state = (page: Page) => page.evaluate('moqTest.state()') as Promise<PageState>;

describe('SDK MoQ playback (Chromium)', () => {
  it('plays the stream over MoQ with sub-second latency and shows a room event with the frame it belongs to', async () => {
    const page = await openPage(node, 'moq-forced', { transport: 'moq' });
    const first = await state(page);
    expect(first.transport).toBe('moq');
    const playing = await waitFor(
      async () => {
        const s = await state(page);
        return s.frames > first.frames + 30 && s.width === SOURCE.width ? s : undefined;
      },
      { timeoutMs: 15_000, what: 'frames painted from MoQ' },
    );
    expect(playing.height).toBe(SOURCE.height);
    // The player's media time is the capture time of the frame on screen.
    expect(playing.latencyMs).toBeGreaterThan(0);
    expect(playing.latencyMs).toBeLessThan(1000);
    expect(playing.now - playing.mediaTime).toBeLessThan(1000);
    // The synthetic source's 440 Hz tone plays too.
    expect(await page.evaluate('moqTest.audioPeak()')).toBeGreaterThan(0.05);
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200));
      latencies.push((await state(page)).latencyMs);
    }
    latencies.sort((a, b) => a - b);
    console.log(`MOQ_FIGURE ${JSON.stringify({ latencyP50Ms: Math.round(latencies[5]!), latencyMaxMs: Math.round(latencies[9]!) })}`);

    const sent = (await page.evaluate("moqTest.send('bid')")) as { seq: number; mediaTime: number };
    const seen = await waitFor(async () => (await state(page)).events.find((e) => e.seq === sent.seq), { what: 'the event emitted by the player' });
    // Emitted once the picture reached the event's media time, not before.
    expect(seen.playhead).toBeGreaterThanOrEqual(sent.mediaTime);
    expect(seen.playhead - sent.mediaTime).toBeLessThan(1000);

    // QoE on the moq path reached the node.
    await waitFor(
      async () => {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        return /subsec_qoe_startup_seconds_count\{[^}]*path="moq"[^}]*\} [1-9]/.test(text);
      },
      { timeoutMs: 15_000, what: 'MoQ QoE report' },
    );
    await page.evaluate('moqTest.close()');
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('auto: WebRTC ruled out by policy lands on MoQ; when the relay goes away it falls back to LL-HLS', async () => {
    const page = await openPage(node, 'moq-auto', { maxWebRtcViewers: 0, hlsTimeoutMs: 30_000 });
    const s0 = await state(page);
    expect(s0.transport).toBe('moq');
    await waitFor(async () => (await state(page)).frames > s0.frames + 15, { what: 'MoQ frames' });

    await node.moqRelay!.close();
    const after = await waitFor(
      async () => {
        const s = await state(page);
        return s.transport === 'hls' && s.frames > 0 ? s : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 250, what: 'fallback to LL-HLS' },
    );
    expect(after.fallbacks.map((f) => [f.from, f.to])).toContainEqual(['moq', 'hls']);
    expect(after.fallbacks.find((f) => f.from === 'moq')!.reason).toMatch(/moq: .*relay/i);
    const frames = after.frames;
    await waitFor(async () => (await state(page)).frames > frames + 10, { timeoutMs: 20_000, what: 'LL-HLS frames' });
    expect(after.failed).toBeUndefined();
    // The LL-HLS path sends CMCD with the SDK's session id and reports the level's bitrate (media
    // bytes): the node sees the CMCD requests and counts the viewer once, through the SDK's report.
    const hls = { room: ROOM, stream: 'synthetic', path: 'hls' };
    const text = await waitFor(
      async () => {
        const t = await metricsText(node.url);
        return metricSum(t, 'subsec_qoe_sessions_total', hls) >= 1 && metricSum(t, 'subsec_qoe_media_bytes_total', hls) > 0 ? t : undefined;
      },
      { timeoutMs: 15_000, what: 'the LL-HLS QoE report' },
    );
    expect(metricSum(text, 'subsec_hls_cmcd_requests_total', { room: ROOM, stream: 'synthetic' })).toBeGreaterThan(0);
    expect(metricSum(text, 'subsec_qoe_sessions_total', hls)).toBe(1);
    await page.evaluate('moqTest.close()');
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it("plays from a node whose bridge puts rooms under a path prefix (the token's room is mapped under it)", async () => {
    const prefixed = await startNode({
      synthetic: { enabled: true, room: ROOM, ...SOURCE },
      moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } }, bridge: { prefix: 'live' } },
    });
    try {
      await waitFor(() => prefixed.moqBridge?.streams.some((b) => b.size > 0), { timeoutMs: 20_000, what: 'bridged synthetic stream' });
      const page = await openPage(prefixed, 'moq-prefixed', { transport: 'moq' });
      const s0 = await state(page);
      expect(s0.transport).toBe('moq');
      await waitFor(async () => (await state(page)).frames > s0.frames + 15, { what: 'MoQ frames under the prefix' });
      await page.evaluate('moqTest.close()');
      await page.close();
    } finally {
      await prefixed.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('a node without MoQ: the MoQ step is skipped with its reason and the next transport plays', async () => {
    const plain = await startNode({ synthetic: { enabled: true, room: ROOM, ...SOURCE } });
    try {
      await waitFor(
        () =>
          plain.rooms
            .get(ROOM)
            ?.producersOf('synthetic')
            .some((p) => p.kind === 'video'),
        { timeoutMs: 20_000, what: 'synthetic video' },
      );
      const page = await openPage(plain, 'no-moq', { order: ['moq', 'webrtc'] });
      const s = await state(page);
      expect(s.transport).toBe('webrtc');
      const reason = (await page.evaluate(`(async () => {
        const video = document.createElement('video');
        video.muted = true;
        try { await moqTest.client.watch('synthetic', video, { transport: 'moq' }); return 'played'; } catch (e) { return e.code + ': ' + e.message; }
      })()`)) as string;
      expect(reason).toMatch(/^MEDIA_ERROR: .*moq: the node offers no MoQ/);
      await page.evaluate('moqTest.close()');
      await page.close();
    } finally {
      await plain.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
