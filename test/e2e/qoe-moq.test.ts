/**
 * QoE on the MoQ path in Chromium: the SDK has no MoQ player yet, so the page is one — moq-dev's
 * @moq/net over WebSocket to the node's relay, WebCodecs decoding the bridged synthetic H264 —
 * and feeds the SDK's collector (`client.qoe.startSession({path: 'moq'})`, `frame()` per decoded
 * frame, latency from the frame's wall-clock timestamp against the node clock). A paused ingest
 * (the synthetic ffmpeg stopped with SIGSTOP) must show as a stall; the relay going away as a
 * failure.
 */
import fs from 'node:fs';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../helpers/waitFor';
import { launchBrowser, type TestBrowser } from '../helpers/browser';
import { ensureAppsBuilt } from './support/eventsBuild';

const ROOM = 'qoe-moq';

/** The page's player: decodes video from the relay and feeds the SDK's QoE collector. */
const PLAYER = `
import * as Moq from '@moq/net';
function stripTimestamp(frame) {
  const size = 1 << (frame[0] >> 6);
  let ts = frame[0] & 0x3f;
  for (let i = 1; i < size; i++) ts = ts * 256 + frame[i];
  return { ts, data: frame.subarray(size) };
}
const state = { decoded: 0, error: undefined, session: undefined, client: undefined };
window.moqPlayer = {
  async start(token, relayUrl, broadcast, stream) {
    const { connect } = await import('/sdk/subsec.js');
    const client = await connect(location.origin, token, { qoe: { intervalMs: 1000 } });
    state.client = client;
    await client.clock.whenSynced();
    const session = client.qoe.startSession({ stream, path: 'moq' });
    state.session = session;
    const fail = (reason) => { if (!session.done) session.fail(reason); state.error = reason; };
    try {
      const conn = await Moq.Connection.connect(new URL(relayUrl), { websocket: { delay: 0 } });
      conn.closed?.then?.(() => fail('relay_closed'), () => fail('relay_closed'));
      const b = conn.consume(Moq.Path.from(broadcast));
      const cat = b.track('catalog.json').subscribe({ priority: 100 });
      let catalog;
      for (;;) {
        const g = await cat.recvGroup();
        const f = await g.readFrame();
        catalog = JSON.parse(new TextDecoder().decode(f.payload));
        if (catalog.video) break;
      }
      cat.close();
      const [track, config] = Object.entries(catalog.video.renditions)[0];
      session.rendition(config.codedHeight ? config.codedHeight + 'p' : 'source');
      const decoder = new VideoDecoder({
        output: (frame) => {
          state.decoded++;
          session.frame({ latencyMs: Math.max(0, client.clock.now() - frame.timestamp / 1000) });
          frame.close();
        },
        error: (e) => fail('decoder_error'),
      });
      decoder.configure({ codec: config.codec, optimizeForLatency: true });
      const sub = b.track(track).subscribe({ priority: 60 });
      (async () => {
        for (;;) {
          const g = await sub.recvGroup();
          if (!g) return fail('relay_closed');
          let i = 0;
          for (;;) {
            const f = await g.readFrame();
            if (!f) break;
            const { ts, data } = stripTimestamp(f.payload);
            session.addBytes(data.byteLength);
            decoder.decode(new EncodedVideoChunk({ type: i++ === 0 ? 'key' : 'delta', timestamp: ts, data }));
          }
        }
      })().catch(() => fail('relay_closed'));
    } catch (e) {
      fail('connect_failed');
    }
  },
  state() {
    const s = state.session;
    return { decoded: state.decoded, error: state.error, state: s?.state, startupMs: s?.startupMs, stats: state.client ? { ...state.client.qoe.stats } : undefined };
  },
};
`;

let node: SubsecNode;
let browser: TestBrowser;
let page: Page;
let playerScript = '';

