/**
 * Networking for real deployments, end to end: Debian's coturn started by the test on a free
 * port on 127.0.0.1 with the REST-API shared secret, the node handing out time-limited TURN
 * credentials with tokens, and Chromium forced to `iceTransportPolicy: 'relay'` still receiving
 * (and sending) media — once with per-transport ports and once through a WebRtcServer, where
 * every WebRTC transport of a worker shares one UDP and one TCP port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { TurnCredentials } from '../../src/turn/TurnCredentials';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';

const SECRET = crypto.randomBytes(18).toString('base64url');
const ADMIN = 'subsec-dev-admin-key';

/** A port free for both UDP and TCP on 127.0.0.1. */
async function freePort(): Promise<number> {
  for (;;) {
    const tcp = net.createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, '127.0.0.1', () => r(true));
    });
    udp.close();
    await new Promise<void>((r) => tcp.close(() => r()));
    if (ok) return port;
  }
}

/** True when a STUN Binding request to host:port gets a success response. */
function stunAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0);
    req.writeUInt32BE(0x2112a442, 4);
    crypto.randomBytes(12).copy(req, 8);
    const t = setTimeout(() => done(false), 300);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.close();
      resolve(v);
    };
    s.on('message', (m) => done(m.readUInt16BE(0) === 0x0101));
    s.on('error', () => done(false));
    s.send(req, port, '127.0.0.1');
  });
}

let coturn: ChildProcess;
let coturnLog = '';
let turnPort: number;
let tmp: string;
let browser: BrowserContext;
let clientBundle: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-turn-'));
  turnPort = await freePort();
  coturn = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      `--listening-port=${turnPort}`,
      '--relay-ip=127.0.0.1',
      '--min-port=50000',
      '--max-port=50999',
      '--use-auth-secret',
      `--static-auth-secret=${SECRET}`,
      '--realm=subsec.test',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--allow-loopback-peers',
      '--no-software-attribute',
      '--log-file=stdout',
      '--simple-log',
      '--verbose',
      `--pidfile=${tmp}/turnserver.pid`,
      `--userdb=${tmp}/turndb`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  coturn.stdout!.on('data', (d) => (coturnLog += d.toString()));
  coturn.stderr!.on('data', (d) => (coturnLog += d.toString()));
  await waitFor(() => stunAnswers(turnPort), { what: `coturn answering STUN on ${turnPort}`, timeoutMs: 10_000, intervalMs: 100 });

  // The browser side: mediasoup-client bundled for the page (the same library the SDK builds on).
  const bundled = await build({
    stdin: { contents: "export { Device } from 'mediasoup-client';", resolveDir: projectRoot },
    bundle: true,
    format: 'iife',
    globalName: 'msc',
    write: false,
    logLevel: 'silent',
  });
  clientBundle = bundled.outputFiles[0]!.text;
  browser = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
    ],
  });
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  coturn?.kill('SIGTERM');
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface PageArgs {
  wsUrl: string;
  token: string;
  iceServers: RTCIceServer[];
}

