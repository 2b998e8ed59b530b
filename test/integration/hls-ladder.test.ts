/**
 * The ABR ladder shaped by its audience (hls.ladderAdaptation, docs/abr-ladder.md), end to end:
 * viewers are real HTTP requests carrying CMCD (`sid`, `mtp`) to the node; hls.js in Chromium
 * plays the top rung throughout. An unrequested rung is dropped (its ffmpeg exits, it leaves the
 * multivariant playlist, its media playlist ends with EXT-X-ENDLIST), a dropped rung comes back
 * and the top rung is lowered when viewers' throughput says so, and the top rung is restored when
 * demand returns, and a rung is added for a cluster between two rungs (on the floor's decode-time
 * line) — each change in the API, the LL-DASH MPD, the QoE dashboard and as a `ladder.changed`
 * webhook — while hls.js keeps playing without a fatal error.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { WebhookReceiver } from '../helpers/webhookReceiver';

const ADMIN = 'ladder-admin-key-0123456789';
const HLS_JS = fs.readFileSync(path.join(projectRoot, 'node_modules', 'hls.js', 'dist', 'hls.min.js'), 'utf8');

let node: SubsecNode;
let hooks: WebhookReceiver;
let browser: TestBrowser;
let page: Page;
let pageServer: http.Server;

// A fresh node and browser for every attempt: a retry must start from the configured ladder, not
// from the one the failed attempt changed.
beforeEach(async () => {
  hooks = await WebhookReceiver.start();
  node = await startNode({
    synthetic: { enabled: true, room: 'ladder' },
    auth: { adminKey: ADMIN },
    webhooks: { endpoints: [{ url: hooks.url, events: ['ladder.*'] }], secret: 'ladder-webhook-secret-1' },
    hls: {
      renditions: [
        { name: 'high', height: 360, videoKbps: 900 },
        { name: 'mid', height: 240, videoKbps: 400 },
        { name: 'low', height: 160, videoKbps: 180 },
      ],
      ladderAdaptation: {
        enabled: true,
        windowMs: 6000,
        evaluateIntervalMs: 250,
        dropAfterMs: 6000,
        minDwellMs: 2000,
        minChangeIntervalMs: 1000,
        minViewers: 2,
        retireIdleMs: 1500,
      },
    },
  });
  await waitFor(
    () =>
      node.rooms
        .get('ladder')
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchBrowser();
  page = await browser.browser.newPage();
  pageServer = http.createServer((req, res) => {
    if (req.url === '/hls.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(HLS_JS);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><video id="v" muted playsinline></video><script src="/hls.js"></script>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  await page.goto(`http://localhost:${(pageServer.address() as AddressInfo).port}/`);
}, 90_000);

afterEach(async () => {
  await browser?.close();
  pageServer?.close();
  await node?.close();
  await hooks?.close();
});

interface LadderBody {
  adaptive: boolean;
  rungs: Array<{ name: string; videoKbps: number; state: string }>;
  lastDecision?: { action: string; reason: string };
  changes: Array<{ action: string; rung: string; replaces?: string; before: Array<{ name: string }>; after: Array<{ name: string }>; reason: string }>;
  encoders: number;
  viewers: number;
}

async function ladder(): Promise<LadderBody> {
  const res = await fetch(`${node.url}/v1/rooms/ladder/streams/synthetic/ladder`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as LadderBody;
}

async function variants(): Promise<string[]> {
  const text = await (await fetch(`${node.url}/hls/ladder/synthetic/index.m3u8`)).text();
  return text
    .split('\n')
    .filter((l) => l.endsWith('/index.m3u8') && !l.startsWith('#'))
    .map((l) => l.split('/')[0]!);
}

/** Scripted viewers: each polls a rendition's media playlist with CMCD (sid, mtp) until stopped. */
class Audience {
  rendition = 'high';
  mtpKbps = 5000;
  requests = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #abort = new AbortController();

  constructor(
    readonly base: string,
    sids: string[],
  ) {
    this.#timer = setInterval(() => {
      for (const sid of sids) {
        const cmcd = `mtp=${this.mtpKbps},ot=m,sid="${sid}",v=2`;
        fetch(`${this.base}/hls/ladder/synthetic/${this.rendition}/index.m3u8?CMCD=${encodeURIComponent(cmcd)}`, { signal: this.#abort.signal })
          .then(async (r) => {
            await r.arrayBuffer();
            this.requests++;
          })
          .catch(() => undefined);
      }
    }, 400);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#abort.abort();
  }
}

