/**
 * The user-level proof: hls.js (from node_modules) in low-latency mode plays the node's LL-HLS
 * stream in Chromium: video time advances, it switches renditions when told, its CMCD v2 reaches
 * the QoE metrics, and its measured live latency is reported.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { parseCmcd } from '../../src/hls/CmcdIntake';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';

let node: SubsecNode;
let browser: TestBrowser;
let page: Page;
let pageServer: http.Server;

const HLS_JS = fs.readFileSync(path.join(projectRoot, 'node_modules', 'hls.js', 'dist', 'hls.min.js'), 'utf8');

beforeAll(async () => {
  node = await startNode({ synthetic: { enabled: true, room: 'hlsplay' } });
  await waitFor(
    () =>
      node.rooms
        .get('hlsplay')
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchBrowser();
  page = await browser.browser.newPage();
  // The player page comes from another origin than the node, as behind a CDN: CORS is exercised.
  // A real loopback server (not an intercepted route), so Chromium sees loopback → loopback.
  pageServer = http.createServer((req, res) => {
    if (req.url === '/hls.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(HLS_JS);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><video id="v" muted playsinline></video><script src="/hls.js"></script>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  const pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
  if (process.env.HLS_DEBUG) {
    page.on('console', (m) => console.log('page:', m.text()));
    page.on('requestfailed', (r) => console.log('failed:', r.url().slice(0, 80), r.failure()?.errorText));
  }
  await page.goto(`${pageOrigin}/`);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  pageServer?.close();
  await node?.close();
});

interface PlayerState {
  currentTime: number;
  level: number;
  latency: number;
  /** hls.js's live-edge target (s): PART-HOLD-BACK, raised by hls.js after each stall. */
  targetLatency: number;
  pdtLatencyMs: number | null;
  errors: string[];
  switched: number[];
  levels: number;
  frames: number;
}

async function state(): Promise<PlayerState> {
  return page.evaluate(() => {
    const w = window as unknown as { hls: any; errors: string[]; switched: number[] };
    const v = document.getElementById('v') as HTMLVideoElement;
    const date = w.hls.playingDate as Date | null;
    return {
      currentTime: v.currentTime,
      level: w.hls.currentLevel,
      latency: w.hls.latency,
      targetLatency: w.hls.targetLatency,
      pdtLatencyMs: date ? Date.now() - date.getTime() : null,
      errors: w.errors,
      switched: w.switched,
      levels: w.hls.levels.length,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
    };
  });
}

