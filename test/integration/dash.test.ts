/**
 * The LL-DASH origin over HTTP on a real node (synthetic source; one copied rendition plus audio,
 * 1 s segments to keep the 2-core box cool): the MPD lists exactly the LL-HLS packager's
 * segments, media bytes are the packager's, the segment in progress is sent part by part with
 * chunked transfer before it completes, the next segment is held until it opens, caching and
 * CMSD (`sf=d`) headers, CMCD intake, the time endpoint, clear errors for bad requests, the end
 * of the stream (the segment being sent ends whole, the MPD gets its duration); then a
 * node with `hls.access: token` refuses requests without a token and keeps it in the MPD's URLs.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { Packager } from '../../src/hls/Packager';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';

const ROOM = 'dashroom';
const hlsConfig = { segmentTargetMs: 1000, partTargetMs: 200, renditions: [{ name: 'source', copySource: true, videoKbps: 1500 }] };

async function get(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Buffer; text: string }> {
  const r = await fetch(url, init);
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body, text: body.toString() };
}

/** GETs with node:http to see the transfer encoding and when each chunk arrives. */
function getChunks(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; chunks: Array<{ at: number; bytes: Buffer }> }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Array<{ at: number; bytes: Buffer }> = [];
        res.on('data', (d: Buffer) => chunks.push({ at: Date.now(), bytes: d }));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, chunks }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function startWithSource(hls: Record<string, unknown> = {}): Promise<SubsecNode> {
  const node = await startNode({ synthetic: { enabled: true, room: ROOM }, hls: { ...hlsConfig, ...hls } });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  return node;
}

