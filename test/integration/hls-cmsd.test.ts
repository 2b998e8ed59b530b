/**
 * CTA-5006 CMSD response headers of the LL-HLS origin on a real node (synthetic source, one copied
 * rendition + audio to keep the 2-core box cool): playlists, blocking reloads, init segments, parts,
 * segments and held preload hints, on the uWS fast path and on the full routes (CMCD requests go
 * there); then a node with `hls.cmsd.enabled: false` sends none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { Packager } from '../../src/hls/Packager';
import { startNode } from '../helpers/startNode';
import { once, waitFor } from '../../loadtest/core/waitFor';

const ROOM = 'cmsdroom';
const NODE_ID = 'cmsd-origin-1';
const hlsConfig = { segmentTargetMs: 1000, partTargetMs: 200, renditions: [{ name: 'source', copySource: true, videoKbps: 1500 }] };

async function get(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Buffer; ms: number }> {
  const t = Date.now();
  const r = await fetch(url, init);
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body, ms: Date.now() - t };
}

/** CMSD-Static as key → raw value (the values sent here never contain commas). */
function staticOf(headers: Headers): Record<string, string> {
  const v = headers.get('cmsd-static');
  expect(v, 'CMSD-Static present').toBeTruthy();
  expect(v).not.toMatch(/\s/);
  return Object.fromEntries(v!.split(',').map((m) => (m.includes('=') ? [m.slice(0, m.indexOf('=')), m.slice(m.indexOf('=') + 1)] : [m, '?1'])));
}

/** The `rd` of this origin's CMSD-Dynamic member (`"<id>";rd=<int>`). */
function rdOf(headers: Headers): number {
  const v = headers.get('cmsd-dynamic');
  const m = /^"([^"\\]*)";rd=(\d+)$/.exec(v ?? '');
  expect(m, `CMSD-Dynamic ${v}`).not.toBeNull();
  expect(m![1]).toBe(NODE_ID);
  return Number(m![2]);
}

function exposes(headers: Headers): string[] {
  return (headers.get('access-control-expose-headers') ?? '').split(',').map((s) => s.trim().toLowerCase());
}