beforeAll(async () => {
  await ensureAppsBuilt();
  // The SDK comes from the node at run time, as an app would load it.
  playerScript = (await build({ stdin: { contents: PLAYER, resolveDir: projectRoot, loader: 'js' }, bundle: true, format: 'esm', platform: 'browser', external: ['/sdk/subsec.js'], write: false, logLevel: 'silent' })).outputFiles[0]!.text;
  node = await startNode({
    synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 250 },
    moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } },
    qoe: { reportIntervalMs: 1000, alerts: [] },
  });
  await waitFor(() => node.rooms.get(ROOM)?.producersOf('synthetic').some((p) => p.kind === 'video'), { timeoutMs: 20_000, what: 'synthetic video' });
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

async function metricsText(): Promise<string> {
  return (await fetch(`${node.url}/metrics`)).text();
}

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

const moq = { room: ROOM, stream: 'synthetic', path: 'moq' };

describe('QoE on the MoQ path (Chromium)', () => {
  it('reports startup, bitrate and latency; a paused ingest is a stall; a relay that goes away is a failure', async () => {
    page = await browser.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${node.url}/healthz`);
    await page.addScriptTag({ content: playerScript, type: 'module' });
    await page.waitForFunction('typeof window.moqPlayer === "object"', undefined, { timeout: 15_000 });
    const token = node.tokens.issue({ room: ROOM, identity: 'moq-viewer', canSubscribe: true });
    await page.evaluate(`moqPlayer.start(${JSON.stringify(token)}, ${JSON.stringify(`${node.moqRelay!.addresses.url}/?jwt=${token}`)}, ${JSON.stringify(`${ROOM}/synthetic`)}, 'synthetic')`);

    const started = await waitFor(async () => {
      const t = await metricsText();
      return metric(t, 'subsec_qoe_startup_seconds_count', moq) >= 1 && metric(t, 'subsec_qoe_latency_seconds_count', moq) >= 1 && metric(t, 'subsec_qoe_media_bytes_total', moq) > 0 ? t : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, what: 'the MoQ viewer\'s reports' });
    expect(metric(started, 'subsec_qoe_sessions_total', moq)).toBe(1);
    const latency = metric(started, 'subsec_qoe_latency_seconds_sum', moq) / metric(started, 'subsec_qoe_latency_seconds_count', moq);
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(3);

    // Paused ingest: the encoder stops for 2.5 s; frames stop reaching the player.
    const stalledBefore = metric(started, 'subsec_qoe_rebuffer_seconds_total', moq);
    const pid = syntheticFfmpegPid();
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 2500));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const stalled = await waitFor(async () => {
      const t = await metricsText();
      return metric(t, 'subsec_qoe_rebuffer_seconds_total', moq) - stalledBefore >= 1.5 ? t : undefined;
    }, { timeoutMs: 20_000, intervalMs: 250, what: 'the reported stall' });
    expect(metric(stalled, 'subsec_qoe_rebuffer_events_total', moq)).toBeGreaterThanOrEqual(1);
    expect(metric(stalled, 'subsec_qoe_rebuffer_seconds_total', moq) - stalledBefore).toBeLessThan(4);
    expect(metric(stalled, 'subsec_qoe_session_failures_total', moq)).toBe(0);
    // Playback went on after the pause.
    const decoded = ((await page.evaluate('moqPlayer.state()')) as { decoded: number }).decoded;
    await waitFor(async () => ((await page.evaluate('moqPlayer.state()')) as { decoded: number }).decoded > decoded + 10, { what: 'frames after the pause' });

    // The relay goes away: the player fails, and says why.
    await node.moqRelay!.close();
    const failed = await waitFor(async () => {
      const t = await metricsText();
      return metric(t, 'subsec_qoe_session_failures_total', { ...moq, reason: 'relay_closed' }) >= 1 ? t : undefined;
    }, { timeoutMs: 20_000, intervalMs: 250, what: 'the relay_closed failure' });
    expect(metric(failed, 'subsec_qoe_sessions_total', moq)).toBe(1);
    expect(errors).toEqual([]);
  }, 90_000);
});