describe('LL-DASH origin', () => {
  let node: SubsecNode;
  let base: string;
  const packagerOf = (rendition: string): Packager => node.hls!.get(ROOM, 'synthetic')!.rendition(rendition)!.packager;

  beforeAll(async () => {
    node = await startWithSource();
    base = `${node.url}/dash/${ROOM}/synthetic`;
  }, 60_000);
  afterAll(async () => {
    await node?.close();
  });

  it('serves a dynamic MPD listing the packager’s segments, with caching, ETag, gzip, CORS and CMSD', async () => {
    const r = await get(`${base}/manifest.mpd`, { headers: { origin: 'http://player.example' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/dash+xml');
    expect(r.headers.get('cache-control')).toBe('public, max-age=1');
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('cmsd-static')).toBe('ot=m,sf=d,st=l,v=1');
    expect(r.headers.get('cmsd-dynamic')).toMatch(/^"test-node";rd=\d+$/);
    const mpd = r.text;
    expect(mpd).toContain('type="dynamic"');
    expect(mpd).toContain('availabilityTimeComplete="false"');
    // Relative to the MPD: /dash/{room}/{stream}/manifest.mpd → /dash/time.
    expect(mpd).toContain('<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="../../time"/>');
    expect(new URL('../../time', `${base}/manifest.mpd`).href).toBe(`${node.url}/dash/time`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    expect(mpd).toContain(`media="source/${stream.epoch}/s$Number$.m4s"`);
    expect(mpd).toContain(`media="audio/${stream.epoch}/s$Number$.m4s"`);
    // The video timeline names the packager's segments: startNumber is the first MSN in the window.
    const p = packagerOf('source');
    const startNumber = Number(/media="source\/[0-9a-f]+\/s\$Number\$\.m4s" startNumber="(\d+)"/.exec(mpd)![1]);
    expect(startNumber).toBe(p.segments[0]!.msn);
    const firstT = Number(/<Representation id="source"[\s\S]*?<S t="(\d+)"/.exec(mpd)![1]);
    expect(firstT).toBe(Math.round(p.segments[0]!.startTime * 90000));

    const etag = (await get(`${base}/manifest.mpd`)).headers.get('etag')!;
    const again = await get(`${base}/manifest.mpd`, { headers: { 'if-none-match': etag } });
    expect([200, 304]).toContain(again.status); // 200 when a segment opened in between
    if (again.status === 304) expect(again.body.length).toBe(0);
    // The stream lists its DASH output next to the HLS one.
    const info = JSON.stringify(
      await (await fetch(`${node.url}/v1/streams/${ROOM}/synthetic`, { headers: { authorization: `Bearer ${node.config.auth.adminKey}` } })).json(),
    );
    expect(info).toContain(`"kind":"dash"`);
    expect(info).toContain(`/dash/${ROOM}/synthetic/manifest.mpd`);
    const gz = await fetch(`${base}/manifest.mpd`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(await gz.text()).toContain('<MPD');
  });

  it('serves init and complete segments with the packager’s bytes, immutable, with 304 and CMSD', async () => {
    await get(`${base}/manifest.mpd`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const p = packagerOf('source');
    const init = await get(`${base}/source/${stream.epoch}/init.mp4`);
    expect(init.status).toBe(200);
    expect(init.body.equals(p.init!)).toBe(true);
    expect(init.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(init.headers.get('cmsd-static')).toBe('ot=i,sf=d,st=l,v=1');
    const seg = p.segments.find((s) => s.complete)!;
    const r = await get(`${base}/source/${stream.epoch}/s${seg.msn}.m4s`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('video/mp4');
    expect(r.body.equals(seg.data!)).toBe(true);
    expect(r.headers.get('cmsd-static')).toMatch(new RegExp(`^ot=v,sf=d,st=l,d=${Math.round(seg.duration * 1000)},br=\\d+,at=${seg.completedAt},v=1$`));
    const notModified = await get(`${base}/source/${stream.epoch}/s${seg.msn}.m4s`, { headers: { 'if-none-match': r.headers.get('etag')! } });
    expect(notModified.status).toBe(304);
    const audio = await get(`${base}/audio/${stream.epoch}/s${packagerOf('audio').segments.find((s) => s.complete)!.msn}.m4s`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/mp4');
    expect(audio.headers.get('cmsd-static')).toMatch(/^ot=a,sf=d/);
  });

  it('sends the segment in progress part by part with chunked transfer, before it completes', async () => {
    await get(`${base}/manifest.mpd`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const p = packagerOf('source');
    // Ask for the next segment right after one completes: it is held until it opens, then streamed.
    await new Promise((resolve) => p.once('segment', resolve));
    const msn = p.segments.at(-1)!.complete ? p.segments.at(-1)!.msn + 1 : p.openSegment!.msn;
    const requestedAt = Date.now();
    const r = await getChunks(`${node.url}/dash/${ROOM}/synthetic/source/${stream.epoch}/s${msn}.m4s`);
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(r.headers['cmsd-static']).toMatch(/^ot=v,sf=d,st=l,ht=\d+,v=1$/);
    const seg = p.segment(msn)!;
    expect(Buffer.concat(r.chunks.map((c) => c.bytes)).equals(seg.data!)).toBe(true);
    // The first bytes left before the segment was complete (its first part, not the whole).
    expect(r.chunks.length).toBeGreaterThan(2);
    expect(r.chunks[0]!.at).toBeLessThan(seg.completedAt!);
    expect(r.chunks[0]!.bytes.length).toBeLessThan(seg.data!.length);
    expect(r.chunks[0]!.at - requestedAt).toBeLessThan(seg.completedAt! - requestedAt);
  });

  it('answers bad requests with clear errors and nothing else breaks', async () => {
    await get(`${base}/manifest.mpd`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const p = packagerOf('source');
    const tooFar = await get(`${base}/source/${stream.epoch}/s${p.segments.at(-1)!.msn + 50}.m4s`);
    expect(tooFar.status).toBe(404);
    expect(JSON.parse(tooFar.text).message).toMatch(/too far ahead/);
    expect((await get(`${base}/source/00000000/s1.m4s`)).status).toBe(404);
    expect((await get(`${base}/nope/${stream.epoch}/s1.m4s`)).status).toBe(404);
    expect((await get(`${base}/source/${stream.epoch}/x.m4s`)).status).toBe(404);
    expect((await get(`${base}/source/${stream.epoch}/s1.m4s/..`)).status).toBeGreaterThanOrEqual(400);
    const missing = await get(`${node.url}/dash/${ROOM}/ghost/manifest.mpd`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(missing.text).code).toBe('NOT_FOUND');
    expect((await get(`${node.url}/dash/noroom/synthetic/manifest.mpd`)).status).toBe(404);
    // The stream still plays.
    expect((await get(`${base}/manifest.mpd`)).status).toBe(200);
    // Preflight allows the CMCD request headers.
    const pre = await fetch(`${base}/manifest.mpd`, {
      method: 'OPTIONS',
      headers: { origin: 'http://player.example', 'access-control-request-method': 'GET' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toContain('CMCD-Request');
  });

  it('serves the time for UTCTiming', async () => {
    const before = Date.now();
    const r = await get(`${node.url}/dash/time`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const t = Date.parse(r.text);
    expect(r.text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(t).toBeGreaterThanOrEqual(before - 1);
    expect(t).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('feeds CMCD from media requests into the QoE metrics; malformed CMCD is counted, the request served', async () => {
    await get(`${base}/manifest.mpd`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const seg = packagerOf('source').segments.find((s) => s.complete)!;
    const cmcd = encodeURIComponent('bl=1500,br=1500,mtp=9000,ot=v,sf=d,sid="dash-cmcd-test",su');
    const r = await get(`${base}/source/${stream.epoch}/s${seg.msn}.m4s?CMCD=${cmcd}`);
    expect(r.status).toBe(200);
    const bad = await get(`${base}/source/${stream.epoch}/s${seg.msn}.m4s?CMCD=${encodeURIComponent('bl="x"')}`);
    expect(bad.status).toBe(200);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`subsec_hls_cmcd_measured_throughput_kbps_count\\{[^}]*room="${ROOM}"[^}]*\\} [1-9]`));
    expect(metrics).toMatch(/subsec_hls_cmcd_malformed_total\{reason="type"[^}]*\} [1-9]/);
  });

  it('when the stream ends: the segment being sent ends with the last part, the MPD gets its duration and stops updating', async () => {
    await get(`${base}/manifest.mpd`);
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const p = packagerOf('source');
    await waitFor(() => (p.openSegment && p.openSegment.parts.length > 0 ? true : undefined), { timeoutMs: 10_000, what: 'a segment in progress' });
    const msn = p.openSegment!.msn;
    const sending = getChunks(`${node.url}/dash/${ROOM}/synthetic/source/${stream.epoch}/s${msn}.m4s`);
    await waitFor(() => (p.waiting > 0 ? true : undefined), { timeoutMs: 5000, what: 'the segment request to be held' });
    // The room closes: the publisher's producers go, the packaging ends.
    const closed = await fetch(`${node.url}/v1/rooms/${ROOM}`, { method: 'DELETE', headers: { authorization: `Bearer ${node.config.auth.adminKey}` } });
    expect(closed.status).toBeLessThan(300);
    const r = await sending;
    expect(r.status).toBe(200);
    const seg = p.segment(msn)!;
    expect(seg.complete).toBe(true);
    expect(Buffer.concat(r.chunks.map((c) => c.bytes)).equals(seg.data!)).toBe(true);
    const mpd = await get(`${base}/manifest.mpd`);
    expect(mpd.status).toBe(200);
    expect(mpd.headers.get('cache-control')).toBe('public, max-age=60');
    expect(mpd.headers.get('cmsd-static')).toBe('ot=m,sf=d,st=v,v=1');
    expect(mpd.text).not.toContain('minimumUpdatePeriod');
    expect(mpd.text).toMatch(/mediaPresentationDuration="PT[\d.]+S"/);
    // The last listed segment is the final one, with its real duration.
    const last = /<Representation id="source"[\s\S]*?<\/SegmentTimeline>/
      .exec(mpd.text)![0]
      .match(/d="(\d+)"/g)!
      .at(-1)!;
    expect(Number(/\d+/.exec(last)![0]) / 90000).toBeCloseTo(p.segments.at(-1)!.duration, 3);
  });
});

describe('LL-DASH with hls.access: token', () => {
  let node: SubsecNode;
  beforeAll(async () => {
    node = await startWithSource({ access: 'token' });
  }, 60_000);
  afterAll(async () => {
    await node?.close();
  });

  it('refuses requests without a token for the room and keeps the token on every URL of the MPD', async () => {
    const base = `${node.url}/dash/${ROOM}/synthetic`;
    const none = await get(`${base}/manifest.mpd`);
    expect(none.status).toBe(401);
    const other = node.tokens.issue({ room: 'elsewhere', identity: 'v', canSubscribe: true });
    expect((await get(`${base}/manifest.mpd?token=${other}`)).status).toBe(401);
    const token = node.tokens.issue({ room: ROOM, identity: 'v', canSubscribe: true });
    const r = await get(`${base}/manifest.mpd?token=${token}`);
    expect(r.status).toBe(200);
    expect(r.text).toContain(`s$Number$.m4s?token=${token}`);
    expect(r.text).toContain(`init.mp4?token=${token}`);
    const epoch = node.hls!.get(ROOM, 'synthetic')!.epoch;
    expect((await get(`${base}/source/${epoch}/init.mp4`)).status).toBe(401);
    expect((await get(`${base}/source/${epoch}/init.mp4?token=${token}`)).status).toBe(200);
  });
});
