/**
 * MPEG-TS over UDP: ffmpeg (`-f mpegts udp://…`) sends H264 + AAC to a configured listener and
 * the stream is published (WHEP gets H264 and Opus); garbage datagrams and a second sender are
 * counted and dropped without disturbing it; a silent sender ends the stream and a new one
 * starts it again; video other than H264 ends with its reason.
 */
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { NodeWhepViewer, tokenFor } from '../helpers/whipWhep';
import { startTestPattern, TEST_H264 } from '../helpers/testPatternEncoder';
import { metricSum, metricsText } from '../helpers/metrics';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;
const senders: ChildProcess[] = [];

function sender(port: number, video: string[] = TEST_H264, host = '127.0.0.1', query = ''): ChildProcess {
  const proc = startTestPattern(['-f', 'mpegts', `udp://${host}:${port}?pkt_size=1316${query}`], { video, loglevel: 'error' });
  senders.push(proc);
  return proc;
}

const metric = async (name: string, labels: Record<string, string> = {}) => metricSum(await metricsText(node.url), name, labels);

beforeAll(async () => {
  node = await startNode({
    mpegts: {
      enabled: true,
      idleTimeoutMs: 1000,
      retryAfterMs: 500,
      probeTimeoutMs: 5000,
      listeners: [
        { port: 0, room: 'ts', stream: 'main' },
        { port: 0, room: 'ts', stream: 'other' },
        { port: 0, room: 'ts', stream: 'dual', role: 'primary' },
        { port: 0, room: 'ts', stream: 'dual', role: 'backup' },
      ],
    },
    ingest: { backup: { stallMs: 1000, returnAfterMs: 1000 } },
  });
}, 60_000);

afterEach(() => {
  for (const s of senders.splice(0)) if (s.exitCode === null) s.kill('SIGKILL');
});

afterAll(async () => {
  await node?.close();
});

