/**
 * WHEP endpoint over HTTP: answers keep the viewer's payload types, one sendonly section per
 * track with SSRCs, the layer extension (query and JSON PATCH), and clear errors for unknown
 * rooms/streams, tokens, content types, bad SDP and unsupported codecs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { fakeOffer, postSdp, tokenFor } from '../helpers/whipWhep';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;
let publisher: string;

beforeAll(async () => {
  node = await startNode();
  // A publisher without media: WHEP negotiation only needs its producers.
  const res = await postSdp(
    `${node.url}/whip/v1/cam`,
    fakeOffer({ video: 'VP8', simulcast: true }),
    tokenFor(node, { room: 'v1', identity: 'cam', canPublish: true }),
  );
  expect(res.status, res.body).toBe(201);
  publisher = res.headers.get('location')!;
}, 60_000);

afterAll(async () => {
  await node?.close();
});

const viewer = (room = 'v1') => tokenFor(node, { room, identity: 'viewer', canSubscribe: true });

/** A recvonly offer numbered unlike the router (VP8 as 45, Opus as 63). */
function renumbered(): string {
  return fakeOffer({ direction: 'recvonly' })
    .replace(/\b96\b/g, '45')
    .replace(/\b97\b/g, '46')
    .replace(/\b111\b/g, '63');
}

describe('WHEP endpoint', () => {
  it("answers with the viewer's payload types, SSRCs per track and a Location to DELETE", async () => {
    const res = await postSdp(`${node.url}/whep/v1/cam`, renumbered(), viewer());
    expect(res.status, res.body).toBe(201);
    expect(res.headers.get('location')).toMatch(/^\/whep\/v1\/cam\/[0-9a-f-]{36}$/);
    expect(res.headers.get('accept-patch')).toContain('application/trickle-ice-sdpfrag');
    const answer = res.body;
    // VP8 and its RTX under the viewer's numbering (45, 46), with NACK and the RTX SSRC group.
    expect(answer).toContain('m=video 9 UDP/TLS/RTP/SAVPF 45 46\r\n');
    expect(answer).toContain('a=rtpmap:45 VP8/90000');
    expect(answer).toContain('a=rtpmap:46 rtx/90000');
    expect(answer).toContain('a=fmtp:46 apt=45');
    expect(answer).toContain('a=rtcp-fb:45 nack\r\n');
    expect(answer).toMatch(/a=ssrc-group:FID \d+ \d+/);
    expect(answer).toContain('m=audio 9 UDP/TLS/RTP/SAVPF 63\r\n');
    expect(answer).toContain('a=rtpmap:63 opus/48000/2');
    expect(answer.match(/a=sendonly/g)).toHaveLength(2);
    expect(answer.match(/a=ssrc:\d+ cname:/g)).toHaveLength(3); // video, its RTX, audio
    expect(answer).toContain('a=msid:cam ');
    const session = [...node.whep.sessions.values()][0]!;
    expect(session.consumers.map((c) => c.type).sort()).toEqual(['simple', 'simulcast']);
    // The session is one `whep` output of the stream while it lasts.
    expect(node.outputs.list({ room: 'v1', identity: 'cam' }).filter((o) => o.kind === 'whep')).toEqual([
      expect.objectContaining({ url: res.headers.get('location'), stats: expect.objectContaining({ consumers: 2 }) }),
    ]);
    const del = await fetch(`${node.url}${res.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${viewer()}` } });
    expect(del.status).toBe(200);
    expect(node.whep.sessions.size).toBe(0);
    expect(node.outputs.list({ room: 'v1', identity: 'cam' }).filter((o) => o.kind === 'whep')).toEqual([]);
  });

  it('takes a layer preference from the query and from a JSON PATCH', async () => {
    const res = await postSdp(`${node.url}/whep/v1/cam?spatialLayer=0&temporalLayer=0`, fakeOffer({ direction: 'recvonly' }), viewer());
    expect(res.status, res.body).toBe(201);
    const session = [...node.whep.sessions.values()][0]!;
    const video = session.consumers.find((c) => c.kind === 'video')!;
    expect(video.preferredLayers).toEqual({ spatialLayer: 0, temporalLayer: 0 });
    const url = `${node.url}${res.headers.get('location')}`;
    const patch = (body: string) => fetch(url, { method: 'PATCH', headers: { authorization: `Bearer ${viewer()}`, 'content-type': 'application/json' }, body });
    expect((await patch('{"spatialLayer":2}')).status).toBe(204);
    expect(video.preferredLayers?.spatialLayer).toBe(2);
    const bad = await patch('{"spatialLayer":"high"}');
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/spatialLayer/);
    expect((await postSdp(`${node.url}/whep/v1/cam?spatialLayer=9`, fakeOffer({ direction: 'recvonly' }), viewer())).status).toBe(400);
    await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${viewer()}` } });
  });

  it('answers bad input with clear errors', async () => {
    const offer = fakeOffer({ direction: 'recvonly' });
    const cases: Array<[string, () => Promise<{ status: number; body: string }>, number, RegExp]> = [
      ['unknown room', () => postSdp(`${node.url}/whep/nope/cam`, offer, viewer('nope')), 404, /room nope does not exist/],
      ['unknown stream', () => postSdp(`${node.url}/whep/v1/ghost`, offer, viewer()), 404, /stream ghost is not live/],
      ['no token', () => postSdp(`${node.url}/whep/v1/cam`, offer), 401, /Authorization/],
      [
        'no canSubscribe',
        () => postSdp(`${node.url}/whep/v1/cam`, offer, tokenFor(node, { room: 'v1', identity: 'x', canSubscribe: false })),
        403,
        /subscribing/,
      ],
      ['other room', () => postSdp(`${node.url}/whep/v1/cam`, offer, viewer('v2')), 403, /not valid for room v1/],
      ['wrong content type', () => postSdp(`${node.url}/whep/v1/cam`, offer, viewer(), { 'content-type': 'application/json' }), 415, /application\/sdp/],
      ['malformed SDP', () => postSdp(`${node.url}/whep/v1/cam`, 'v=0\r\nm=video\r\n', viewer()), 400, /malformed m-line/],
      [
        'unsupported codecs',
        () => postSdp(`${node.url}/whep/v1/cam`, fakeOffer({ direction: 'recvonly', video: 'AV1', audio: false }), viewer()),
        415,
        /codecs/,
      ],
    ];
    for (const [what, send, status, message] of cases) {
      const res = await send();
      expect(res.status, `${what}: ${res.body}`).toBe(status);
      expect(JSON.parse(res.body).message, what).toMatch(message);
    }
    const del = await fetch(`${node.url}/whep/v1/cam/00000000-0000-0000-0000-000000000000`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${viewer()}` },
    });
    expect(del.status).toBe(404);
    expect(node.whep.sessions.size).toBe(0);
  });

  it('closes viewing sessions when the publisher leaves', async () => {
    const res = await postSdp(`${node.url}/whep/v1/cam`, fakeOffer({ direction: 'recvonly' }), viewer());
    expect(res.status).toBe(201);
    expect(node.whep.sessions.size).toBe(1);
    await fetch(`${node.url}${publisher}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${tokenFor(node, { room: 'v1', identity: 'cam', canPublish: true })}` },
    });
    await waitFor(() => node.whep.sessions.size === 0, { what: 'viewer session closed' });
  });
});
