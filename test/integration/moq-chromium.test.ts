/**
 * Chromium: a page running moq-dev's @moq/net (bundled with esbuild) connects to the node's
 * relay (it races WebTransport/HTTP3 — the relay's UDP listener on the same port number, pinned
 * through `/certificate.sha256` — against WebSocket and uses whichever connects first),
 * reads the hang catalog of the bridged synthetic stream and decodes its H264 and Opus frames
 * with WebCodecs.
 */
import http from 'node:http';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { projectRoot } from '../../src/config/loadConfig';
import type { SubsecNode } from '../../src/SubsecNode';

/** The page's script: connect, read the catalog, decode `seconds` of video and audio. */
const PAGE_SCRIPT = `
import * as Moq from '@moq/net';
function stripTimestamp(frame) {
  const size = 1 << (frame[0] >> 6);
  let ts = frame[0] & 0x3f;
  for (let i = 1; i < size; i++) ts = ts * 256 + frame[i];
  return { ts, data: frame.subarray(size) };
}
async function readCatalog(broadcast) {
  const sub = broadcast.track('catalog.json').subscribe({ priority: 100 });
  for (;;) {
    const g = await sub.recvGroup();
    const f = await g.readFrame();
    const catalog = JSON.parse(new TextDecoder().decode(f.payload));
    if (catalog.video && catalog.audio) { sub.close(); return catalog; }
  }
}
window.watch = async (url, path, seconds) => {
  const conn = await Moq.Connection.connect(new URL(url), { websocket: { delay: 0 } });
  const broadcast = conn.consume(Moq.Path.from(path));
  const catalog = await readCatalog(broadcast);
  const [videoTrack, videoConfig] = Object.entries(catalog.video.renditions)[0];
  const [audioTrack, audioConfig] = Object.entries(catalog.audio.renditions)[0];
  const result = { version: conn.version, videoCodec: videoConfig.codec, videoSupported: false, decodedVideo: 0, decodedAudio: 0, keyGroups: 0, width: 0, height: 0, errors: [] };
  result.videoSupported = (await VideoDecoder.isConfigSupported({ codec: videoConfig.codec, optimizeForLatency: true })).supported;
  const video = new VideoDecoder({
    output: (frame) => { result.decodedVideo++; result.width = frame.displayWidth; result.height = frame.displayHeight; frame.close(); },
    error: (e) => result.errors.push('video: ' + e.message),
  });
  video.configure({ codec: videoConfig.codec, optimizeForLatency: true });
  const audio = new AudioDecoder({
    output: (data) => { result.decodedAudio++; data.close(); },
    error: (e) => result.errors.push('audio: ' + e.message),
  });
  audio.configure({ codec: 'opus', sampleRate: audioConfig.sampleRate, numberOfChannels: audioConfig.numberOfChannels });
  const deadline = performance.now() + seconds * 1000;
  const vsub = broadcast.track(videoTrack).subscribe({ priority: 60 });
  const asub = broadcast.track(audioTrack).subscribe({ priority: 80 });
  const pump = async (sub, fn) => {
    while (performance.now() < deadline) {
      const g = await sub.recvGroup();
      if (!g) return;
      let index = 0;
      for (;;) { const f = await g.readFrame(); if (!f) break; fn(stripTimestamp(f.payload), index++); }
    }
  };
  await Promise.all([
    pump(vsub, ({ ts, data }, i) => { if (i === 0) result.keyGroups++; video.decode(new EncodedVideoChunk({ type: i === 0 ? 'key' : 'delta', timestamp: ts, data })); }),
    pump(asub, ({ ts, data }) => audio.decode(new EncodedAudioChunk({ type: 'key', timestamp: ts, data }))),
  ]);
  await video.flush().catch((e) => result.errors.push('flush: ' + e.message));
  await audio.flush().catch(() => undefined);
  conn.close();
  return result;
};
`;

