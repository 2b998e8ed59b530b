/**
 * RTMP ingest with real ffmpeg publishers: H264+AAC into a room (WHEP viewer gets H264 and Opus
 * RTP, SDK peers see the feed, QoE reports the encoder's key frame interval), refusals with an
 * onStatus error + log line + metric by reason (bad key, tokens, grants, a ban, a second
 * publisher), hostile clients (junk, truncated handshakes, oversized and malformed messages,
 * enhanced-RTMP HEVC, stalls) that hurt no other publisher, RTMPS, and no ffmpeg left behind.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { NodeWhepViewer, tokenFor } from '../helpers/whipWhep';
import { metricSumOrZero, metricsText } from '../helpers/metrics';
import { RawRtmpClient } from '../helpers/rawRtmp';
import { exited, startTestPattern } from '../helpers/testPatternEncoder';
import { MSG } from '../../src/ingest/rtmp/chunks';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;
const publishers: ChildProcess[] = [];
const raw: RawRtmpClient[] = [];
const logLines: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

/** An ffmpeg RTMP publisher pushing a test pattern (H264 + AAC unless told otherwise). */
function publisher(url: string, opts: { video?: string[]; seconds?: number } = {}): ChildProcess & { log: string } {
  const proc = startTestPattern(['-f', 'flv', url], opts);
  publishers.push(proc);
  return proc;
}

const rtmpUrl = (room: string, stream: string, token: string, app = 'live') => `rtmp://127.0.0.1:${node.rtmp!.port}/${app}/${room}/${stream}?token=${token}`;
const pub = (room: string, stream: string) => tokenFor(node, { room, identity: stream, canPublish: true });
/** A counter's value by labels; 0 for a label set not counted yet, but the metric itself must exist. */
const metric = async (name: string, labels: Record<string, string> = {}) => metricSumOrZero(await metricsText(node.url), name, labels);

/** The node's ffmpeg ingest processes still running. */
function ingestChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).trim();
  return out.split('\n').filter((l) => l.includes('pipe:0'));
}

beforeAll(async () => {
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logLines.push(String(chunk));
    return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  node = await startNode({
    rtmp: { enabled: true, port: 0, publishTimeoutMs: 2000, idleTimeoutMs: 1500, probeTimeoutMs: 5000, maxMessageBytes: 1_000_000 },
    qoe: { enabled: true, ingestSampleIntervalMs: 1000 },
    logLevel: 'warn',
  });
}, 60_000);

