/**
 * moq-dev's @moq/net in Chromium (QUIC on) against a standalone relay, per moq-lite version and
 * carrier: WebTransport over HTTP/3 with @moq/net's default offer (the relay picks moq-lite-05),
 * WebTransport offering only lite-06's work-in-progress ALPN, and WebSocket (QMux) offering only
 * lite-05 or only lite-06, IETF moq-transport draft-16 (`moqt-16`) over both carriers and draft-14
 * (negotiated inside the pre-ALPN CLIENT_SETUP after WebTransport protocol `moql`). Each
 * session receives a Node publisher's frames, and the relay's own session list proves the
 * version and carrier it negotiated.
 */
import http from 'node:http';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { connectMoq, publishTestBroadcast, type Moq, type TestPublisher } from '../../loadtest/core/moqClient';
import { startRelay, token } from '../helpers/relay';
import { waitFor } from '../../loadtest/core/waitFor';
import { projectRoot } from '../../src/config/loadConfig';
import type { RelayServer } from '../../relay/RelayServer';

/** The page: open a session (options pick carrier and offered versions), count test frames. */
const PAGE_SCRIPT = `
import * as Moq from '@moq/net';
import QmuxSession from '@moq/qmux';
window.state = { frames: 0, groups: 0, badFrames: 0, errors: [] };
window.open = async (url, path, how) => {
  const u = new URL(url);
  let conn;
  if (how.carrier === 'websocket') {
    const session = new QmuxSession(u, { protocols: how.protocols, versions: Object.fromEntries(how.protocols.map((p) => [p, null])), requireProtocol: true });
    await session.ready;
    conn = await Moq.Connection.connect(u, { transport: session });
  } else {
    const webtransport = how.protocols ? { protocols: how.protocols } : undefined;
    conn = await Moq.Connection.connect(u, { websocket: { enabled: false }, webtransport });
  }
  window.conn = conn;
  window.state.version = conn.version;
  const sub = conn.consume(Moq.Path.from(path)).track('video').subscribe({ priority: 1 });
  void (async () => {
    try {
      for (;;) {
        const g = await sub.recvGroup();
        if (!g) return;
        window.state.groups++;
        let index = 0;
        for (;;) {
          const f = await g.readFrame();
          if (!f) break;
          const view = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
          if (view.getUint32(0) !== g.sequence || view.getUint32(4) !== index) window.state.badFrames++;
          index++;
          window.state.frames++;
        }
      }
    } catch (e) { window.state.errors.push(String(e)); }
  })();
  return conn.version;
};
window.closeSession = () => window.conn?.close();
`;

let relay: RelayServer;
let publisher: Moq.Connection.Established;
let pub: TestPublisher;
let browser: TestBrowser;
let page: http.Server;
let pageUrl = '';