/** A page with moq-dev's stock player element. */
const WATCH_SCRIPT = `
import '@moq/watch/element';
window.startWatch = (url, name) => {
  const el = document.createElement('moq-watch');
  el.setAttribute('url', url);
  el.setAttribute('name', name);
  el.setAttribute('visible', 'always');
  el.setAttribute('muted', '');
  el.appendChild(document.createElement('canvas'));
  document.body.appendChild(el);
  window.player = el;
};
window.playerState = () => {
  const el = window.player;
  const frame = el?.video?.out?.frame?.peek?.();
  return {
    frames: el?.video?.out?.stats?.peek?.()?.frameCount ?? 0,
    width: frame?.displayWidth ?? 0,
    height: frame?.displayHeight ?? 0,
  };
};
`;

let node: SubsecNode;
let browser: TestBrowser;
let page: http.Server;
let pageUrl = '';

beforeAll(async () => {
  node = await startNode({ synthetic: { enabled: true, room: 'moqweb' }, moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } } } });
  await waitFor(() => node.rooms.get('moqweb')?.producersOf('synthetic').length === 2, { what: 'synthetic producers', timeoutMs: 20_000 });
  const bundle = async (contents: string) =>
    (
      await build({
        stdin: { contents, resolveDir: projectRoot, loader: 'js' },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        logLevel: 'silent',
      })
    ).outputFiles[0]!.text;
  const scripts: Record<string, string> = { '/moq.js': await bundle(PAGE_SCRIPT), '/watch.js': await bundle(WATCH_SCRIPT) };
  page = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page');
    const js = scripts[url.pathname];
    if (js) res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<!doctype html><body><script type="module" src="/${url.searchParams.get('script') ?? 'moq'}.js"></script></body>`);
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageUrl = `http://127.0.0.1:${(page.address() as { port: number }).port}/`;
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  page?.close();
  await node?.close();
});

describe('MoQ in Chromium', () => {
  it('decodes the bridged H264 and Opus from the relay with @moq/net (WebTransport or WebSocket)', async () => {
    const tab = await browser.browser.newPage();
    await tab.goto(pageUrl);
    await tab.waitForFunction(() => typeof (window as unknown as { watch?: unknown }).watch === 'function', undefined, { timeout: 15_000 });
    const token = node.tokens.issue({ room: 'moqweb', identity: 'browser', canSubscribe: true });
    const url = `${node.moqRelay!.addresses.url}/?jwt=${token}`;
    const result = await tab.evaluate(
      ([u, p]) => (window as unknown as { watch: (u: string, p: string, s: number) => Promise<Record<string, unknown>> }).watch(u, p, 4),
      [url, 'moqweb/synthetic'] as const,
    );
    expect(result).toMatchObject({ version: 'moq-lite-04', videoSupported: true, errors: [] });
    expect(result.decodedVideo).toBeGreaterThan(30);
    expect(result.keyGroups).toBeGreaterThanOrEqual(2);
    expect(result).toMatchObject({ width: 640, height: 360 });
    expect(result.decodedAudio).toBeGreaterThan(50);
  }, 60_000);

  it("plays the bridged stream in moq-dev's stock player (<moq-watch> from @moq/watch)", async () => {
    const tab = await browser.browser.newPage();
    await tab.goto(`${pageUrl}?script=watch`);
    await tab.waitForFunction(() => typeof (window as unknown as { startWatch?: unknown }).startWatch === 'function', undefined, { timeout: 15_000 });
    const token = node.tokens.issue({ room: 'moqweb', identity: 'player', canSubscribe: true });
    await tab.evaluate(([u, n]) => (window as unknown as { startWatch: (u: string, n: string) => void }).startWatch(u, n), [
      `${node.moqRelay!.addresses.url}/?jwt=${token}`,
      'moqweb/synthetic',
    ] as const);
    await tab.waitForFunction(() => (window as unknown as { playerState: () => { frames: number } }).playerState().frames > 30, undefined, {
      timeout: 30_000,
      polling: 200,
    });
    const state = await tab.evaluate(() => (window as unknown as { playerState: () => Record<string, number> }).playerState());
    expect(state).toMatchObject({ width: 640, height: 360 });
  }, 60_000);
});