afterEach(() => {
  for (const p of publishers.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
  for (const c of raw.splice(0)) c.close();
});

afterAll(async () => {
  await node?.close();
  process.stderr.write = realWrite;
  expect(ingestChildren()).toEqual([]);
});

describe('RTMP ingest', () => {
  it('publishes H264+AAC from ffmpeg; WHEP gets H264 and Opus; peers see it; QoE gets the key frame interval; it ends cleanly', async () => {
    const peer = await SignalingTestClient.connect(node.url);
    const viewer = new NodeWhepViewer();
    try {
      await peer.call('join', { protocol: 1, token: tokenFor(node, { room: 'rtmp1', identity: 'watcher' }) });
      const enc = publisher(rtmpUrl('rtmp1', 'enc', pub('rtmp1', 'enc')));
      await waitFor(() => node.rooms.get('rtmp1')?.producersOf('enc').length === 2, { what: 'video and audio producers', timeoutMs: 15_000 });
      const kinds = node.rooms
        .get('rtmp1')!
        .producersOf('enc')
        .map((p) => `${p.kind}:${p.rtpParameters.codecs[0]!.mimeType}`)
        .sort();
      expect(kinds).toEqual(['audio:audio/opus', 'video:video/H264']);
      expect(peer.notifications.some((n) => n.notification === 'peerJoined' && n.data.identity === 'enc')).toBe(true);
      expect(node.rooms.get('rtmp1')!.participants.find((p) => p.identity === 'enc')?.kind).toBe('rtmp');

      const r = await viewer.start(`${node.url}/whep/rtmp1/enc`, tokenFor(node, { room: 'rtmp1', identity: 'v' }));
      expect(r.status, r.body).toBe(201);
      await waitFor(() => viewer.packets.video > 30 && viewer.packets.audio > 20, { what: 'H264 and Opus RTP at the viewer', timeoutMs: 15_000 });

      // -g 15 at 15 fps: one key frame a second, read from the RTP timestamps ffmpeg carried over.
      await waitFor(async () => (await metric('subsec_qoe_ingest_keyframe_interval_seconds', { room: 'rtmp1', stream: 'enc' })) > 0, {
        what: 'key frame interval in QoE',
        timeoutMs: 15_000,
      });
      expect(await metric('subsec_qoe_ingest_keyframe_interval_seconds', { room: 'rtmp1', stream: 'enc' })).toBeCloseTo(1, 1);
      expect(await metric('subsec_rtmp_publishers')).toBe(1);

      enc.kill('SIGINT');
      await exited(enc);
      await waitFor(() => (node.rooms.get('rtmp1')?.producersOf('enc').length ?? 0) === 0, { what: 'feed gone', timeoutMs: 10_000 });
      await waitFor(() => peer.notifications.some((n) => n.notification === 'peerLeft'), { what: 'peerLeft' });
      expect(
        (await metric('subsec_rtmp_sessions_ended_total', { reason: 'unpublished' })) +
          (await metric('subsec_rtmp_sessions_ended_total', { reason: 'publisher-left' })),
      ).toBe(1);
    } finally {
      viewer.close();
      peer.close();
    }
  }, 60_000);

  it('refuses bad keys, tokens, grants, a banned identity and a second publisher with onStatus errors, log lines and metrics', async () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['no token', `rtmp://127.0.0.1:${node.rtmp!.port}/live/rtmp2/cam`, 'bad-key', /stream key has no token/],
      ['wrong app', rtmpUrl('rtmp2', 'cam', pub('rtmp2', 'cam'), 'vod'), 'bad-key', /unknown application "vod"/],
      ['garbled token', rtmpUrl('rtmp2', 'cam', 'x.y.z'), 'unauthorized', /malformed token/],
      ['expired token', rtmpUrl('rtmp2', 'cam', tokenFor(node, { room: 'rtmp2', identity: 'cam', canPublish: true }, -10)), 'unauthorized', /token expired/],
      [
        'other room',
        rtmpUrl('rtmp2', 'cam', tokenFor(node, { room: 'elsewhere', identity: 'cam', canPublish: true })),
        'forbidden',
        /not valid for room rtmp2/,
      ],
      ['no canPublish', rtmpUrl('rtmp2', 'cam', tokenFor(node, { room: 'rtmp2', identity: 'cam' })), 'forbidden', /does not allow publishing/],
      [
        'other identity',
        rtmpUrl('rtmp2', 'cam', tokenFor(node, { room: 'rtmp2', identity: 'bob', canPublish: true })),
        'forbidden',
        /may not publish stream "cam"/,
      ],
    ];
    for (const [what, url, reason, message] of cases) {
      const before = await metric('subsec_rtmp_rejected_total', { reason });
      const p = publisher(url);
      expect(await exited(p, 10_000), what).not.toBe(0);
      // ffmpeg prints the onStatus description it got ("Server error: ...").
      expect(p.log, what).toMatch(message);
      expect(await metric('subsec_rtmp_rejected_total', { reason }), what).toBe(before + 1);
    }
    expect(logLines.join('')).toMatch(/RTMP publisher refused .*code=NetStream.Publish.BadName reason=stream key has no token/);

    // A banned identity, even with a fresh token.
    await node.moderation.ban({ room: 'rtmp2', identity: 'troll', seconds: 60, reason: 'banned' });
    const banned = publisher(rtmpUrl('rtmp2', 'troll', pub('rtmp2', 'troll')));
    expect(await exited(banned, 10_000)).not.toBe(0);
    expect(await metric('subsec_rtmp_rejected_total', { reason: 'banned' })).toBe(1);

    // A second publisher for a live stream is refused; the first carries on.
    publisher(rtmpUrl('rtmp2', 'cam', pub('rtmp2', 'cam')));
    await waitFor(() => node.rooms.get('rtmp2')?.producersOf('cam').length === 2, { what: 'first publisher live', timeoutMs: 15_000 });
    const second = publisher(rtmpUrl('rtmp2', 'cam', pub('rtmp2', 'cam')));
    expect(await exited(second, 10_000)).not.toBe(0);
    expect(second.log).toMatch(/already being published/);
    expect(await metric('subsec_rtmp_rejected_total', { reason: 'conflict' })).toBe(1);
    expect(node.rtmp!.publishers.has('rtmp2/cam')).toBe(true);
    expect(node.rooms.get('rtmp2')!.producersOf('cam')).toHaveLength(2);
  }, 120_000);

  it('junk, truncated handshakes, oversized and malformed messages, HEVC and a stalled publisher never touch a healthy one', async () => {
    publisher(rtmpUrl('rtmp3', 'ok', pub('rtmp3', 'ok')));
    await waitFor(() => node.rooms.get('rtmp3')?.producersOf('ok').length === 2, { what: 'healthy feed', timeoutMs: 15_000 });
    const viewer = new NodeWhepViewer();
    try {
      expect((await viewer.start(`${node.url}/whep/rtmp3/ok`, tokenFor(node, { room: 'rtmp3', identity: 'v' }))).status).toBe(201);
      await waitFor(() => viewer.packets.video > 10, { what: 'healthy RTP' });
      const port = node.rtmp!.port;
      const closedSoon = (c: RawRtmpClient, what: string) => waitFor(() => c.closed, { what, timeoutMs: 5_000 });

      // Junk instead of a handshake (wrong version byte).
      const junk = await RawRtmpClient.connect(port);
      raw.push(junk);
      junk.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await closedSoon(junk, 'junk connection closed');
      // A handshake cut short that then stalls: closed by the publish timeout.
      const truncated = await RawRtmpClient.connect(port);
      raw.push(truncated);
      truncated.socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(700)]));
      await closedSoon(truncated, 'truncated handshake closed');
      // A message header announcing 16 MB (over maxMessageBytes).
      const oversized = await RawRtmpClient.connect(port);
      raw.push(oversized);
      oversized.handshake();
      await waitFor(() => oversized.handshaken, { what: 'handshake' });
      oversized.socket.write(Buffer.from([0x03, 0, 0, 0, 0xff, 0xff, 0xf0, 0x09, 1, 0, 0, 0, 0x17, 0x01]));
      await closedSoon(oversized, 'oversized message closed');
      // A command that is not AMF0.
      const garbled = await RawRtmpClient.connect(port);
      raw.push(garbled);
      garbled.handshake();
      await waitFor(() => garbled.handshaken, { what: 'handshake' });
      garbled.send({ typeId: MSG.COMMAND_AMF0, streamId: 0, timestamp: 0, payload: Buffer.from([0x02, 0x00, 0x07, 0x63, 0xee, 0xee]) });
      await closedSoon(garbled, 'malformed command closed');
      // Enhanced RTMP HEVC: refused with a reason once its first video tag arrives.
      const hevc = await RawRtmpClient.connect(port);
      raw.push(hevc);
      hevc.handshake();
      await waitFor(() => hevc.handshaken, { what: 'handshake' });
      hevc.publish('live', `rtmp3/hevc?token=${pub('rtmp3', 'hevc')}`);
      await waitFor(() => hevc.statuses().some((s) => s.code === 'NetStream.Publish.Start'), { what: 'HEVC publisher accepted', timeoutMs: 10_000 });
      hevc.send({ typeId: MSG.VIDEO, streamId: 1, timestamp: 0, payload: Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1'), Buffer.alloc(30)]) }, 4);
      await waitFor(() => hevc.statuses().some((s) => s.level === 'error'), { what: 'HEVC refused' });
      expect(hevc.statuses().find((s) => s.level === 'error')!.description).toMatch(/unsupported video codec HEVC \(enhanced RTMP "hvc1"\).*H264 only/);
      await closedSoon(hevc, 'HEVC publisher closed');

      // A publisher that stalls (SIGSTOP): dropped after the idle timeout.
      const stalled = publisher(rtmpUrl('rtmp3', 'stall', pub('rtmp3', 'stall')));
      await waitFor(() => node.rooms.get('rtmp3')?.producersOf('stall').length === 2, { what: 'stalling feed live', timeoutMs: 15_000 });
      stalled.kill('SIGSTOP');
      await waitFor(() => !node.rtmp!.publishers.has('rtmp3/stall'), { what: 'stalled publisher dropped', timeoutMs: 10_000 });
      stalled.kill('SIGKILL');

      for (const reason of ['bad-handshake', 'handshake-timeout', 'oversized-message', 'bad-command']) {
        expect(await metric('subsec_rtmp_connection_errors_total', { reason }), reason).toBe(1);
      }
      expect(await metric('subsec_rtmp_sessions_ended_total', { reason: 'unsupported-media' })).toBe(1);
      expect(await metric('subsec_rtmp_sessions_ended_total', { reason: 'idle' })).toBe(1);

      // The healthy publisher never noticed, and the listener takes new publishers.
      const seen = viewer.packets.video;
      await waitFor(() => viewer.packets.video > seen + 30, { what: 'healthy RTP keeps flowing' });
      expect(node.rtmp!.publishers.has('rtmp3/ok')).toBe(true);
      publisher(rtmpUrl('rtmp3', 'late', pub('rtmp3', 'late')));
      await waitFor(() => node.rooms.get('rtmp3')?.producersOf('late').length === 2, { what: 'a new publisher after the abuse', timeoutMs: 15_000 });
    } finally {
      viewer.close();
    }
  }, 120_000);

  it('RTMPS with an operator certificate', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtmps-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], {
      stdio: 'ignore',
    });
    const secure = await startNode({ rtmp: { enabled: true, port: 0, tls: { enabled: true, port: 0, certFile: cert, keyFile: key } }, logLevel: 'warn' });
    try {
      const token = tokenFor(secure, { room: 'sec', identity: 'enc', canPublish: true });
      publisher(`rtmps://127.0.0.1:${secure.rtmp!.tlsPort}/live/sec/enc?token=${token}`);
      await waitFor(() => secure.rooms.get('sec')?.producersOf('enc').length === 2, { what: 'RTMPS feed live', timeoutMs: 15_000 });
    } finally {
      for (const p of publishers.splice(0)) p.kill('SIGKILL');
      await secure.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