/** In the page: join, consume the synthetic video and publish the fake camera, relay-only. */
async function relaySession({ wsUrl, token, iceServers }: PageArgs): Promise<{ peerId: string }> {
  const w = window as any;
  const ws = new WebSocket(wsUrl);
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = rej;
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new Error(`${msg.error.code} ${msg.error.message}`));
  };
  const call = (method: string, params?: unknown): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  const join = await call('join', { protocol: 1, token });
  const device = new w.msc.Device();
  await device.load({ routerRtpCapabilities: join.routerRtpCapabilities });
  await call('setRtpCapabilities', { rtpCapabilities: device.rtpCapabilities });
  const transport = async (direction: 'send' | 'recv') => {
    const p = await call('createTransport', { direction });
    const options = {
      id: p.transportId,
      iceParameters: p.iceParameters,
      iceCandidates: p.iceCandidates,
      dtlsParameters: p.dtlsParameters,
      iceServers,
      iceTransportPolicy: 'relay',
    };
    const t = direction === 'recv' ? device.createRecvTransport(options) : device.createSendTransport(options);
    t.on('connect', ({ dtlsParameters }: any, ok: () => void, fail: (e: Error) => void) =>
      call('connectTransport', { transportId: t.id, dtlsParameters }).then(ok, fail),
    );
    t.on('produce', ({ kind, rtpParameters }: any, ok: (r: { id: string }) => void, fail: (e: Error) => void) =>
      call('produce', { transportId: t.id, kind, rtpParameters }).then(({ producerId }) => ok({ id: producerId }), fail),
    );
    return t;
  };
  const recv = await transport('recv');
  const source = join.producers.find((p: any) => p.kind === 'video');
  const c = await call('consume', { transportId: recv.id, producerId: source.producerId });
  const consumer = await recv.consume({ id: c.consumerId, producerId: c.producerId, kind: c.kind, rtpParameters: c.rtpParameters });
  const video = document.createElement('video');
  video.muted = true;
  video.srcObject = new MediaStream([consumer.track]);
  document.body.appendChild(video);
  void video.play().catch(() => undefined);
  await call('resumeConsumer', { consumerId: c.consumerId });
  w.__consumer = consumer;
  const send = await transport('send');
  const camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  w.__producer = await send.produce({ track: camera.getVideoTracks()[0] });
  return { peerId: join.peerId };
}

/** In the page: frames decoded by the consumer and the candidate types of both selected pairs. */
async function relayStats(): Promise<{ framesDecoded: number; recvLocal?: string; sendLocal?: string }> {
  const w = window as any;
  const localType = (report: RTCStatsReport): string | undefined => {
    let pairId: string | undefined;
    report.forEach((s: any) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair: any = pairId ? report.get(pairId) : undefined;
    return pair ? (report.get(pair.localCandidateId) as any)?.candidateType : undefined;
  };
  const recv: RTCStatsReport = await w.__consumer.getStats();
  let framesDecoded = 0;
  recv.forEach((s: any) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded = s.framesDecoded ?? 0;
  });
  const send: RTCStatsReport | undefined = w.__producer ? await w.__producer.getStats() : undefined;
  return { framesDecoded, recvLocal: localType(recv), sendLocal: send ? localType(send) : undefined };
}