async function playerState(): Promise<{ currentTime: number; fatal: string[]; level: number }> {
  return page.evaluate(() => {
    const w = window as unknown as { hls: any; fatal: string[] };
    return { currentTime: (document.getElementById('v') as HTMLVideoElement).currentTime, fatal: w.fatal, level: w.hls.currentLevel };
  });
}

async function keepsPlaying(what: string): Promise<void> {
  const before = await playerState();
  await waitFor(async () => (await playerState()).currentTime > before.currentTime + 2, { timeoutMs: 20_000, what: `hls.js playing on after ${what}` });
  expect((await playerState()).fatal).toEqual([]);
}

describe('the ABR ladder follows its audience', () => {
  it('drops an unrequested rung, restores and lowers for throughput, restores the top, adds a rung for a cluster — hls.js keeps playing', async () => {
    expect(await variants()).toEqual(['high', 'mid', 'low']);
    const first = await ladder();
    expect(first.adaptive).toBe(true);
    // The floor/audio job and one job per other rung.
    expect(first.encoders).toBe(3);
    const pidsBefore = node.hls!.get('ladder', 'synthetic')!.encoderPids;
    expect(pidsBefore).toHaveLength(3);

    // Two viewers on the top rung with plenty of throughput: nobody fetches `mid`.
    const audience = new Audience(node.url, ['viewer-a', 'viewer-b']);
    // hls.js (no CMCD of its own) plays the top rung, pinned.
    await page.evaluate((url) => {
      const w = window as unknown as { Hls: any; hls: any; fatal: string[] };
      w.fatal = [];
      const hls = new w.Hls({ lowLatencyMode: true, backBufferLength: 10 });
      w.hls = hls;
      hls.on(w.Hls.Events.ERROR, (_e: unknown, d: { details: string; fatal: boolean }) => {
        if (d.fatal) w.fatal.push(d.details);
      });
      hls.on(w.Hls.Events.MANIFEST_PARSED, () => {
        const top = hls.levels.reduce((best: number, l: { bitrate: number }, i: number) => (l.bitrate > hls.levels[best].bitrate ? i : best), 0);
        hls.currentLevel = top;
      });
      hls.loadSource(url);
      hls.attachMedia(document.getElementById('v'));
      void (document.getElementById('v') as HTMLVideoElement).play().catch(() => undefined);
    }, `${node.url}/hls/ladder/synthetic/index.m3u8`);
    await waitFor(async () => (await playerState()).currentTime > 1, { timeoutMs: 30_000, what: 'hls.js playing' });

    try {
      const dropped = await waitFor(
        async () => {
          const l = await ladder();
          return l.changes.some((c) => c.action === 'drop') ? l : undefined;
        },
        { timeoutMs: 30_000, what: 'mid dropped' },
      );
      const drop = dropped.changes.find((c) => c.action === 'drop')!;
      expect(drop.rung).toBe('mid');
      expect(drop.before.map((r) => r.name)).toEqual(['high', 'mid', 'low']);
      expect(drop.after.map((r) => r.name)).toEqual(['high', 'low']);
      expect(drop.reason).toMatch(/no player requested mid/);
      expect(await variants()).toEqual(['high', 'low']);
      // The LL-DASH MPD of the same packaging follows the ladder.
      const mpd = await (await fetch(`${node.url}/dash/ladder/synthetic/manifest.mpd`)).text();
      expect(mpd).toMatch(/<Representation id="high"/);
      expect(mpd).toMatch(/<Representation id="low"/);
      expect(mpd).not.toMatch(/<Representation id="mid"/);
      // Its encode stops: one ffmpeg fewer, the process gone; its playlist ends.
      await waitFor(async () => (await ladder()).encoders === 2, { timeoutMs: 15_000, what: 'mid encoder stopped' });
      const pidsAfter = node.hls!.get('ladder', 'synthetic')!.encoderPids;
      expect(pidsAfter).toHaveLength(2);
      const gone = pidsBefore.filter((p) => !pidsAfter.includes(p));
      expect(gone).toHaveLength(1);
      await waitFor(() => !fs.existsSync(`/proc/${gone[0]}/stat`) || fs.readFileSync(`/proc/${gone[0]}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'), {
        timeoutMs: 10_000,
        what: 'mid ffmpeg exited',
      });
      const midPlaylist = await (await fetch(`${node.url}/hls/ladder/synthetic/mid/index.m3u8`)).text();
      expect(midPlaylist).toContain('#EXT-X-ENDLIST');
      const hook = await waitFor(() => hooks.requests.find((r) => r.event.type === 'ladder.changed' && r.event.data.action === 'drop'), {
        timeoutMs: 10_000,
        what: 'ladder.changed webhook',
      });
      expect(hook.event.room).toBe('ladder');
      expect(hook.event.data).toMatchObject({ stream: 'synthetic', rung: 'mid' });
      expect(hook.event.data.before.map((r: { name: string }) => r.name)).toEqual(['high', 'mid', 'low']);
      await keepsPlaying('the drop');

      // Viewers fall to ~1 Mbps, on the floor: `mid` comes back for them; once they play it, the top rung (900 kbps) is lowered.
      audience.rendition = 'low';
      audience.mtpKbps = 1000;
      await waitFor(async () => (await ladder()).changes.some((c) => c.action === 'restore' && c.rung === 'mid'), { timeoutMs: 30_000, what: 'mid restored' });
      await waitFor(async () => (await variants()).includes('mid'), { timeoutMs: 20_000, what: 'mid listed again' });
      audience.rendition = 'mid';
      const lowered = await waitFor(
        async () => {
          const l = await ladder();
          return l.changes.some((c) => c.action === 'lower') ? l : undefined;
        },
        { timeoutMs: 30_000, what: 'top lowered' },
      );
      const lower = lowered.changes.find((c) => c.action === 'lower')!;
      expect(lower.replaces).toBe('high');
      expect(lower.rung).toBe('high-600k');
      expect(lower.reason).toMatch(/none of 2 viewer\(s\) sustains high/);
      await waitFor(async () => (await variants()).join() === 'high-600k,mid,low', { timeoutMs: 20_000, what: 'lowered ladder listed' });
      // hls.js still fetches `high`: it keeps encoding (retiring) until the player leaves it.
      expect((await ladder()).rungs.find((r) => r.name === 'high')?.state).toBe('retiring');
      await keepsPlaying('the lowering');

      // Demand returns: the top rung is restored (the retiring `high` offered again).
      audience.mtpKbps = 5000;
      await waitFor(async () => (await ladder()).changes.some((c) => c.action === 'restore' && c.rung === 'high'), {
        timeoutMs: 30_000,
        what: 'top rung restored',
      });
      await waitFor(async () => (await variants())[0] === 'high', { timeoutMs: 10_000, what: 'high listed again' });
      await keepsPlaying('the restore');
      const types = hooks.requests.filter((r) => r.event.type === 'ladder.changed').map((r) => r.event.data.action);
      expect(types).toEqual(expect.arrayContaining(['drop', 'restore', 'lower']));
      // A cluster between `low` (180) and `mid` (400): ~380 kbps sustained gets a rung of its own.
      audience.rendition = 'mid';
      audience.mtpKbps = 494;
      const added = await waitFor(async () => (await ladder()).changes.find((c) => c.action === 'add'), { timeoutMs: 30_000, what: 'a rung added' });
      expect(added.rung).toBe('a250k');
      expect(added.reason).toMatch(/far between low .* and mid/);
      await waitFor(async () => (await variants()).includes('a250k'), { timeoutMs: 30_000, what: 'a250k listed once it has a segment' });
      // The cluster moves onto its rung (else, unrequested for dropAfterMs, it would be dropped again while the checks below run).
      audience.rendition = 'a250k';
      // Its own ffmpeg, on the floor's decode-time line: its first segment starts exactly at one of the floor's keyframes.
      const stream = node.hls!.get('ladder', 'synthetic')!;
      const keyframeTimes: number[] = [];
      for (const seg of stream.rendition('low')!.packager.segments) {
        let t = seg.startTime;
        for (const part of seg.parts) {
          if (part.independent) keyframeTimes.push(t);
          t += part.duration;
        }
      }
      const firstStart = stream.rendition('a250k')!.packager.segments[0]!.startTime;
      expect(Math.min(...keyframeTimes.map((t) => Math.abs(t - firstStart)))).toBeLessThan(0.001);
      // …and the same keyframe: both live edges are at the same media time (the source's GOP is 1 s, so one keyframe off would show).
      const edge = (name: string) => {
        const last = stream.rendition(name)!.packager.segments.at(-1)!;
        return last.startTime + last.duration;
      };
      // (Each rung is its own ffmpeg: under load one may lag a few hundred ms, so the edges are compared until they meet.)
      await waitFor(() => Math.abs(edge('a250k') - edge('low')) < 0.5, { timeoutMs: 10_000, what: 'a250k and low at the same live edge' });
      // …with the floor's Media Sequence Numbers: the same media has the same number in both (hls.js switches by it).
      const lowByStart = new Map(stream.rendition('low')!.packager.segments.map((s) => [s.startTime.toFixed(3), s.msn]));
      const addedSegments = stream.rendition('a250k')!.packager.segments.filter((s) => s.complete);
      expect(addedSegments.length).toBeGreaterThan(0);
      for (const s of addedSegments) expect(s.msn, `a250k segment at ${s.startTime}`).toBe(lowByStart.get(s.startTime.toFixed(3)));
      await keepsPlaying('the addition');
      // A new hls.js session sees the added rung, plays it (with the floor job's audio), and switches from it to the floor and back.
      const late = await browser.browser.newPage();
      try {
        await late.goto(`http://localhost:${(pageServer.address() as AddressInfo).port}/`);
        await late.evaluate((url) => {
          const w = window as unknown as { Hls: any; hls: any; fatal: string[]; switched: string[] };
          w.fatal = [];
          w.switched = [];
          const hls = new w.Hls({ lowLatencyMode: true, backBufferLength: 10 });
          w.hls = hls;
          hls.on(w.Hls.Events.ERROR, (_e: unknown, d: { details: string; fatal: boolean }) => {
            if (d.fatal) w.fatal.push(d.details);
          });
          hls.on(w.Hls.Events.LEVEL_SWITCHED, (_e: unknown, d: { level: number }) => w.switched.push(String(hls.levels[d.level].url)));
          hls.on(w.Hls.Events.MANIFEST_PARSED, () => {
            hls.currentLevel = hls.levels.findIndex((l: { url: string[] | string }) => String(l.url).includes('/a250k/'));
          });
          hls.loadSource(url);
          hls.attachMedia(document.getElementById('v'));
          void (document.getElementById('v') as HTMLVideoElement).play().catch(() => undefined);
        }, `${node.url}/hls/ladder/synthetic/index.m3u8`);
        const lateState = () =>
          late.evaluate(() => {
            const w = window as unknown as { hls: any; fatal: string[] };
            const v = document.getElementById('v') as HTMLVideoElement;
            return { t: v.currentTime, fatal: w.fatal, switched: (window as unknown as { switched: string[] }).switched, height: v.videoHeight };
          });
        await waitFor(async () => (await lateState()).t > 2 && (await lateState()).height > 0, {
          timeoutMs: 30_000,
          what: 'a new hls.js session playing a250k',
        });
        // hls.js reports the level switch once it finds the playing fragment's level (later than playback under load).
        await waitFor(async () => (await lateState()).switched.at(-1)?.includes('/a250k/'), { timeoutMs: 15_000, what: 'the new session on a250k' });
        for (const target of ['/low/', '/a250k/']) {
          await late.evaluate((t) => {
            const hls = (window as unknown as { hls: any }).hls;
            hls.currentLevel = hls.levels.findIndex((l: { url: string[] | string }) => String(l.url).includes(t));
          }, target);
          await waitFor(async () => (await lateState()).switched.at(-1)?.includes(target), {
            timeoutMs: 20_000,
            what: `the new session switched to ${target}`,
          });
          const from = (await lateState()).t;
          await waitFor(async () => (await lateState()).t > from + 2, { timeoutMs: 20_000, what: `the new session playing on after switching to ${target}` });
        }
        expect((await lateState()).fatal).toEqual([]);
      } finally {
        await late.close();
      }
      await waitFor(() => hooks.requests.some((r) => r.event.type === 'ladder.changed' && r.event.data.action === 'add' && r.event.data.rung === 'a250k'), {
        timeoutMs: 10_000,
        what: 'ladder.changed webhook of the addition',
      });

      // The QoE dashboard shows the ladder and its last change.
      const dash = await browser.browser.newPage();
      try {
        await dash.goto(`${node.url}/qoe/#key=${ADMIN}`);
        const line = await waitFor(
          async () => {
            const text = await dash.evaluate(() => document.querySelector('section.stream[data-stream="ladder/synthetic"] .ladder')?.textContent ?? '');
            return text.includes('audience-shaped') && text.includes('high') && text;
          },
          { timeoutMs: 20_000, what: 'the ladder on the QoE dashboard' },
        );
        expect(line).toMatch(/add a250k|restore |drop |lower /);
      } finally {
        await dash.close();
      }
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      expect(metrics).toMatch(/subsec_hls_ladder_changes_total\{action="drop"[^}]*\} [1-9]/);
      expect(audience.requests).toBeGreaterThan(0);
    } finally {
      audience.stop();
    }
  }, 240_000);
});