describe('MPEG-TS over UDP', () => {
  it('publishes an ffmpeg MPEG-TS sender; garbage and a second sender are counted and dropped; silence ends it and it comes back', async () => {
    const port = node.mpegts!.listeners[0]!.port;
    const first = sender(port);
    await waitFor(() => node.rooms.get('ts')?.producersOf('main').length === 2, { what: 'video and audio producers', timeoutMs: 15_000 });
    const kinds = node.rooms
      .get('ts')!
      .producersOf('main')
      .map((p) => `${p.kind}:${p.rtpParameters.codecs[0]!.mimeType}`)
      .sort();
    expect(kinds).toEqual(['audio:audio/opus', 'video:video/H264']);
    const viewer = new NodeWhepViewer();
    try {
      expect((await viewer.start(`${node.url}/whep/ts/main`, tokenFor(node, { room: 'ts', identity: 'v' }))).status).toBe(201);
      await waitFor(() => viewer.packets.video > 30 && viewer.packets.audio > 20, { what: 'H264 and Opus at the viewer', timeoutMs: 15_000 });

      // Garbage: wrong sizes, right size without sync bytes.
      const junk = dgram.createSocket('udp4');
      const garbage = [Buffer.from('hello'), Buffer.alloc(188 * 7, 0x11), Buffer.alloc(1000, 0x47)];
      for (let i = 0; i < 90; i++) junk.send(garbage[i % 3]!, port, '127.0.0.1');
      await waitFor(async () => (await metric('subsec_mpegts_datagrams_total', { result: 'garbage' })) >= 80, { what: 'garbage counted' });
      // Valid TS from a second sender: dropped, the first keeps the stream.
      const ts = Buffer.alloc(188 * 7, 0xff);
      for (let i = 0; i < 7; i++) ts[i * 188] = 0x47;
      for (let i = 0; i < 30; i++) junk.send(ts, port, '127.0.0.1');
      await waitFor(async () => (await metric('subsec_mpegts_datagrams_total', { result: 'foreign' })) >= 25, { what: 'foreign counted' });
      junk.close();
      const seen = viewer.packets.video;
      await waitFor(() => viewer.packets.video > seen + 30, { what: 'stream unaffected' });
    } finally {
      viewer.close();
    }

    // Silence ends the stream; a new sender starts it again.
    first.kill('SIGKILL');
    await waitFor(() => (node.rooms.get('ts')?.producersOf('main').length ?? 0) === 0, { what: 'stream ended on silence', timeoutMs: 10_000 });
    expect(await metric('subsec_mpegts_streams_ended_total', { reason: 'idle' })).toBe(1);
    sender(port);
    await waitFor(() => node.rooms.get('ts')?.producersOf('main').length === 2, { what: 'stream back', timeoutMs: 15_000 });
  }, 90_000);

  it('ends a stream whose video is not H264 with the reason, and leaves the other listener alone', async () => {
    const port = node.mpegts!.listeners[1]!.port;
    sender(port, ['-c:v', 'mpeg2video']);
    await waitFor(async () => (await metric('subsec_mpegts_streams_ended_total', { reason: 'unsupported-media' })) >= 1, {
      what: 'MPEG-2 refused',
      timeoutMs: 15_000,
    });
    expect(node.rooms.get('ts')?.producersOf('other').length ?? 0).toBe(0);
    // While the sender keeps going, retries are paused between attempts (datagrams dropped).
    await waitFor(async () => (await metric('subsec_mpegts_datagrams_total', { result: 'dropped' })) > 0, { what: 'paused datagrams dropped' });
  }, 60_000);

  it('joins a configured multicast group and publishes what is sent to it', async () => {
    const group = `239.255.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
    const mc = await startNode({
      mpegts: { enabled: true, listeners: [{ port: 0, multicastGroup: group, multicastInterface: '127.0.0.1', room: 'mc', stream: 'feed' }] },
    });
    try {
      sender(mc.mpegts!.listeners[0]!.port, undefined, group, '&localaddr=127.0.0.1&ttl=0');
      await waitFor(() => mc.rooms.get('mc')?.producersOf('feed').length === 2, { what: 'multicast stream live', timeoutMs: 15_000 });
    } finally {
      for (const s of senders.splice(0)) s.kill('SIGKILL');
      await mc.close();
    }
  }, 60_000);

  it('two listeners as primary and backup of one stream: a WHEP viewer carries on from the backup when the primary sender stops, and returns', async () => {
    const [primaryPort, backupPort] = [node.mpegts!.listeners[2]!.port, node.mpegts!.listeners[3]!.port];
    const live = () => node.backups.get('ts', 'dual').live;
    // A backup without its primary is refused (and tried again later).
    const early = sender(backupPort);
    await waitFor(async () => (await metric('subsec_ingest_backup_refused_total', { reason: 'no-primary' })) >= 1, {
      what: 'the backup refused',
      timeoutMs: 10_000,
    });
    let primary = sender(primaryPort);
    await waitFor(() => node.backups.list().some((v) => v.stream === 'dual' && v.live === 'primary'), { what: 'the primary live', timeoutMs: 15_000 });
    await waitFor(() => node.backups.get('ts', 'dual').inputs.some((i) => i.role === 'backup' && i.connected), {
      what: 'the backup connected',
      timeoutMs: 15_000,
    });
    const viewer = new NodeWhepViewer();
    try {
      expect((await viewer.start(`${node.url}/whep/ts/dual`, tokenFor(node, { room: 'ts', identity: 'dual-viewer' }))).status).toBe(201);
      await waitFor(() => viewer.packets.video > 30, { what: 'the viewer receiving the primary', timeoutMs: 15_000 });
      primary.kill('SIGKILL');
      await waitFor(() => live() === 'backup', { what: 'the backup live', timeoutMs: 10_000 });
      const onBackup = viewer.packets.video;
      await waitFor(() => viewer.packets.video > onBackup + 30, { what: 'the viewer receiving the backup', timeoutMs: 15_000 });
      primary = sender(primaryPort);
      await waitFor(() => live() === 'primary', { what: 'the return to the primary', timeoutMs: 20_000 });
      const onPrimary = viewer.packets.video;
      await waitFor(() => viewer.packets.video > onPrimary + 30, { what: 'the viewer receiving the primary again', timeoutMs: 15_000 });
      expect(viewer.state).toBe('connected');
      expect(early.exitCode).toBeNull(); // the same backup sender throughout
    } finally {
      viewer.close();
    }
  }, 90_000);
});
