/**
 * SRT ingest with real ffmpeg callers: publish H264+AAC into a room (WHEP viewer gets H264 and
 * Opus RTP, SDK peers see the feed as a peer), stream-ended notices and resume on reconnect,
 * refusals with SRT rejection codes + log + metrics, junk and stalls that hurt no other session,
 * and no ffmpeg left behind.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { NodeWhepViewer, tokenFor } from '../helpers/whipWhep';
import { exited, startTestPattern } from '../helpers/testPatternEncoder';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;
const callers: ChildProcess[] = [];
const logLines: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

/** Starts an ffmpeg SRT caller pushing a test pattern (H264 + AAC unless told otherwise). */
function srtCaller(streamId: string, opts: { video?: string[]; audio?: string[]; extra?: string; format?: string } = {}): ChildProcess & { log: string } {
  const url = `srt://127.0.0.1:${node.srt!.port}?streamid=${streamId}&latency=120000&connect_timeout=3000${opts.extra ?? ''}`;
  const proc = startTestPattern(['-f', opts.format ?? 'mpegts', url], opts);
  callers.push(proc);
  return proc;
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  // A missing family (renamed metric) fails; a declared counter without this sample yet reads 0.
  if (!text.includes(`# TYPE ${name} `)) throw new Error(`metric ${name} is not declared`);
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** ffmpeg listeners the node started that are still running. */
function listenerChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).trim();
  return out.split('\n').filter((l) => l.includes('mode=listener'));
}

const sid = (room: string, stream: string, token: string) => `#!::r=${room}/${stream},m=publish,t=${token}`;

beforeAll(async () => {
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logLines.push(String(chunk));
    return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  node = await startNode({ srt: { enabled: true, port: 0, idleTimeoutMs: 1500, probeTimeoutMs: 4000 }, logLevel: 'warn' });
}, 60_000);

