/**
 * WHEP and LL-HLS on a node that is not the origin: A (region r1) publishes the synthetic source,
 * B (region r2) has no publisher and no SDK viewer. A WHEP viewer (a real WebRTC peer on
 * libdatachannel) and an LL-HLS player on B get the stream through a cascade pull from A, and the
 * pull is released (after the linger) when the WHEP session ends / the HLS stream goes idle.
 * Real redis-server, real PipeTransports, real ffmpeg packaging on B.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { waitFor } from '../../loadtest/core/waitFor';
import { fakeOffer, NodeWhepViewer, postSdp, tokenFor } from '../helpers/whipWhep';
import { Mp4BoxReader, parseInit, parseMoof } from '../../src/hls/Mp4BoxReader';
import type { SubsecNode } from '../../src/SubsecNode';
import type { ConfigInput } from '../../src/config/schema';
import { RedisCoordinator } from '../../src/cascade/RedisCoordinator';
import { parseConfig } from '../../src/config/loadConfig';
import { createLogger } from '../../src/core/logger';

let redis: TestRedis;
let a: SubsecNode;
let b: SubsecNode;
const ROOM = 'edge-tv';
/** Above the packaging startup (first segment ≈ 3 s here): a held first request does not count as activity. */
const IDLE_MS = 6_000;

/** A cascade node on the test Redis; LL-HLS packages only the copied source (light on 2 cores). */
function cascadeNode(id: string, region: string, extra: ConfigInput = {}): ConfigInput {
  return {
    node: { id, region },
    redis: { url: redis.url, keyPrefix: 'outputs:' },
    cascade: { coordinator: 'redis', lingerMs: 300, reconcileMs: 1000 },
    hls: { segmentTargetMs: 1000, partTargetMs: 200, idleTimeoutMs: IDLE_MS, renditions: [{ name: 'source', copySource: true, videoKbps: 300 }] },
    logLevel: 'warn',
    ...extra,
  };
}

const pullsOf = (n: SubsecNode) => n.cascade.manager.pulls();
const figure = (name: string, value: number | string) => console.log(`CASCADE_OUTPUT_FIGURE ${name}=${value}`);

async function get(url: string): Promise<{ status: number; body: Buffer; text: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body, text: body.toString('utf8') };
}

/** Last complete segment number of a media playlist (EXT-X-MEDIA-SEQUENCE + segments listed − 1). */
function lastMsn(playlist: string): number {
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)![1]);
  return seq + playlist.split('\n').filter((l) => l.startsWith('#EXTINF:')).length - 1;
}

