/**
 * WHIP endpoint over HTTP (RFC 9725): the happy path with a browser-like offer, headers, the
 * stream as seen by SDK peers, DELETE, PATCH (trickle, ICE restart, ETag), CORS, and every
 * kind of bad input answered with a clear 4xx while the endpoint keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { fakeOffer, postSdp, tokenFor } from '../helpers/whipWhep';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;

beforeAll(async () => {
  node = await startNode({
    whip: { iceServers: [{ urls: 'stun:stun.example.net:3478' }, { urls: 'turn:turn.example.net:3478', username: 'u1', credential: 'p1' }] },
  });
}, 60_000);

afterAll(async () => {
  await node?.close();
});

const pub = (room: string, identity: string) => tokenFor(node, { room, identity, canPublish: true });

async function call(method: string, path: string, init: { token?: string; type?: string; body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.type ? { 'content-type': init.type } : {}),
      ...init.headers,
    },
    body: init.body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('WHIP endpoint', () => {
  it('answers an offer with 201, an ICE-lite answer, Location, ETag, Link and Accept-Patch; SDK peers see the stream; DELETE ends it', async () => {
    const peer = await SignalingTestClient.connect(node.url);
    try {
      await peer.call('join', { protocol: 1, token: tokenFor(node, { room: 'w1', identity: 'watcher' }) });
      const res = await postSdp(`${node.url}/whip/w1/cam`, fakeOffer({ video: 'H264' }), pub('w1', 'cam'));
      expect(res.status, res.body).toBe(201);
      expect(res.headers.get('content-type')).toBe('application/sdp');
      const location = res.headers.get('location')!;
      expect(location).toMatch(/^\/whip\/w1\/cam\/[0-9a-f-]{36}$/);
      expect(res.headers.get('etag')).toMatch(/^".+"$/);
      expect(res.headers.get('accept-patch')).toBe('application/trickle-ice-sdpfrag');
      const link = res.headers.get('link')!;
      expect(link).toContain('<stun:stun.example.net:3478>; rel="ice-server"');
      expect(link).toContain('<turn:turn.example.net:3478>; rel="ice-server"; username="u1"; credential="p1"; credential-type="password"');
      const answer = res.body;
      for (const needle of [
        'a=ice-lite',
        'a=setup:passive',
        'a=group:BUNDLE 0 1',
        'a=recvonly',
        'a=rtpmap:96 H264/90000',
        'a=rtpmap:97 rtx/90000',
        'a=rtpmap:111 opus/48000/2',
        'a=end-of-candidates',
      ]) {
        expect(answer).toContain(needle);
      }
      expect(answer).toMatch(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);

      await waitFor(() => peer.notifications.filter((n) => n.notification === 'newProducer' && n.data.identity === 'cam').length === 2, {
        what: 'newProducer x2',
      });
      expect(peer.notifications.some((n) => n.notification === 'peerJoined' && n.data.identity === 'cam')).toBe(true);

      const del = await call('DELETE', location, { token: pub('w1', 'cam') });
      expect(del.status).toBe(200);
      await waitFor(() => peer.notifications.some((n) => n.notification === 'peerLeft'), { what: 'peerLeft' });
      expect(node.rooms.get('w1')!.producersOf('cam')).toHaveLength(0);
      expect((await call('DELETE', location, { token: pub('w1', 'cam') })).status).toBe(404);
    } finally {
      peer.close();
    }
  });

  it('accepts a simulcast offer as one simulcast producer and answers a=simulcast:recv', async () => {
    const res = await postSdp(`${node.url}/whip/w2/sim`, fakeOffer({ video: 'VP8', simulcast: true }), pub('w2', 'sim'));
    expect(res.status, res.body).toBe(201);
    expect(res.body).toContain('a=rid:lo recv');
    expect(res.body).toContain('a=simulcast:recv lo;mid;hi');
    const video = node.rooms
      .get('w2')!
      .producersOf('sim')
      .find((p) => p.kind === 'video')!;
    expect(video.type).toBe('simulcast');
    expect(video.rtpParameters.encodings!.map((e) => e.rid)).toEqual(['lo', 'mid', 'hi']);
    expect((await call('DELETE', res.headers.get('location')!, { token: pub('w2', 'sim') })).status).toBe(200);
  });

  it('refuses a second publisher of the same stream with 409', async () => {
    const first = await postSdp(`${node.url}/whip/w3/cam`, fakeOffer(), pub('w3', 'cam'));
    expect(first.status).toBe(201);
    const second = await postSdp(`${node.url}/whip/w3/cam`, fakeOffer(), pub('w3', 'cam'));
    expect(second.status).toBe(409);
    expect(JSON.parse(second.body)).toMatchObject({ code: 'CONFLICT' });
    await call('DELETE', first.headers.get('location')!, { token: pub('w3', 'cam') });
  });

  it('answers bad input with clear 4xx errors and keeps working', async () => {
    const url = `${node.url}/whip/w4/cam`;
    const good = pub('w4', 'cam');
    const cases: Array<[string, () => Promise<{ status: number; body: string }>, number, RegExp]> = [
      ['no token', () => postSdp(url, fakeOffer()), 401, /Authorization/],
      ['garbled token', () => postSdp(url, fakeOffer(), 'nope'), 401, /malformed token/],
      ['expired token', () => postSdp(url, fakeOffer(), tokenFor(node, { room: 'w4', identity: 'cam', canPublish: true }, -5)), 401, /expired/],
      ['other room', () => postSdp(url, fakeOffer(), pub('elsewhere', 'cam')), 403, /not valid for room w4/],
      ['no canPublish', () => postSdp(url, fakeOffer(), tokenFor(node, { room: 'w4', identity: 'cam' })), 403, /does not allow publishing/],
      ['other identity', () => postSdp(url, fakeOffer(), pub('w4', 'bob')), 403, /may not publish stream "cam"/],
      ['wrong content type', () => postSdp(url, fakeOffer(), good, { 'content-type': 'text/plain' }), 415, /application\/sdp/],
      ['not SDP', () => postSdp(url, 'hello', good), 400, /v=0/],
      ['malformed line', () => postSdp(url, fakeOffer().replace('a=mid:0', 'a=mid:0\r\nthis is not sdp'), good), 400, /SDP line \d+/],
      ['no ICE credentials', () => postSdp(url, fakeOffer().replace(/a=ice-(ufrag|pwd):.*\r\n/g, ''), good), 400, /ice-ufrag/],
      ['no fingerprint', () => postSdp(url, fakeOffer().replace(/a=fingerprint:.*\r\n/g, ''), good), 400, /fingerprint/],
      ['nothing to publish', () => postSdp(url, fakeOffer({ direction: 'recvonly' }), good), 400, /no sendonly audio\/video/],
      ['unsupported codec only', () => postSdp(url, fakeOffer({ video: 'AV1', audio: false }), good), 400, /supported codec/],
      ['bad stream name', () => postSdp(`${node.url}/whip/w4/a%20b`, fakeOffer(), good), 400, /stream must be/],
      ['huge body', () => postSdp(url, 'v=0\r\n' + 'a=x\r\n'.repeat(30_000), good), 413, /larger than/],
    ];
    for (const [what, send, status, message] of cases) {
      const res = await send();
      expect(res.status, `${what}: ${res.body}`).toBe(status);
      expect(JSON.parse(res.body).message, what).toMatch(message);
    }
    expect(node.whip.sessions.size).toBe(0);
    const ok = await postSdp(url, fakeOffer(), good);
    expect(ok.status, ok.body).toBe(201);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/subsec_whip_rejected_total\{code="UNAUTHENTICATED"[^}]*\} 3/);
    expect(metrics).toMatch(/subsec_whip_sessions\{[^}]*\} 1/);
    await call('DELETE', ok.headers.get('location')!, { token: good });
  });

  it('PATCH: 204 for trickled candidates, 412 for a stale ETag, 428 without If-Match: *, 200 with new credentials for an ICE restart', async () => {
    const token = pub('w5', 'cam');
    const res = await postSdp(`${node.url}/whip/w5/cam`, fakeOffer(), token);
    const location = res.headers.get('location')!;
    const etag = res.headers.get('etag')!;
    const frag = (ufrag: string) =>
      `a=ice-ufrag:${ufrag}\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122194687 192.0.2.2 40000 typ host\r\n`;
    const type = 'application/trickle-ice-sdpfrag';
    expect((await call('PATCH', location, { token, type, body: frag('abcd'), headers: { 'if-match': etag } })).status).toBe(204);
    expect((await call('PATCH', location, { token, type, body: frag('abcd'), headers: { 'if-match': '"stale"' } })).status).toBe(412);
    expect((await call('PATCH', location, { token, type, body: frag('efgh') })).status).toBe(428);
    expect((await call('PATCH', location, { token, type: 'application/json', body: '{}' })).status).toBe(415);
    const restart = await call('PATCH', location, { token, type, body: frag('efgh'), headers: { 'if-match': '*' } });
    expect(restart.status).toBe(200);
    expect(restart.headers.get('content-type')).toBe(type);
    expect(restart.headers.get('etag')).not.toBe(etag);
    expect(restart.text).toMatch(/a=ice-ufrag:\S+\r\na=ice-pwd:\S+/);
    expect(restart.text).not.toContain(res.body.match(/a=ice-ufrag:(\S+)/)![1]!);
    expect((await call('PATCH', `/whip/w5/cam/00000000-0000-0000-0000-000000000000`, { token, type, body: frag('x') })).status).toBe(404);
    expect((await call('DELETE', location)).status).toBe(401);
    expect((await call('DELETE', location, { token })).status).toBe(200);
  });

  it('answers CORS preflight for browser WHIP clients', async () => {
    const res = await call('OPTIONS', '/whip/w6/cam', { headers: { origin: 'https://studio.example', 'access-control-request-method': 'POST' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Location.*ETag.*Link/);
  });
});