afterEach(() => {
  for (const c of callers.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

afterAll(async () => {
  await node?.close();
  process.stderr.write = realWrite;
  expect(listenerChildren()).toEqual([]);
});

describe('SRT ingest', () => {
  it('publishes H264+AAC from an ffmpeg caller; WHEP gets H264 and Opus; peers see it end and resume on reconnect', async () => {
    const token = tokenFor(node, { room: 'srt1', identity: 'enc', canPublish: true });
    const peer = await SignalingTestClient.connect(node.url);
    const viewer = new NodeWhepViewer();
    try {
      await peer.call('join', { protocol: 1, token: tokenFor(node, { room: 'srt1', identity: 'watcher' }) });
      srtCaller(sid('srt1', 'enc', token));
      await waitFor(() => node.rooms.get('srt1')?.producersOf('enc').length === 2, { what: 'video and audio producers', timeoutMs: 15_000 });
      const kinds = node.rooms
        .get('srt1')!
        .producersOf('enc')
        .map((p) => `${p.kind}:${p.rtpParameters.codecs[0]!.mimeType}`)
        .sort();
      expect(kinds).toEqual(['audio:audio/opus', 'video:video/H264']);
      expect(peer.notifications.some((n) => n.notification === 'peerJoined' && n.data.identity === 'enc')).toBe(true);

      const r = await viewer.start(`${node.url}/whep/srt1/enc`, tokenFor(node, { room: 'srt1', identity: 'v' }));
      expect(r.status, r.body).toBe(201);
      await waitFor(() => viewer.packets.video > 30 && viewer.packets.audio > 20, { what: 'H264 and Opus RTP at the viewer', timeoutMs: 15_000 });

      // The caller hangs up: producers close, peers get producerClosed + peerLeft ("stream ended").
      const first = callers[0]!;
      first.kill('SIGINT');
      await exited(first);
      await waitFor(() => (node.rooms.get('srt1')?.producersOf('enc').length ?? 0) === 0, { what: 'feed gone', timeoutMs: 10_000 });
      await waitFor(() => peer.notifications.some((n) => n.notification === 'peerLeft'), { what: 'peerLeft' });
      expect(peer.notifications.filter((n) => n.notification === 'producerClosed')).toHaveLength(2);
      // The WHEP viewer's session ends with the stream (closed as its consumers go).
      await waitFor(() => node.whep.sessions.size === 0, { what: 'WHEP session ended', timeoutMs: 10_000 });

      // It comes back under the same name.
      const before = peer.notifications.filter((n) => n.notification === 'newProducer').length;
      srtCaller(sid('srt1', 'enc', token));
      await waitFor(() => peer.notifications.filter((n) => n.notification === 'newProducer').length >= before + 2, {
        what: 'resumed producers',
        timeoutMs: 15_000,
      });
      expect(await metric('subsec_srt_sessions_ended_total', 'caller-left')).toBeGreaterThanOrEqual(1);
    } finally {
      viewer.close();
      peer.close();
    }
  }, 60_000);

  it('refuses bad stream ids, tokens and grants, and a second publisher, with a reason in the log and metrics', async () => {
    const good = tokenFor(node, { room: 'srt2', identity: 'cam', canPublish: true });
    const cases: Array<[string, string, string]> = [
      ['no token', '#!::r=srt2/cam,m=publish', 'bad-streamid'],
      ['garbled token', sid('srt2', 'cam', 'x.y.z'), 'unauthorized'],
      ['expired token', sid('srt2', 'cam', tokenFor(node, { room: 'srt2', identity: 'cam', canPublish: true }, -10)), 'unauthorized'],
      ['other room', sid('srt2', 'cam', tokenFor(node, { room: 'elsewhere', identity: 'cam', canPublish: true })), 'forbidden'],
      ['no canPublish', sid('srt2', 'cam', tokenFor(node, { room: 'srt2', identity: 'cam' })), 'forbidden'],
      ['other identity', sid('srt2', 'cam', tokenFor(node, { room: 'srt2', identity: 'bob', canPublish: true })), 'forbidden'],
      ['play mode', `#!::r=srt2/cam,m=request,t=${good}`, 'bad-mode'],
    ];
    for (const [what, streamId, reason] of cases) {
      const before = await metric('subsec_srt_rejected_total', `reason="${reason}"`);
      const caller = srtCaller(streamId);
      const code = await exited(caller, 8_000);
      expect(code, what).not.toBe(0);
      expect(caller.log, what).toMatch(/reject|Input\/output error/i);
      expect(await metric('subsec_srt_rejected_total', `reason="${reason}"`), what).toBe(before + 1);
    }
    expect(logLines.join('')).toMatch(/SRT caller refused .*code=1401 reason=malformed token/);

    srtCaller(sid('srt2', 'cam', good));
    await waitFor(() => node.rooms.get('srt2')?.producersOf('cam').length === 2, { what: 'first publisher live', timeoutMs: 15_000 });
    const second = srtCaller(sid('srt2', 'cam', good));
    expect(await exited(second, 8_000)).not.toBe(0);
    expect(await metric('subsec_srt_rejected_total', 'reason="conflict"')).toBe(1);
    expect(logLines.join('')).toMatch(/code=1409 reason=stream srt2\/cam is already being published/);
    expect(node.rooms.get('srt2')!.producersOf('cam')).toHaveLength(2);
  }, 90_000);

  it('drops junk datagrams, garbage payloads, other codecs and a stalled caller without touching a healthy session', async () => {
    const healthyToken = tokenFor(node, { room: 'srt3', identity: 'ok', canPublish: true });
    srtCaller(sid('srt3', 'ok', healthyToken));
    await waitFor(() => node.rooms.get('srt3')?.producersOf('ok').length === 2, { what: 'healthy feed', timeoutMs: 15_000 });
    const viewer = new NodeWhepViewer();
    try {
      expect((await viewer.start(`${node.url}/whep/srt3/ok`, tokenFor(node, { room: 'srt3', identity: 'v' }))).status).toBe(201);
      await waitFor(() => viewer.packets.video > 10, { what: 'healthy RTP' });

      // Junk UDP at the listener.
      const junkBefore = await metric('subsec_srt_junk_packets_total');
      const sock = dgram.createSocket('udp4');
      for (let i = 0; i < 200; i++) sock.send(Buffer.from(`junk ${i} `.repeat(1 + (i % 50))), node.srt!.port, '127.0.0.1');
      // Loopback may drop a few datagrams of the burst; most must be seen and counted.
      await waitFor(async () => (await metric('subsec_srt_junk_packets_total')) >= junkBefore + 150, { what: 'junk counted' });
      sock.close();

      // A caller whose payload is not MPEG-TS, and one sending MPEG-2 video.
      const tok = (id: string) => tokenFor(node, { room: 'srt3', identity: id, canPublish: true });
      const garbage = srtCaller(sid('srt3', 'garbage', tok('garbage')), { video: ['-map', '1:a'], audio: ['-c:a', 'pcm_s16le'], format: 's16le' });
      const mpeg2 = srtCaller(sid('srt3', 'mpeg2', tok('mpeg2')), { video: ['-c:v', 'mpeg2video'] });
      // A caller that stalls (SIGSTOP): its session is dropped after the idle timeout.
      const stalled = srtCaller(sid('srt3', 'stall', tok('stall')));
      await waitFor(() => node.rooms.get('srt3')?.producersOf('stall').length === 2, { what: 'stalling feed live', timeoutMs: 15_000 });
      stalled.kill('SIGSTOP');
      await waitFor(() => !node.srt!.sessions.has('srt3/stall'), { what: 'stalled session dropped', timeoutMs: 10_000 });
      stalled.kill('SIGKILL');
      await waitFor(() => !node.srt!.sessions.has('srt3/garbage') && !node.srt!.sessions.has('srt3/mpeg2'), {
        what: 'bad sessions dropped',
        timeoutMs: 15_000,
      });
      expect(await exited(mpeg2, 10_000)).not.toBe(0);
      garbage.kill('SIGKILL');
      expect(await metric('subsec_srt_rejected_total', 'reason="unsupported-media"')).toBeGreaterThanOrEqual(1);
      expect(await metric('subsec_srt_sessions_ended_total', 'reason="idle"')).toBeGreaterThanOrEqual(1);
      expect(logLines.join('')).toMatch(/unsupported video codec mpeg2video \(H264 only\)/);

      // The healthy session never noticed.
      const seen = viewer.packets.video;
      await waitFor(() => viewer.packets.video > seen + 30, { what: 'healthy RTP keeps flowing' }).catch(async (err) => {
        const ps = await Promise.all(
          node.rooms
            .get('srt3')!
            .producersOf('ok')
            .map(async (p) => JSON.stringify((await p.getStats()).map((x: any) => [x.type, x.packetCount, x.byteCount]))),
        );
        const cs = await Promise.all(
          [...node.whep.sessions.values()]
            .flatMap((s) => s.consumers)
            .map(async (c) => `${c.paused} ${c.producerPaused} ${JSON.stringify((await c.getStats()).map((x: any) => [x.type, x.packetCount, x.byteCount]))}`),
        );
        throw new Error(
          `${ps.join('\n')}\n${cs.join('\n')}\n` +
            `${(err as Error).message}: viewer ${viewer.state} ${JSON.stringify(viewer.packets)}, sessions ${[...node.srt!.sessions.keys()]}, whep ${node.whep.sessions.size}`,
        );
      });
      expect(node.srt!.sessions.has('srt3/ok')).toBe(true);
    } finally {
      viewer.close();
    }
    await waitFor(() => listenerChildren().length === 1, { what: 'only the healthy ffmpeg left', timeoutMs: 10_000 });
  }, 90_000);

  it('with a passphrase, refuses callers without it and accepts callers with it', async () => {
    const secured = await startNode({ srt: { enabled: true, port: 0, passphrase: 'correct-horse-battery' }, logLevel: 'warn' });
    const saved = node;
    node = secured;
    try {
      const token = tokenFor(node, { room: 'sec', identity: 'enc', canPublish: true });
      const plain = srtCaller(sid('sec', 'enc', token));
      expect(await exited(plain, 10_000)).not.toBe(0);
      await waitFor(async () => (await metric('subsec_srt_rejected_total', 'reason="handshake"')) === 1, { what: 'handshake refusal counted' });
      const wrong = srtCaller(sid('sec', 'enc', token), { extra: '&passphrase=wrong-passphrase' });
      expect(await exited(wrong, 10_000)).not.toBe(0);
      srtCaller(sid('sec', 'enc', token), { extra: '&passphrase=correct-horse-battery' });
      await waitFor(() => node.rooms.get('sec')?.producersOf('enc').length === 2, { what: 'encrypted feed live', timeoutMs: 15_000 });
    } finally {
      for (const c of callers.splice(0)) c.kill('SIGKILL');
      node = saved;
      await secured.close();
    }
  }, 60_000);

  it('a caller retrying a refused connection is counted every time and logged once (GStreamer srtsink)', async () => {
    const before = await metric('subsec_srt_rejected_total', 'reason="unauthorized"');
    const linesBefore = logLines.join('').split('SRT caller refused').length;
    for (let i = 0; i < 6; i++) {
      const gst = spawn(
        'gst-launch-1.0',
        [
          '-q',
          'videotestsrc',
          'is-live=true',
          '!',
          'x264enc',
          'tune=zerolatency',
          'speed-preset=ultrafast',
          '!',
          'mpegtsmux',
          '!',
          'srtsink',
          `uri=srt://127.0.0.1:${node.srt!.port}`,
          `streamid=#!::r=rlim/cam,m=publish,t=not.a.token`,
        ],
        { stdio: 'ignore' },
      );
      callers.push(gst);
      expect(await exited(gst, 10_000)).not.toBe(0);
    }
    expect(await metric('subsec_srt_rejected_total', 'reason="unauthorized"')).toBe(before + 6);
    const refusedLines = logLines.join('').split('SRT caller refused').slice(linesBefore);
    expect(refusedLines.filter((l) => l.includes('room=rlim'))).toHaveLength(1);
  }, 60_000);

  it('a contribution without SPS/PPS ends with that reason (log, metric), and the caller hears it when it calls again', async () => {
    const token = tokenFor(node, { room: 'srt5', identity: 'nosps', canPublish: true });
    // Parameter sets stripped from the H264: the node's ffmpeg cannot size the video.
    const bad = srtCaller(sid('srt5', 'nosps', token), {
      video: ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-bsf:v', 'filter_units=remove_types=7|8'],
    });
    await waitFor(async () => (await metric('subsec_srt_sessions_ended_total', 'reason="no-parameter-sets"')) === 1, {
      what: 'session ended for missing SPS/PPS',
      timeoutMs: 20_000,
    });
    expect(logLines.join('')).toMatch(/SRT session ended room=srt5 stream=nosps reason=the video carried no usable H264 parameter sets \(SPS\/PPS\)/);
    bad.kill('SIGKILL');
    // Calling again within 10 s: refused during the handshake with 1415 (unsupported media) and the reason logged.
    const again = srtCaller(sid('srt5', 'nosps', token));
    expect(await exited(again, 10_000)).not.toBe(0);
    expect(again.log).toMatch(/reject/i);
    expect(await metric('subsec_srt_rejected_total', 'reason="no-parameter-sets"')).toBe(1);
    expect(logLines.join('')).toMatch(
      /SRT caller refused .*room=srt5 stream=nosps code=1415 reason=the last contribution could not be used: the video carried no usable H264 parameter sets/,
    );
  }, 60_000);
});