describe('WHEP and LL-HLS on a non-origin node of a cascade', () => {
  beforeAll(async () => {
    redis = await startRedis();
    a = await startNode(cascadeNode('out-a', 'r1', { synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 300 } }));
    b = await startNode(cascadeNode('out-b', 'r2'));
    await waitFor(() => [a, b].every((n) => n.cascade.coordinator.liveNodes().length === 2), { what: 'both nodes registered', timeoutMs: 10_000 });
    await waitFor(async () => (await b.cascade.coordinator.streams(ROOM)).some((l) => l.identity === 'synthetic' && l.nodeId === 'out-a'), {
      what: 'A is origin of the synthetic stream',
      timeoutMs: 20_000,
    });
    expect(b.rooms.get(ROOM)).toBeUndefined();
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.stop();
  }, 30_000);

  it('serves a WHEP viewer on B from A and releases the pull after the session ends', async () => {
    const viewer = new NodeWhepViewer();
    const token = tokenFor(b, { room: ROOM, identity: 'whep-viewer', canSubscribe: true });
    try {
      const t0 = Date.now();
      const res = await viewer.start(`${b.url}/whep/${ROOM}/synthetic`, token);
      expect(res.status, res.body).toBe(201);
      expect(pullsOf(b)).toEqual([expect.objectContaining({ room: ROOM, identity: 'synthetic', origin: 'out-a', parent: 'out-a', state: 'up' })]);
      expect(a.cascade.manager.server.list()).toEqual([expect.objectContaining({ downstream: 'out-b', identity: 'synthetic' })]);
      await waitFor(() => viewer.packets.video > 0, { what: 'first video RTP at the WHEP viewer', timeoutMs: 15_000 });
      figure('whep_viewer_start_to_first_video_ms', Date.now() - t0);
      figure('whep_pull_setup_ms', pullsOf(b)[0]!.setupMs ?? -1);
      await waitFor(() => viewer.packets.video > 60 && viewer.packets.audio > 30, { what: 'audio and video RTP at the WHEP viewer', timeoutMs: 15_000 });
      const del = await fetch(`${b.url}${viewer.location}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      expect(del.status).toBe(200);
      const closedAt = Date.now();
      expect(b.whep.sessions.size).toBe(0);
      await waitFor(() => pullsOf(b).length === 0, { what: 'the pull on B released after the linger', timeoutMs: 5_000 });
      figure('whep_pull_released_after_ms', Date.now() - closedAt);
      await waitFor(() => a.cascade.manager.server.list().length === 0, { what: 'A closed the pipe it served', timeoutMs: 5_000 });
    } finally {
      viewer.close();
    }
  }, 60_000);

  it('serves LL-HLS on B from A (parts and segments with media, advancing), then releases the pull when idle', async () => {
    const base = `${b.url}/hls/${ROOM}/synthetic`;
    const t0 = Date.now();
    const multivariant = await get(`${base}/index.m3u8`);
    expect(multivariant.status, multivariant.text).toBe(200);
    figure('hls_first_multivariant_ms', Date.now() - t0);
    expect(multivariant.text).toContain('#EXT-X-STREAM-INF:');
    expect(multivariant.text.split('\n')).toContain('source/index.m3u8');
    expect(pullsOf(b)).toEqual([expect.objectContaining({ identity: 'synthetic', origin: 'out-a', state: 'up' })]);

    // Past startup: a blocking reload for segment 2 (answered once it is complete).
    const playlist = await get(`${base}/source/index.m3u8?_HLS_msn=2`);
    expect(playlist.status).toBe(200);
    const lines = playlist.text.trim().split('\n');
    const initUri = /URI="([^"]+)"/.exec(lines.find((l) => l.startsWith('#EXT-X-MAP'))!)![1]!;
    const init = await get(`${base}/source/${initUri}`);
    expect(init.status).toBe(200);
    const info = parseInit(init.body);
    expect(info.tracks[0]).toEqual(expect.objectContaining({ kind: 'video', width: 320, height: 180 }));

    // Every listed part and the last complete segment carry video samples.
    const partUris = lines.filter((l) => l.startsWith('#EXT-X-PART:')).map((l) => /URI="([^"]+)"/.exec(l)![1]!);
    expect(partUris.length).toBeGreaterThan(2);
    for (const uri of partUris) {
      const part = await get(`${base}/source/${uri}`);
      expect(part.status).toBe(200);
      const moof = new Mp4BoxReader().push(part.body).find((x) => x.type === 'moof')!;
      expect(parseMoof(moof.data, info).tracks[0]!.sampleCount).toBeGreaterThan(0);
    }
    const segmentUri = lines.filter((l) => !l.startsWith('#') && l.endsWith('.m4s')).at(-1)!;
    const segment = await get(`${base}/source/${segmentUri}`);
    expect(segment.status).toBe(200);
    const boxes = new Mp4BoxReader().push(segment.body);
    expect(boxes.filter((x) => x.type === 'mdat').reduce((n, x) => n + x.data.length, 0)).toBeGreaterThan(1000);
    const samples = boxes.filter((x) => x.type === 'moof').reduce((n, x) => n + parseMoof(x.data, info).tracks[0]!.sampleCount, 0);
    expect(samples).toBeGreaterThan(5);
    const audio = await get(`${base}/audio/index.m3u8`);
    expect(audio.status).toBe(200);
    expect(audio.text).toContain('#EXT-X-PART:');

    // The live edge advances: a blocking reload for the next segment is answered with it.
    const msn = lastMsn(playlist.text);
    const next = await get(`${base}/source/index.m3u8?_HLS_msn=${msn + 2}`);
    expect(next.status).toBe(200);
    expect(lastMsn(next.text)).toBeGreaterThanOrEqual(msn + 2);

    // Nobody asks any more: the packaging ends after the idle timeout and the pull goes.
    const stream = b.hls!.get(ROOM, 'synthetic')!;
    await waitFor(() => stream.ended, { what: 'HLS stream idle-closed on B', timeoutMs: IDLE_MS + 5_000 });
    const endedAt = Date.now();
    expect(stream.endReason).toBe('idle');
    await waitFor(() => pullsOf(b).length === 0, { what: 'the pull on B released after the HLS stream ended', timeoutMs: 5_000 });
    figure('hls_pull_released_after_end_ms', Date.now() - endedAt);
    await waitFor(() => a.cascade.manager.server.list().length === 0, { what: 'A closed the pipe it served', timeoutMs: 5_000 });
  }, 90_000);

  it('answers 404 on B, without waiting, for a stream no node of the cascade has', async () => {
    const token = tokenFor(b, { room: ROOM, identity: 'whep-viewer', canSubscribe: true });
    const t0 = Date.now();
    const whep = await postSdp(`${b.url}/whep/${ROOM}/ghost`, fakeOffer({ direction: 'recvonly' }), token);
    expect(whep.status).toBe(404);
    expect(JSON.parse(whep.body)).toEqual({ code: 'NOT_FOUND', message: `stream ghost is not live in room ${ROOM} on any node` });
    const otherRoom = await postSdp(
      `${b.url}/whep/nowhere/synthetic`,
      fakeOffer({ direction: 'recvonly' }),
      tokenFor(b, { room: 'nowhere', identity: 'v', canSubscribe: true }),
    );
    expect(otherRoom.status).toBe(404);
    const hls = await get(`${b.url}/hls/${ROOM}/ghost/index.m3u8`);
    expect(hls.status).toBe(404);
    expect(JSON.parse(hls.text).message).toMatch(/stream ghost is not live/);
    const ms = Date.now() - t0;
    figure('not_found_three_requests_ms', ms);
    expect(ms).toBeLessThan(b.config.cascade.rpcTimeoutMs);
    expect(pullsOf(b)).toEqual([]);
  }, 30_000);

  it('answers 503 within a bounded wait when the stream is listed on a node that cannot pipe it', async () => {
    // A registered, live node that claims a stream but has no media side (no pipe.open handler).
    const mute = new RedisCoordinator({
      nodeId: 'out-mute',
      region: 'r1',
      redis: parseConfig({ redis: { url: redis.url, keyPrefix: 'outputs:' } }).redis,
      heartbeatMs: 500,
      nodeTtlMs: 2000,
      leaseMs: 2000,
      rpcTimeoutMs: 1000,
      log: createLogger('test:out-mute'),
    });
    await mute.start(async () => ({
      id: 'out-mute',
      region: 'r1',
      url: 'http://out-mute.invalid',
      startedAt: Date.now(),
      draining: false,
      load: { cpu: 0, consumers: 0, bitrateBps: 0, rooms: 0, pipesOut: 0, load: 0 },
    }));
    try {
      await mute.claim(ROOM, 'mute-cam');
      await waitFor(() => b.cascade.coordinator.node('out-mute'), { what: 'B sees the mute node', timeoutMs: 5_000 });
      const token = tokenFor(b, { room: ROOM, identity: 'whep-viewer', canSubscribe: true });
      const bound = b.config.cascade.rpcTimeoutMs + b.config.cascade.joinWaitMs;
      const t0 = Date.now();
      const [whep, hls] = await Promise.all([
        postSdp(`${b.url}/whep/${ROOM}/mute-cam`, fakeOffer({ direction: 'recvonly' }), token),
        fetch(`${b.url}/hls/${ROOM}/mute-cam/index.m3u8`, { signal: AbortSignal.timeout(20_000) }),
      ]);
      const ms = Date.now() - t0;
      figure('unavailable_answer_ms', ms);
      expect(whep.status).toBe(503);
      expect(JSON.parse(whep.body).message).toMatch(/stream mute-cam of room edge-tv is on node out-mute but could not be pulled here in time/);
      expect(hls.status).toBe(503);
      expect(hls.headers.get('retry-after')).toBe('1');
      expect((await hls.json()).message).toMatch(/on node out-mute but could not be pulled/);
      expect(ms).toBeGreaterThanOrEqual(bound - 50);
      expect(ms).toBeLessThan(bound + 3_000);
      expect(b.whep.sessions.size).toBe(0);
      await waitFor(() => pullsOf(b).length === 0, { what: 'no pull left on B', timeoutMs: 5_000 });
    } finally {
      await mute.close();
    }
  }, 30_000);
});