for (const mode of ['per-transport ports', 'WebRtcServer'] as const) {
  describe(`TURN relay with ${mode}`, () => {
    let node: SubsecNode;

    beforeAll(async () => {
      node = await startNode({
        turn: {
          enabled: true,
          urls: [`turn:127.0.0.1:${turnPort}?transport=udp`, `turn:127.0.0.1:${turnPort}?transport=tcp`],
          secret: SECRET,
          credentialTtlSeconds: 600,
        },
        sfu: { webRtcServer: { enabled: mode === 'WebRtcServer', port: 0 } },
        synthetic: { enabled: true, room: 'turn', width: 320, height: 180, fps: 15, bitrateKbps: 300 },
      });
      await waitFor(() => node.rooms.get('turn')?.producerInfos().length === 2, { what: 'synthetic source' });
    });
    afterAll(async () => {
      await node?.close();
    });

    it('hands out coturn REST-API credentials with tokens', async () => {
      const res = await fetch(`${node.url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'turn', identity: 'browser', canPublish: true }),
      });
      const body = await res.json();
      const turn = body.iceServers[0];
      expect(turn.urls).toEqual([`turn:127.0.0.1:${turnPort}?transport=udp`, `turn:127.0.0.1:${turnPort}?transport=tcp`]);
      const [expiry, identity] = turn.username.split(':');
      expect(identity).toBe('browser');
      expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(590);
      expect(turn.credential).toBe(crypto.createHmac('sha1', SECRET).update(turn.username).digest('base64'));
    });

    if (mode === 'WebRtcServer') {
      it('gives every WebRTC transport of a worker the same UDP and TCP port', async () => {
        const c = await SignalingTestClient.connect(node.url);
        try {
          await c.call('join', { protocol: 1, token: node.tokens.issue({ room: 'ports', identity: 'p', canPublish: true }) });
          const a = await c.call('createTransport', { direction: 'send' });
          const b = await c.call('createTransport', { direction: 'recv' });
          const ports = (t: any, proto: string) => t.iceCandidates.filter((x: any) => x.protocol === proto).map((x: any) => x.port);
          expect(ports(a, 'udp')).toHaveLength(1);
          expect(ports(a, 'udp')).toEqual(ports(b, 'udp'));
          expect(ports(a, 'tcp')).toEqual(ports(b, 'tcp'));
          const nodes = await (await fetch(`${node.url}/v1/nodes`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
          expect(nodes.nodes[0].webRtcServers).toEqual([
            { pid: expect.any(Number), udp: [`127.0.0.1:${ports(a, 'udp')[0]}`], tcp: [`127.0.0.1:${ports(a, 'tcp')[0]}`] },
          ]);
        } finally {
          c.close();
        }
      });
    }

    it('Chromium forced to relay-only receives and sends media through coturn', async () => {
      const identity = `browser-${mode === 'WebRtcServer' ? 'wrs' : 'ports'}`;
      const tokenRes = await fetch(`${node.url}/v1/tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'turn', identity, canPublish: true }),
      });
      const { token, iceServers } = await tokenRes.json();
      const page = await browser.newPage();
      try {
        await page.goto(`${node.url}/healthz`);
        await page.addScriptTag({ content: clientBundle });
        await page.evaluate(relaySession, { wsUrl: node.url.replace(/^http/, 'ws') + '/ws', token, iceServers });
        const stats = await waitFor(
          async () => {
            const s = await page.evaluate(relayStats);
            return s.framesDecoded > 10 && s.recvLocal && s.sendLocal ? s : undefined;
          },
          { what: 'frames decoded over the relay', timeoutMs: 25_000, intervalMs: 250 },
        );
        expect(stats.recvLocal).toBe('relay');
        expect(stats.sendLocal).toBe('relay');
        // The browser's camera arrives at the SFU too (through the relay).
        const streams = await waitFor(
          async () => {
            const r = await (await fetch(`${node.url}/v1/streams/turn/${identity}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
            return r.bitrateBps > 0 ? r : undefined;
          },
          { what: 'browser stream bitrate at the SFU', timeoutMs: 15_000, intervalMs: 300 },
        );
        expect(streams.tracks[0].kind).toBe('video');
        // coturn saw allocations by the identity the node issued the credential for.
        expect(coturnLog).toMatch(new RegExp(`user <\\d+:${identity}>: incoming packet ALLOCATE processed, success`));
      } finally {
        await page.close();
      }
    });
  });
}

describe('TURN credentials', () => {
  it('are refused by coturn when signed with another secret', async () => {
    const bad = new TurnCredentials({ urls: [`turn:127.0.0.1:${turnPort}?transport=udp`], secret: 'not-the-coturn-secret', ttlSeconds: 600 });
    const page = await browser.newPage();
    try {
      await page.goto('about:blank');
      const result = await page.evaluate(async (iceServers) => {
        const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
        const errors: number[] = [];
        const relays: string[] = [];
        pc.onicecandidateerror = (e: any) => errors.push(e.errorCode);
        pc.onicecandidate = (e) => {
          if (e.candidate?.type === 'relay') relays.push(e.candidate.candidate);
        };
        pc.createDataChannel('x');
        await pc.setLocalDescription(await pc.createOffer());
        const t0 = Date.now();
        while (Date.now() - t0 < 8000 && pc.iceGatheringState !== 'complete' && errors.length === 0) await new Promise((r) => setTimeout(r, 50));
        pc.close();
        return { errors, relays };
      }, bad.iceServers('mallory'));
      expect(result.relays).toEqual([]);
      expect(result.errors).toContain(401);
    } finally {
      await page.close();
    }
  });
});