async function startWithSource(cmsd: Record<string, unknown>): Promise<SubsecNode> {
  const node = await startNode({ node: { id: NODE_ID }, synthetic: { enabled: true, room: ROOM }, hls: { ...hlsConfig, cmsd } });
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

describe('CMSD headers on LL-HLS responses', () => {
  let node: SubsecNode;
  let base: string;
  const packagerOf = (rendition: string): Packager => node.hls!.get(ROOM, 'synthetic')!.rendition(rendition)!.packager;

  beforeAll(async () => {
    node = await startWithSource({});
    base = `${node.url}/hls/${ROOM}/synthetic`;
  }, 60_000);

  afterAll(async () => {
    await node?.close();
  });

  it('describes the multivariant and media playlists as live HLS manifests', async () => {
    const mv = await get(`${base}/index.m3u8`);
    expect(mv.status).toBe(200);
    expect(mv.headers.get('cmsd-static')).toBe('ot=m,sf=h,st=l,v=1');
    // The first request waited for the stream to start: that is its response delay.
    const startupRd = rdOf(mv.headers);
    expect(startupRd).toBeGreaterThan(0);
    expect(startupRd).toBeLessThanOrEqual(mv.ms + 2);
    expect(exposes(mv.headers)).toEqual(expect.arrayContaining(['cmsd-static', 'cmsd-dynamic']));
    for (const rendition of ['source', 'audio']) {
      // fast path, then the full route (a CMCD request header sends it there)
      for (const headers of [{}, { 'CMCD-Session': 'sid="cmsd-test",sf=h,st=l' }] as Array<Record<string, string>>) {
        const pl = await get(`${base}/${rendition}/index.m3u8`, { headers });
        expect(pl.status).toBe(200);
        expect(pl.headers.get('cmsd-static')).toBe('ot=m,sf=h,st=l,v=1');
        expect(rdOf(pl.headers)).toBeLessThanOrEqual(5);
        expect(exposes(pl.headers)).toEqual(expect.arrayContaining(['etag', 'cmsd-static', 'cmsd-dynamic']));
      }
    }
    // A 304 carries them too. The playlist changes with every part (200 ms): ask right after a
    // publication; a 200 is right only when the playlist (its ETag) changed in between.
    let notModified: Awaited<ReturnType<typeof get>> | undefined;
    for (let attempt = 0; attempt < 5 && !notModified; attempt++) {
      await once(packagerOf('source'), 'part', 5000);
      const etag = (await get(`${base}/source/index.m3u8`)).headers.get('etag')!;
      const nm = await get(`${base}/source/index.m3u8`, { headers: { 'if-none-match': etag } });
      if (nm.status === 304) notModified = nm;
      else {
        expect(nm.status).toBe(200);
        expect(nm.headers.get('etag')).not.toBe(etag);
      }
    }
    expect(notModified?.status).toBe(304);
    expect(notModified!.headers.get('cmsd-static')).toBe('ot=m,sf=h,st=l,v=1');
  }, 40_000);

  it('reports how long a blocking reload for the next part was held (rd, ht), on both code paths', async () => {
    const p = packagerOf('source');
    for (const headers of [{}, { 'CMCD-Request': 'bl=1000' }] as Array<Record<string, string>>) {
      await once(p, 'part', 5000); // ask right after a publication, so the next part is a whole part away
      const last = p.lastPart!;
      const r = await get(`${base}/source/index.m3u8?_HLS_msn=${last.msn}&_HLS_part=${last.index + 1}`, { headers });
      expect(r.status).toBe(200);
      const rd = rdOf(r.headers);
      expect(rd).toBeGreaterThan(0);
      expect(rd).toBeLessThanOrEqual(r.ms + 2); // the origin cannot hold longer than the client waited
      expect(rd).toBeGreaterThanOrEqual(r.ms - 150); // the rest is loopback and client overhead
      expect(rd).toBeLessThan(1000); // one part of 200 ms (a segment boundary may stretch it)
      const s = staticOf(r.headers);
      expect(s).toMatchObject({ ot: 'm', sf: 'h', st: 'l', v: '1' });
      expect(Math.abs(Number(s.ht) - rd)).toBeLessThanOrEqual(2);
    }
  }, 30_000);

  it('describes init segments, parts and segments by what they carry, with duration, availability and bitrate', async () => {
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    for (const [rendition, ot] of [
      ['source', 'v'],
      ['audio', 'a'],
    ] as const) {
      const p = packagerOf(rendition);
      for (const headers of [{}, { 'CMCD-Object': 'ot=i' }] as Array<Record<string, string>>) {
        const init = await get(`${base}/${rendition}/${stream.epoch}/init.mp4`, { headers });
        expect(init.status).toBe(200);
        expect(init.headers.get('cmsd-static')).toBe('ot=i,sf=h,st=l,v=1');
        expect(rdOf(init.headers)).toBeLessThanOrEqual(5);
      }
      const part = p.lastPart!;
      const r = await get(`${base}/${rendition}/${stream.epoch}/p${part.seq}.m4s`);
      expect(r.status).toBe(200);
      expect(r.body.equals(part.data)).toBe(true);
      const s = staticOf(r.headers);
      expect(s).toEqual({
        ot,
        sf: 'h',
        st: 'l',
        d: String(Math.round(part.duration * 1000)),
        br: String(Math.round((part.data.length * 8) / part.duration / 1000)),
        at: String(part.publishedAt),
        v: '1',
      });
      expect(Number(s.d)).toBeLessThanOrEqual(200);
      expect(rdOf(r.headers)).toBe(0);
      expect(exposes(r.headers)).toEqual(expect.arrayContaining(['cmsd-static', 'cmsd-dynamic']));
      const seg = p.segments.find((x) => x.complete)!;
      const sr = await get(`${base}/${rendition}/${stream.epoch}/s${seg.msn}.m4s`, { headers: { 'CMCD-Object': `ot=${ot}` } });
      expect(sr.status).toBe(200);
      expect(staticOf(sr.headers)).toMatchObject({ ot, sf: 'h', st: 'l', d: String(Math.round(seg.duration * 1000)), at: String(seg.completedAt) });
    }
  }, 30_000);

  it('reports the hold of a preload-hinted part', async () => {
    const p = packagerOf('source');
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    await once(p, 'part', 5000);
    const seq = p.nextPartSeq;
    const r = await get(`${base}/source/${stream.epoch}/p${seq}.m4s`);
    expect(r.status).toBe(200);
    const part = p.part(seq)!;
    const s = staticOf(r.headers);
    expect(s).toMatchObject({ ot: 'v', at: String(part.publishedAt), d: String(Math.round(part.duration * 1000)) });
    const rd = rdOf(r.headers);
    expect(rd).toBeGreaterThan(0);
    expect(rd).toBeLessThanOrEqual(r.ms + 2);
    expect(Math.abs(Number(s.ht) - rd)).toBeLessThanOrEqual(2);
  }, 20_000);

  it('marks the final playlist of an ended stream st=v', async () => {
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const p = stream.rendition('source')!.packager;
    const last = p.lastPart!;
    const held = get(`${base}/source/index.m3u8?_HLS_msn=${last.msn + 1}&_HLS_part=3`);
    await waitFor(() => p.waiting >= 1, { timeoutMs: 5000, what: 'held reload' });
    stream.end('test');
    const r = await held;
    expect(r.status).toBe(200);
    expect(r.body.toString().trim().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(staticOf(r.headers)).toMatchObject({ ot: 'm', sf: 'h', st: 'v', v: '1' });
    expect(rdOf(r.headers)).toBeGreaterThan(0);
  }, 20_000);
});

describe('hls.cmsd.enabled: false', () => {
  let node: SubsecNode;
  let base: string;

  beforeAll(async () => {
    node = await startWithSource({ enabled: false });
    base = `${node.url}/hls/${ROOM}/synthetic`;
  }, 60_000);

  afterAll(async () => {
    await node?.close();
  });

  it('sends no CMSD headers on any resource or code path', async () => {
    const responses = [await get(`${base}/index.m3u8`)];
    const stream = node.hls!.get(ROOM, 'synthetic')!;
    const p = stream.rendition('source')!.packager;
    for (const headers of [{}, { 'CMCD-Session': 'sid="off"' }] as Array<Record<string, string>>) {
      responses.push(await get(`${base}/source/index.m3u8`, { headers }));
      const last = p.lastPart!;
      responses.push(await get(`${base}/source/index.m3u8?_HLS_msn=${last.msn}&_HLS_part=${last.index + 1}`, { headers }));
      responses.push(await get(`${base}/source/${stream.epoch}/init.mp4`, { headers }));
      responses.push(await get(`${base}/source/${stream.epoch}/p${p.lastPart!.seq}.m4s`, { headers }));
    }
    for (const r of responses) {
      expect(r.status).toBe(200);
      expect(r.headers.get('cmsd-static')).toBeNull();
      expect(r.headers.get('cmsd-dynamic')).toBeNull();
      expect(exposes(r.headers)).not.toContain('cmsd-static');
    }
  }, 40_000);
});