beforeAll(async () => {
  relay = await startRelay();
  expect(relay.addresses.http3Url).toBeDefined();
  publisher = await connectMoq(relay.addresses, token('cv', { canPublish: true }), { versions: ['moq-lite-05'] });
  pub = publishTestBroadcast(publisher, 'cv/cam', { intervalMs: 40, framesPerGroup: 3 });
  await waitFor(() => relay.origin.get('cv/cam'), { what: 'announce' });
  const script = (
    await build({
      stdin: { contents: PAGE_SCRIPT, resolveDir: projectRoot, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    })
  ).outputFiles[0]!.text;
  page = http.createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><body><script type="module" src="/page.js"></script></body>');
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageUrl = `http://127.0.0.1:${(page.address() as { port: number }).port}/`;
  browser = await launchBrowser([], { quic: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  page?.close();
  pub?.stop();
  publisher?.close();
  await relay?.close();
});

interface PageState {
  frames: number;
  groups: number;
  badFrames: number;
  errors: string[];
  version?: string;
}

async function openTab(how: { carrier: 'webtransport' | 'websocket'; protocols?: string[] }): Promise<{ tab: Page; version: string }> {
  const tab = await browser.browser.newPage();
  await tab.goto(pageUrl);
  await tab.waitForFunction(() => typeof (window as unknown as { closeSession?: unknown }).closeSession === 'function', undefined, { timeout: 15_000 });
  const url = `${relay.addresses.url}/?jwt=${token('cv', { identity: `tab-${how.carrier}` })}`;
  const version = await tab.evaluate(([u, h]) => (window as unknown as { open: (u: string, p: string, h: object) => Promise<string> }).open(u, 'cv/cam', h), [
    url,
    how,
  ] as const);
  return { tab, version };
}

const pageState = (tab: Page) => tab.evaluate(() => (window as unknown as { state: PageState }).state);

/** The relay's open sessions of the browser tab (its token identity) over `kind` that negotiated `version`. */
function relaySessions(kind: string, version: string): number {
  return relay.sessionList().filter((s) => s.identity.startsWith('tab-') && s.kind === kind && s.version === version).length;
}

describe('@moq/net in Chromium per moq-lite version', () => {
  const cases = [
    { name: "WebTransport/HTTP3, @moq/net's default offer", how: { carrier: 'webtransport' as const }, kind: 'webtransport-h3', version: 'moq-lite-05' },
    {
      name: 'WebTransport/HTTP3 offering only lite-06',
      how: { carrier: 'webtransport' as const, protocols: ['moq-lite-06-wip'] },
      kind: 'webtransport-h3',
      version: 'moq-lite-06-wip',
    },
    {
      name: 'WebSocket (QMux) offering only lite-05',
      how: { carrier: 'websocket' as const, protocols: ['moq-lite-05'] },
      kind: 'websocket',
      version: 'moq-lite-05',
    },
    {
      name: 'WebSocket (QMux) offering only lite-06',
      how: { carrier: 'websocket' as const, protocols: ['moq-lite-06-wip'] },
      kind: 'websocket',
      version: 'moq-lite-06-wip',
    },
    {
      name: 'WebTransport/HTTP3 offering only IETF moq-transport draft-16',
      how: { carrier: 'webtransport' as const, protocols: ['moqt-16'] },
      kind: 'webtransport-h3',
      version: 'moqt-16',
      clientVersion: 'moq-transport-16',
    },
    {
      name: 'WebSocket (QMux) offering only IETF moq-transport draft-16',
      how: { carrier: 'websocket' as const, protocols: ['moqt-16'] },
      kind: 'websocket',
      version: 'moqt-16',
      clientVersion: 'moq-transport-16',
    },
    {
      name: 'WebTransport/HTTP3 offering only moql (IETF draft-14 chosen in the pre-ALPN CLIENT_SETUP)',
      how: { carrier: 'webtransport' as const, protocols: ['moql'] },
      kind: 'webtransport-h3',
      version: 'moq-transport-14',
      clientVersion: 'moq-transport-14',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: negotiates ${c.version} and receives frames`, async () => {
      const { tab, version } = await openTab(c.how);
      try {
        expect(version).toBe('clientVersion' in c ? c.clientVersion : c.version);
        await waitFor(async () => (await pageState(tab)).frames >= 30, { what: `frames over ${c.version}`, timeoutMs: 15_000 });
        const s = await pageState(tab);
        expect(s.badFrames).toBe(0);
        expect(s.errors).toEqual([]);
        expect(s.groups).toBeGreaterThanOrEqual(5);
        // The relay's side of the same session.
        expect(relaySessions(c.kind, c.version)).toBe(1);
      } finally {
        await tab.evaluate(() => (window as unknown as { closeSession: () => void }).closeSession());
        await waitFor(() => relaySessions(c.kind, c.version) === 0, { what: 'session closed at the relay', timeoutMs: 10_000 });
        await tab.close();
      }
    }, 45_000);
  }
});