describe('hls.js plays the LL-HLS stream in Chromium', () => {
  it('plays, switches renditions when told, reports latency, and sends CMCD v2', async () => {
    const src = `${node.url}/hls/hlsplay/synthetic/index.m3u8`;
    // Every CMCD payload hls.js sends (query mode), to check what the node counts as malformed.
    const cmcdPayloads: string[] = [];
    page.on('request', (req) => {
      const cmcd = new URL(req.url()).searchParams.get('CMCD');
      if (cmcd !== null) cmcdPayloads.push(cmcd);
    });
    const startedAt = Date.now();
    await page.evaluate((url) => {
      const w = window as unknown as { Hls: any; hls: any; errors: string[]; switched: number[] };
      w.errors = [];
      w.switched = [];
      const hls = new w.Hls({ lowLatencyMode: true, backBufferLength: 10, cmcd: { sessionId: 'e2e-session', contentId: 'hlsplay/synthetic', version: 2 } });
      w.hls = hls;
      hls.on(
        w.Hls.Events.ERROR,
        (_e: unknown, d: { details: string; fatal: boolean; response?: { code: number; text?: string }; error?: Error; url?: string }) =>
          w.errors.push(`${d.fatal ? 'FATAL ' : ''}${d.details}${d.fatal ? ` ${d.response?.code ?? ''} ${d.error?.message ?? ''} ${d.url ?? ''}` : ''}`),
      );
      hls.on(w.Hls.Events.LEVEL_SWITCHED, (_e: unknown, d: { level: number }) => w.switched.push(d.level));
      hls.loadSource(url);
      hls.attachMedia(document.getElementById('v'));
      void (document.getElementById('v') as HTMLVideoElement).play().catch(() => undefined);
    }, src);

    const first = await waitFor(
      async () => {
        const s = await state();
        if (process.env.HLS_DEBUG) console.log(JSON.stringify(s));
        return s.currentTime > 0.5 ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000, what: 'playback to start' },
    );
    const timeToPlayMs = Date.now() - startedAt;
    expect(first.levels).toBe(3);
    // Time advances with the wall clock.
    const t0 = first.currentTime;
    const later = await waitFor(
      async () => {
        const s = await state();
        return s.currentTime > t0 + 3 ? s : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'currentTime to advance 3 s' },
    );
    expect(later.frames).toBeGreaterThan(first.frames);

    // Told to switch to the lowest rendition, it does.
    await page.evaluate(() => {
      (window as unknown as { hls: { currentLevel: number } }).hls.currentLevel = 2;
    });
    await waitFor(async () => (await state()).switched.includes(2), { timeoutMs: 15_000, what: 'switch to level 2' });
    const afterSwitch = (await state()).currentTime;
    await waitFor(async () => (await state()).currentTime > afterSwitch + 1.5, { timeoutMs: 15_000, what: 'playback after the switch' });

    // Latency as the player measures it (distance to the live edge) and against the playlist's dates.
    const samples: PlayerState[] = [];
    for (let i = 0; i < 10; i++) {
      samples.push(await state());
      await new Promise((r) => setTimeout(r, 200));
    }
    const latencies = samples.map((s) => s.latency).sort((a, b) => a - b);
    const pdt = samples
      .map((s) => s.pdtLatencyMs)
      .filter((x): x is number => x !== null)
      .sort((a, b) => a - b);
    const fatal = (await state()).errors.filter((e) => e.startsWith('FATAL'));
    expect(fatal).toEqual([]);
    console.log(
      `hls.js LL-HLS: time to first play ${timeToPlayMs} ms; live-edge latency p50 ${latencies[5]!.toFixed(2)} s ` +
        `(min ${latencies[0]!.toFixed(2)}, max ${latencies.at(-1)!.toFixed(2)}); PDT latency p50 ${pdt[Math.floor(pdt.length / 2)]} ms; ` +
        `non-fatal errors ${JSON.stringify((await state()).errors)}; hls.js target ${(await state()).targetLatency} s`,
    );
    // LL-HLS promises about a second (PART-HOLD-BACK is three 200 ms parts; bench:hls measures
    // ~0.9 s glass to glass; 1.0–2.6 s seen here). hls.js starts at that target and raises it after
    // each stall, which a loaded shared machine causes (7.3 s seen at load average 20–40, with
    // bufferStalledError). So: without a stall, under 4 s (whole segments would be 6 s and more);
    // with stalls, within a second of hls.js's own raised target — the node kept the player at
    // the live edge it aimed for.
    const last = samples.at(-1)!;
    const stalled = last.errors.some((e) => e.includes('bufferStalledError'));
    expect(latencies[5]!).toBeLessThan(stalled ? last.targetLatency + 1 : 4);

    // The player's CMCD reached the QoE metrics.
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    const lines = metrics.split('\n').filter((l) => l.startsWith('subsec_hls_cmcd_requests_total{') && l.includes('room="hlsplay"'));
    expect(lines.length).toBeGreaterThan(0);
    expect(metrics).toMatch(/subsec_hls_cmcd_active_sessions\{[^}]*stream="synthetic"[^}]*\} 1/);
    // hls.js's CMCD v2 parses (st=ll, nor as a list), except one deviation of hls.js 1.7: `pb`
    // and `tpb` (top playable bitrates, Integers in CTA-5004) sent with decimals, which the node
    // counts as a wrong type. Every payload it refuses must be refused for that alone.
    expect(cmcdPayloads.length).toBeGreaterThan(10);
    const refused = cmcdPayloads.filter((p) => !parseCmcd(p).ok);
    const decimalBitrate = /^t?pb=\(\d+\.\d+\)$/;
    expect(refused.filter((p) => !p.split(',').some((m) => decimalBitrate.test(m)))).toEqual([]);
    const withoutDecimalBitrates = (p: string) =>
      p
        .split(',')
        .filter((m) => !decimalBitrate.test(m))
        .join(',');
    expect(refused.filter((p) => !parseCmcd(withoutDecimalBitrates(p)).ok)).toEqual([]);
    const malformed = metrics.split('\n').filter((l) => l.startsWith('subsec_hls_cmcd_malformed_total{') && !l.endsWith(' 0'));
    expect(malformed.filter((l) => !l.includes('reason="type"'))).toEqual([]);
    expect(metrics).toMatch(/^# TYPE subsec_hls_cmcd_malformed_total counter$/m);
  }, 120_000);
});
