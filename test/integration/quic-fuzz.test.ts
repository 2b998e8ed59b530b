/**
 * The relay's QUIC/HTTP/3 listener under bad input, while a healthy viewer (Chromium, @moq/net
 * over WebTransport/HTTP3) keeps receiving a live broadcast: malformed HTTP/3 closes only the
 * offending connection with its HTTP/3 error code; refused CONNECTs get an HTTP status on their
 * stream; streams reset mid-way leave their connection up; thousands of junk and truncated UDP
 * datagrams are dropped without state; the relay's memory and connection count stay bounded.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, encodeVarint } from '../../relay/transport/h3/ByteQueue';
import type { RelayServer } from '../../relay/RelayServer';
import { projectRoot } from '../../src/config/loadConfig';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { CLIENT_CONTROL, connectRequest, h3Frame, H3Probe, headersFrame } from '../helpers/h3Probe';
import { connectMoq, publishTestBroadcast, type Moq, type TestPublisher } from '../../loadtest/core/moqClient';
import { startRelay, token } from '../helpers/relay';
import { waitFor } from '../../loadtest/core/waitFor';

const VIEWER = `
import * as Moq from '@moq/net';
window.view = async (url, hash, path) => {
  const conn = await Moq.Connection.connect(new URL(url), { webtransport: { serverCertificateHashes: [{ value: hash }] }, websocket: { enabled: false } });
  window.state = { transport: conn.transport, frames: 0, lastGroup: -1 };
  const sub = conn.consume(Moq.Path.from(path)).track('video').subscribe({ priority: 60 });
  for (;;) {
    const g = await sub.recvGroup();
    if (!g) return;
    for (;;) { const f = await g.readFrame(); if (!f) break; window.state.frames++; window.state.lastGroup = new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0); }
  }
};
`;

let relay: RelayServer;
let browser: TestBrowser;
let pageServer: http.Server;
let page: Page;
let publisher: TestPublisher;
let pubConn: Moq.Connection.Established;
let host = '127.0.0.1';
let udpPort = 0;

const viewerFrames = async () => (await page.evaluate('window.state?.frames ?? 0')) as number;

beforeAll(async () => {
  relay = await startRelay({ requireAuth: true });
  udpPort = Number(new URL(relay.addresses.http3Url!).port);
  pubConn = await connectMoq({ url: relay.addresses.url }, token('fuzz', { canPublish: true, canSubscribe: false }), { root: 'fuzz' });
  publisher = publishTestBroadcast(pubConn, 'live', { intervalMs: 100, framesPerGroup: 3, frameBytes: 2500 });
  const js = (
    await build({
      stdin: { contents: VIEWER, resolveDir: projectRoot, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    })
  ).outputFiles[0]!.text;
  pageServer = http.createServer((req, res) => {
    if (req.url === '/viewer.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><body><script type="module" src="/viewer.js"></script></body>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  browser = await launchBrowser([], { quic: true });
  page = await browser.browser.newPage();
  await page.goto(`http://127.0.0.1:${(pageServer.address() as { port: number }).port}/`);
  await page.waitForFunction('typeof window.view === "function"');
  const url = `${relay.addresses.http3Url}/fuzz?jwt=${token('fuzz')}`;
  void page.evaluate(`window.view(${JSON.stringify(url)}, ${JSON.stringify(relay.certificateSha256)}, 'live')`).catch(() => undefined);
  await waitFor(async () => (await viewerFrames()) >= 10, { timeoutMs: 20_000, what: 'healthy viewer frames' });
  expect(await page.evaluate('window.state.transport')).toBe('webtransport');
}, 90_000);

afterAll(async () => {
  publisher?.stop();
  pubConn?.close();
  await browser?.close();
  pageServer?.close();
  await relay?.close();
});

/** Opens a probe, runs `act`, and resolves with how the relay closed the connection. */
async function closedBy(act: (p: H3Probe) => Promise<unknown>): Promise<{ app: boolean; code: number; reason: string }> {
  const p = await H3Probe.dial(host, udpPort);
  await act(p);
  const info = await Promise.race([p.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
  if (!info) {
    p.close();
    throw new Error('the relay did not close the connection');
  }
  return info;
}

describe('QUIC/HTTP3 listener under bad input', () => {
  it('closes a connection that breaks HTTP/3 with the matching error code; others carry on', async () => {
    const before = await viewerFrames();
    const cases: Array<[string, (p: H3Probe) => Promise<unknown>, number]> = [
      ['control stream without SETTINGS first', (p) => p.send(false, concatBytes([encodeVarint(0), h3Frame(0x07, encodeVarint(0))])), 0x10a],
      [
        'second control stream',
        async (p) => {
          await p.send(false, CLIENT_CONTROL);
          await p.send(false, CLIENT_CONTROL);
        },
        0x103,
      ],
      ['DATA on the control stream', (p) => p.send(false, concatBytes([CLIENT_CONTROL, h3Frame(0x00, new Uint8Array(4))])), 0x105],
      ['HTTP/2-only setting', (p) => p.send(false, concatBytes([encodeVarint(0), h3Frame(0x04, concatBytes([encodeVarint(0x02), encodeVarint(1)]))])), 0x109],
      ['QPACK reference to the dynamic table', (p) => p.send(true, h3Frame(0x01, Uint8Array.of(0x02, 0x00, 0x80))), 0x200],
      ['bad Huffman string', (p) => p.send(true, h3Frame(0x01, Uint8Array.of(0x00, 0x00, 0x5f, 0x1d, 0x83, 0x00, 0x00, 0x00))), 0x200],
      ['DATA before HEADERS', (p) => p.send(true, h3Frame(0x00, new Uint8Array(8))), 0x105],
      ['frame larger than 64 KiB', (p) => p.send(true, concatBytes([encodeVarint(0x01), encodeVarint(1 << 20), new Uint8Array(100)])), 0x107],
      ['closing the control stream', (p) => p.send(false, CLIENT_CONTROL, true), 0x104],
    ];
    for (const [what, act, code] of cases) {
      const info = await closedBy(act);
      expect({ what, app: info.app, code: info.code }).toEqual({ what, app: true, code });
    }
    // The viewer never noticed.
    await waitFor(async () => (await viewerFrames()) > before + 20, { timeoutMs: 10_000, what: 'viewer frames during malformed input' });
    expect(relay.quicStats!.connections).toBe(1);
  }, 60_000);

  it('refuses bad CONNECTs with an HTTP status on their stream, keeping the connection', async () => {
    const p = await H3Probe.dial(host, udpPort);
    await p.send(false, CLIENT_CONTROL);
    const authority = `${host}:${udpPort}`;
    const noToken = await p.send(true, connectRequest(authority, '/fuzz'));
    const badToken = await p.send(true, connectRequest(authority, '/fuzz?jwt=forged.token.here'));
    const otherRoom = await p.send(true, connectRequest(authority, `/elsewhere?jwt=${token('fuzz')}`));
    const wrongProtocol = await p.send(
      true,
      headersFrame([
        [':method', 'CONNECT'],
        [':protocol', 'websocket'],
        [':scheme', 'https'],
        [':authority', authority],
        [':path', '/'],
      ]),
    );
    const get = await p.send(
      true,
      headersFrame([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', authority],
        [':path', '/'],
      ]),
      true,
    );
    await waitFor(() => [noToken, badToken, otherRoom, wrongProtocol, get].every((id) => p.status(id) !== undefined), { timeoutMs: 5000, what: 'responses' });
    expect([noToken, badToken, otherRoom, wrongProtocol, get].map((id) => p.status(id))).toEqual([401, 401, 403, 400, 404]);
    // The same connection then opens a valid session.
    const ok = await p.send(true, connectRequest(authority, `/fuzz?jwt=${token('fuzz')}`));
    await waitFor(() => p.status(ok) !== undefined, { timeoutMs: 5000, what: 'session response' });
    expect(p.status(ok)).toBe(200);
    expect(p.headers(ok)).toContainEqual(['wt-protocol', '"moq-lite-04"']);
    expect(p.closedInfo).toBeUndefined();
    p.close();
    await p.closed;
  }, 30_000);

  it('survives streams reset mid-way (request, WebTransport uni and bidi) without closing the connection', async () => {
    const p = await H3Probe.dial(host, udpPort);
    await p.send(false, CLIENT_CONTROL);
    const authority = `${host}:${udpPort}`;
    const session = await p.send(true, connectRequest(authority, `/fuzz?jwt=${token('fuzz')}`));
    await waitFor(() => p.status(session) === 200, { timeoutMs: 5000, what: 'session' });
    const opened = relay.stats.sessionsTotalByTransport['webtransport-h3'] ?? 0;
    // Half a HEADERS frame, then RESET_STREAM.
    const half = await p.send(true, connectRequest(authority, '/x').subarray(0, 6));
    p.conn.resetStream(half, 0x10c);
    // A WebTransport uni stream: header, a partial moq-lite group header, then reset.
    const uni = await p.send(false, concatBytes([encodeVarint(0x54), encodeVarint(session), Uint8Array.of(0x00, 0x40)]));
    p.conn.resetStream(uni, 0x52e4a40fa8db);
    // A WebTransport bidi stream: signal, session, partial moq-lite control message, then reset.
    const bidi = await p.send(true, concatBytes([encodeVarint(0x41), encodeVarint(session), Uint8Array.of(0x02, 0x05, 0x00)]));
    p.conn.resetStream(bidi, 0x52e4a40fa8db);
    p.conn.stopReading(bidi, 0x52e4a40fa8db);
    // A stream for a session that does not exist is refused on its own.
    await p.send(false, concatBytes([encodeVarint(0x54), encodeVarint(4000), new Uint8Array(10)]));
    await new Promise((r) => setTimeout(r, 300));
    expect(p.closedInfo).toBeUndefined();
    expect(relay.stats.sessionsByTransport['webtransport-h3']).toBeGreaterThanOrEqual(2);
    expect(opened).toBeGreaterThanOrEqual(1);
    p.close();
    await p.closed;
  }, 30_000);

  it('drops thousands of junk and truncated datagrams while the viewer keeps receiving; memory stays bounded', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    // Only the viewer's connection is open.
    await waitFor(() => relay.quicStats!.connections === 1, { timeoutMs: 5000, what: 'probe connections closed' });
    const rssBefore = process.memoryUsage().rss;
    const framesBefore = await viewerFrames();
    const stats = relay.quicStats!;
    const droppedBefore = stats.datagramsDropped;
    const send = (b: Uint8Array) => new Promise<void>((r) => sock.send(b, udpPort, host, () => r()));
    const started = Date.now();
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      const batch: Array<Promise<void>> = [];
      for (let i = 0; i < 250; i++) {
        const kind = i % 5;
        let b: Uint8Array;
        if (kind === 0)
          b = crypto.randomBytes(1 + (i % 1400)); // Pure junk.
        else if (kind === 1)
          b = concatBytes([Uint8Array.of(0x40 | (i & 0x3f)), crypto.randomBytes(20), crypto.randomBytes(30)]); // Short header, unknown CID.
        else if (kind === 2)
          b = concatBytes([Uint8Array.of(0xc0, 0, 0, 0, 1, 8), crypto.randomBytes(8), Uint8Array.of(8), crypto.randomBytes(8 + (i % 20))]); // Truncated Initial.
        else if (kind === 3)
          b = concatBytes([
            Uint8Array.of(0xc0, 0, 0, 0, 1, 8),
            crypto.randomBytes(8),
            Uint8Array.of(8),
            crypto.randomBytes(8),
            Uint8Array.of(0x08),
            crypto.randomBytes(8),
            crypto.randomBytes(1200),
          ]); // Initial with a forged Retry token.
        else b = concatBytes([Uint8Array.of(0xc0, 0xba, 0xba, 0xba, 0xba, 8), crypto.randomBytes(8), Uint8Array.of(8), crypto.randomBytes(1220)]); // Unknown version.
        batch.push(send(b));
        sent++;
      }
      await Promise.all(batch);
      await new Promise((r) => setImmediate(r));
    }
    const attackMs = Date.now() - started;
    await waitFor(() => stats.datagramsDropped - droppedBefore >= sent * 0.5, { timeoutMs: 5000, what: 'junk counted' });
    sock.close();
    // No state was kept for any of it; the viewer kept receiving through it.
    expect(stats.connections).toBe(1);
    await waitFor(async () => (await viewerFrames()) >= framesBefore + 30, {
      timeoutMs: 10_000,
      what: `viewer frames after ${sent} junk datagrams in ${attackMs} ms`,
    });
    expect(stats.versionNegotiations).toBeGreaterThan(0);
    // Every real client went through a stateless Retry; the forged tokens were refused without state.
    expect(stats.retriesSent).toBeGreaterThan(0);
    expect(stats.connectionsRefused).toBeGreaterThan(0);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(relay.stats.protocolViolations).toBe(0);
  }, 60_000);

  it('drain sends GOAWAY and a DRAIN capsule; shutdown then closes every connection at once with H3_NO_ERROR, before any session close capsule', async () => {
    const other = await startRelay({ requireAuth: true }, undefined, 'drain');
    const port = Number(new URL(other.addresses.http3Url!).port);
    const p = await H3Probe.dial(host, port);
    await p.send(false, CLIENT_CONTROL);
    const session = await p.send(true, connectRequest(`${host}:${port}`, `/fuzz?jwt=${token('fuzz')}`));
    await waitFor(() => p.status(session) === 200, { timeoutMs: 5000, what: 'session' });
    const connectStream = () => Buffer.concat(p.received.get(session) ?? []);
    other.drain();
    // The server's control stream (its first unidirectional stream, id 3): type 0, SETTINGS, then GOAWAY (0x07).
    await waitFor(() => Buffer.concat(p.received.get(3) ?? []).includes(Buffer.from([0x07, 0x01])), { timeoutMs: 5000, what: 'GOAWAY' });
    expect(Buffer.concat(p.received.get(3) ?? [])[0]).toBe(0x00);
    // DRAIN_WEBTRANSPORT_SESSION (0x78ae → varint 0x80 0x00 0x78 0xae) in a DATA frame on the CONNECT stream.
    await waitFor(() => connectStream().includes(Buffer.from([0x80, 0x00, 0x78, 0xae])), { timeoutMs: 5000, what: 'the DRAIN capsule' });
    await other.close();
    const info = await p.closed;
    expect({ app: info.app, code: info.code }).toEqual({ app: true, code: 0x100 });
    // No CLOSE_WEBTRANSPORT_SESSION (0x2843 → varint 0x68 0x43) ahead of the CONNECTION_CLOSE: a close
    // capsule with the connection still up crashed Chromium's tab (docs/moq.md, "Shutdown").
    expect(connectStream().includes(Buffer.from([0x68, 0x43]))).toBe(false);
  }, 30_000);

  it('refuses connections past the per-address limit while those already open carry on', async () => {
    const limited = await startRelay({ requireAuth: true, http3: { maxConnectionsPerAddress: 2 } }, undefined, 'limited');
    const port = Number(new URL(limited.addresses.http3Url!).port);
    const open = [await H3Probe.dial(host, port), await H3Probe.dial(host, port)];
    try {
      await expect(H3Probe.dial(host, port, ['h3'], 1500)).rejects.toThrow(/no handshake/);
      expect(limited.quicStats!.connectionsRefused).toBeGreaterThan(0);
      expect(limited.quicStats!.connections).toBe(2);
      // The open ones still work: a session on the first.
      await open[0]!.send(false, CLIENT_CONTROL);
      const s = await open[0]!.send(true, connectRequest(`${host}:${port}`, `/fuzz?jwt=${token('fuzz')}`));
      await waitFor(() => open[0]!.status(s) === 200, { timeoutMs: 5000, what: 'session under the limit' });
    } finally {
      for (const p of open) p.close();
      await limited.close();
    }
  }, 30_000);
});
