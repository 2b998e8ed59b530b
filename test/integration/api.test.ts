/**
 * The REST admin API against a real node (mediasoup worker, ffmpeg synthetic source, signaling
 * clients): every route with valid, unauthorised and malformed requests; responses checked
 * against the OpenAPI document the node serves, which itself must be a valid OpenAPI 3.1 document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';

const ADMIN = 'api-test-admin-key';
const VP8_PARAMS = (ssrc: number) => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
  encodings: [{ ssrc }],
  headerExtensions: [],
  rtcp: { cname: `c${ssrc}` },
});

let node: SubsecNode;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
const clients: SignalingTestClient[] = [];

/** Calls the API; checks the body against the document's schema for this operation and status. */
async function call(method: string, template: string, path: string, opts: { auth?: string | null; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? ADMIN : opts.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(node.url + path, { method, headers, body: opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined) });
  const text = await res.text();
  const body = text ? JSON.parse(text) : undefined;
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${method} ${template} is documented`).toBeDefined();
  const documented = op.responses[String(res.status)];
  expect(documented, `${method} ${template} documents status ${res.status} (${text.slice(0, 200)})`).toBeDefined();
  const schema = documented.content?.['application/json']?.schema;
  if (schema) {
    const validate = ajv.compile({ ...schema, components: doc.components });
    expect(validate(body), `${method} ${path} → ${res.status} matches its schema: ${ajv.errorsText(validate.errors)}`).toBe(true);
  } else {
    expect(text).toBe('');
  }
  return { status: res.status, body };
}

async function joined(room: string, identity: string, publish = true): Promise<{ client: SignalingTestClient; join: any }> {
  const token = node.tokens.issue({ room, identity, canPublish: publish, canSubscribe: true });
  const client = await SignalingTestClient.connect(node.url);
  clients.push(client);
  const join = await client.call('join', { protocol: 1, token });
  return { client, join };
}

beforeAll(async () => {
  node = await startNode({
    auth: { adminKey: ADMIN },
    synthetic: { enabled: true, room: 'synth', width: 160, height: 96, fps: 15, bitrateKbps: 150 },
  });
  doc = await (await fetch(node.url + '/v1/openapi.json')).json();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await node?.close();
});

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('documents exactly the operations the node answers, each refusing anonymous callers where auth is required', async () => {
    const ops: Array<[string, string, any]> = [];
    for (const [p, item] of Object.entries<any>(doc.paths)) for (const [m, op] of Object.entries<any>(item)) ops.push([m.toUpperCase(), p, op]);
    expect(ops.map(([m, p]) => `${m} ${p}`).sort()).toEqual(
      [
        'POST /v1/tokens',
        'GET /v1/ice-servers',
        'GET /demo/token',
        'GET /v1/rooms',
        'GET /v1/rooms/{room}',
        'DELETE /v1/rooms/{room}',
        'GET /v1/rooms/{room}/participants',
        'GET /v1/rooms/{room}/participants/{participant}',
        'DELETE /v1/rooms/{room}/participants/{participant}',
        'POST /v1/rooms/{room}/tracks/{track}/mute',
        'POST /v1/rooms/{room}/tracks/{track}/unmute',
        'GET /v1/bans',
        'GET /v1/rooms/{room}/bans',
        'PUT /v1/rooms/{room}/bans/{identity}',
        'DELETE /v1/rooms/{room}/bans/{identity}',
        'GET /v1/streams',
        'GET /v1/streams/{room}/{identity}',
        'GET /v1/nodes',
        'POST /v1/recordings',
        'GET /v1/recordings',
        'DELETE /v1/recordings/{id}',
        'GET /v1/qoe',
        'POST /v1/rooms/{room}/streams/{stream}/restreams',
        'GET /v1/rooms/{room}/streams/{stream}/restreams',
        'GET /v1/rooms/{room}/streams/{stream}/restreams/{id}',
        'DELETE /v1/rooms/{room}/streams/{stream}/restreams/{id}',
        'GET /v1/rooms/{room}/streams/{stream}/ladder',
        'GET /v1/ingest/backup',
        'GET /v1/ingest/backup/{room}/{stream}',
      ].sort(),
    );
    for (const [method, template, op] of ops) {
      const path = template.replace(/\{[^}]+\}/g, 'x');
      const res = await fetch(node.url + path, { method });
      if (op.security.length === 0) {
        expect(res.status, `${method} ${path}`).toBe(200);
      } else {
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(await res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
      }
    }
  });
});

describe('auth', () => {
  it('accepts the admin key or an admin token, refuses a wrong key (401) and a non-admin token (403)', async () => {
    expect((await call('GET', '/v1/rooms', '/v1/rooms', { auth: 'wrong-key' })).body).toMatchObject({ code: 'UNAUTHENTICATED' });
    const client = node.tokens.issue({ room: 'a', identity: 'u' });
    const r403 = await call('GET', '/v1/rooms', '/v1/rooms', { auth: client });
    expect(r403.status).toBe(403);
    expect(r403.body.code).toBe('FORBIDDEN');
    const admin = node.tokens.issue({ room: '*', identity: 'ops', admin: true });
    expect((await call('GET', '/v1/rooms', '/v1/rooms', { auth: admin })).status).toBe(200);
  });
});

describe('tokens', () => {
  it('issues a verifiable token with grants, expiry and (without TURN) no ICE servers', async () => {
    const r = await call('POST', '/v1/tokens', '/v1/tokens', { body: { room: 'r', identity: 'alice', canPublish: true, ttlSeconds: 60 } });
    expect(r.status).toBe(201);
    expect(await node.tokens.verify(r.body.token)).toMatchObject({ room: 'r', identity: 'alice', canPublish: true, canSubscribe: true });
    expect(Date.parse(r.body.expiresAt) - Date.now()).toBeLessThanOrEqual(61_000);
    expect(r.body.iceServers).toEqual([]);
  });

  it('rejects malformed bodies with a clear {code, message}', async () => {
    const notJson = await call('POST', '/v1/tokens', '/v1/tokens', { raw: '{"room":' });
    expect(notJson).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST', message: 'body must be JSON' } });
    const unknown = await call('POST', '/v1/tokens', '/v1/tokens', { body: { room: 'r', identity: 'a', superuser: true } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/superuser/);
    const badTtl = await call('POST', '/v1/tokens', '/v1/tokens', { body: { room: 'r', identity: 'a', ttlSeconds: 1 } });
    expect(badTtl.status).toBe(400);
    expect(badTtl.body.message).toMatch(/ttlSeconds/);
    const missing = await call('POST', '/v1/tokens', '/v1/tokens', { body: {} });
    expect(missing.body.message).toMatch(/room/);
  });

  it('gives ICE servers to the bearer of any valid client token', async () => {
    const token = node.tokens.issue({ room: 'r', identity: 'bob' });
    const r = await call('GET', '/v1/ice-servers', '/v1/ice-servers', { auth: token });
    expect(r).toMatchObject({ status: 200, body: { iceServers: [], expiresAt: null } });
    expect((await call('GET', '/v1/ice-servers', '/v1/ice-servers', { auth: 'garbage' })).status).toBe(401);
  });

  it('serves demo tokens without credentials when demo tokens are on', async () => {
    const r = await call('GET', '/demo/token', '/demo/token?room=demo1&identity=carol', { auth: null });
    expect(r.body).toMatchObject({ room: 'demo1', identity: 'carol', iceServers: [] });
    expect((await call('GET', '/demo/token', '/demo/token?room=bad%20room', { auth: null })).status).toBe(400);
  });
});

describe('rooms, participants and tracks', () => {
  it('lists rooms page by page, sorted, with counts', async () => {
    await joined('api-b', 'b1');
    await joined('api-a', 'a1');
    await joined('api-a', 'a2');
    await waitFor(() => node.rooms.get('synth')?.producerInfos().length === 2, { what: 'synthetic source publishing' });
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/rooms?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await call('GET', '/v1/rooms', q);
      expect(r.body.rooms.length).toBe(1);
      names.push(r.body.rooms[0].name);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(names).toEqual(['api-a', 'api-b', 'synth']);
    const all = await call('GET', '/v1/rooms', '/v1/rooms');
    expect(all.body.rooms.find((r: any) => r.name === 'api-a')).toMatchObject({ participantCount: 2, trackCount: 0, routerCount: 1 });
    expect(all.body.rooms.find((r: any) => r.name === 'synth')).toMatchObject({ participantCount: 1, trackCount: 2 });
    for (const bad of ['/v1/rooms?limit=0', '/v1/rooms?limit=abc', '/v1/rooms?cursor=nonsense', '/v1/rooms?sort=name']) {
      const r = await call('GET', '/v1/rooms', bad);
      expect(r.status, bad).toBe(400);
      expect(r.body.code).toBe('BAD_REQUEST');
    }
  });

  it('inspects a room and its participants, with 404 and 400 for unknown and malformed names', async () => {
    const r = await call('GET', '/v1/rooms/{room}', '/v1/rooms/api-a');
    expect(r.body.participants.map((p: any) => p.identity).sort()).toEqual(['a1', 'a2']);
    expect(r.body.routers[0]).toMatchObject({ workerIndex: 0 });
    const page = await call('GET', '/v1/rooms/{room}/participants', '/v1/rooms/api-a/participants?limit=1');
    expect(page.body.participants).toHaveLength(1);
    expect(page.body.nextCursor).toBeTruthy();
    const second = await call('GET', '/v1/rooms/{room}/participants', `/v1/rooms/api-a/participants?limit=1&cursor=${page.body.nextCursor}`);
    expect(second.body.participants[0].id).not.toBe(page.body.participants[0].id);
    expect(second.body.nextCursor).toBeNull();
    const one = await call('GET', '/v1/rooms/{room}/participants/{participant}', `/v1/rooms/api-a/participants/${page.body.participants[0].id}`);
    expect(one.body).toMatchObject({ id: page.body.participants[0].id, kind: 'sdk', tracks: [] });
    expect((await call('GET', '/v1/rooms/{room}', '/v1/rooms/nope')).body.code).toBe('NOT_FOUND');
    expect((await call('GET', '/v1/rooms/{room}/participants/{participant}', '/v1/rooms/api-a/participants/nobody')).status).toBe(404);
    expect((await call('GET', '/v1/rooms/{room}', '/v1/rooms/bad%20name!')).status).toBe(400);
  });

  it('mutes and unmutes a track, telling subscribers and the publisher', async () => {
    const pub = await joined('api-mute', 'speaker');
    const sub = await joined('api-mute', 'listener');
    const { transportId } = await pub.client.call('createTransport', { direction: 'send' });
    const { producerId } = await pub.client.call('produce', { transportId, kind: 'video', rtpParameters: VP8_PARAMS(1234) });
    const muted = await call('POST', '/v1/rooms/{room}/tracks/{track}/mute', `/v1/rooms/api-mute/tracks/${producerId}/mute`);
    expect(muted.body).toMatchObject({ id: producerId, paused: true, identity: 'speaker', kind: 'video' });
    await waitFor(() => pub.client.notifications.some((n) => n.notification === 'producerPaused' && n.data.producerId === producerId), {
      what: 'publisher told',
    });
    await waitFor(() => sub.client.notifications.some((n) => n.notification === 'producerPaused' && n.data.producerId === producerId), {
      what: 'subscriber told',
    });
    const unmuted = await call('POST', '/v1/rooms/{room}/tracks/{track}/unmute', `/v1/rooms/api-mute/tracks/${producerId}/unmute`);
    expect(unmuted.body.paused).toBe(false);
    await waitFor(() => pub.client.notifications.some((n) => n.notification === 'producerResumed'), { what: 'publisher told of resume' });
    expect((await call('POST', '/v1/rooms/{room}/tracks/{track}/mute', '/v1/rooms/api-mute/tracks/nope/mute')).status).toBe(404);
    expect((await call('POST', '/v1/rooms/{room}/tracks/{track}/mute', `/v1/rooms/nope/tracks/${producerId}/mute`)).status).toBe(404);
  });

  it('kicks a participant: it is told, the others see it leave', async () => {
    const victim = await joined('api-kick', 'victim');
    const stays = await joined('api-kick', 'stays');
    const kicked = await call('DELETE', '/v1/rooms/{room}/participants/{participant}', `/v1/rooms/api-kick/participants/${victim.join.peerId}`);
    expect(kicked.status).toBe(204);
    await waitFor(() => victim.client.notifications.some((n) => n.notification === 'roomClosed' && n.data.reason === 'kicked'), { what: 'kicked notice' });
    await waitFor(() => stays.client.notifications.some((n) => n.notification === 'peerLeft' && n.data.peerId === victim.join.peerId), { what: 'peerLeft' });
    expect(node.rooms.get('api-kick')!.participants.map((p) => p.identity)).toEqual(['stays']);
    expect((await call('DELETE', '/v1/rooms/{room}/participants/{participant}', `/v1/rooms/api-kick/participants/${victim.join.peerId}`)).status).toBe(404);
    // By identity: every session of that identity goes.
    expect((await call('DELETE', '/v1/rooms/{room}/participants/{participant}', '/v1/rooms/api-kick/participants/stays')).status).toBe(204);
    expect(node.rooms.get('api-kick')?.participants ?? []).toHaveLength(0);
  });

  it('closes a room: participants are told, then it is gone', async () => {
    const { client } = await joined('api-close', 'x');
    expect((await call('DELETE', '/v1/rooms/{room}', '/v1/rooms/api-close')).status).toBe(204);
    await waitFor(() => client.notifications.some((n) => n.notification === 'roomClosed' && n.data.reason === 'admin'), { what: 'roomClosed' });
    expect((await call('GET', '/v1/rooms/{room}', '/v1/rooms/api-close')).status).toBe(404);
    expect((await call('DELETE', '/v1/rooms/{room}', '/v1/rooms/api-close')).status).toBe(404);
  });
});

describe('streams', () => {
  it('lists streams with live bitrate, consumers and registered outputs', async () => {
    const viewer = await joined('synth', 'viewer', false);
    await viewer.client.call('setRtpCapabilities', { rtpCapabilities: viewer.join.routerRtpCapabilities });
    const { transportId } = await viewer.client.call('createTransport', { direction: 'recv' });
    const video = viewer.join.producers.find((p: any) => p.kind === 'video');
    await viewer.client.call('consume', { transportId, producerId: video.producerId });
    const hls = node.outputs.register({
      kind: 'hls',
      room: 'synth',
      identity: 'synthetic',
      url: '/hls/synth/synthetic/index.m3u8',
      stats: () => ({ viewers: 3 }),
    });
    try {
      const stream = await waitFor(
        async () => {
          const r = await call('GET', '/v1/streams', '/v1/streams?room=synth');
          const s = r.body.streams.find((x: any) => x.id === 'synth/synthetic');
          return s && s.bitrateBps > 0 ? s : undefined;
        },
        { what: 'synthetic stream with bitrate', timeoutMs: 15_000, intervalMs: 300 },
      );
      expect(stream.tracks.map((t: any) => t.kind).sort()).toEqual(['audio', 'video']);
      expect(stream.consumers).toBe(1);
      expect(stream.tracks.find((t: any) => t.kind === 'video').consumers).toBe(1);
      expect(stream.outputs).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'webrtc', stats: { consumers: 1 } }),
          expect.objectContaining({ kind: 'hls', url: '/hls/synth/synthetic/index.m3u8', stats: { viewers: 3 } }),
        ]),
      );
      const one = await call('GET', '/v1/streams/{room}/{identity}', '/v1/streams/synth/synthetic');
      expect(one.body.id).toBe('synth/synthetic');
    } finally {
      hls.close();
    }
    const after = await call('GET', '/v1/streams/{room}/{identity}', '/v1/streams/synth/synthetic');
    expect(after.body.outputs.some((o: any) => o.kind === 'hls')).toBe(false);
    expect((await call('GET', '/v1/streams/{room}/{identity}', '/v1/streams/synth/nobody')).status).toBe(404);
    expect((await call('GET', '/v1/streams', '/v1/streams?room=bad%20room')).status).toBe(400);
    const all = await call('GET', '/v1/streams', '/v1/streams?limit=500');
    expect(all.body.streams.map((s: any) => s.id)).toContain('synth/synthetic');
  });
});

describe('nodes', () => {
  it('lists this node with its workers and load', async () => {
    const r = await call('GET', '/v1/nodes', '/v1/nodes');
    expect(r.body.nodes).toHaveLength(1);
    expect(r.body.nodes[0]).toMatchObject({ id: 'test-node', self: true, draining: false, webRtcServers: [] });
    expect(r.body.nodes[0].workers).toHaveLength(1);
    expect(r.body.nodes[0].rooms).toBeGreaterThanOrEqual(1);
  });
});

describe('recordings', () => {
  // The real recorder (LL-HLS) is driven through this API in hls-recording.test.ts; here: a node
  // whose recorder is absent (HLS off) answers 501 and still validates first.
  it('answers 501 NOT_IMPLEMENTED when no recorder is available, and validates first', async () => {
    const withRecorder = node;
    const hlsOff = await startNode({ auth: { adminKey: ADMIN }, hls: { enabled: false } });
    expect(hlsOff.recorder).toBeUndefined();
    node = hlsOff;
    try {
      const start = await call('POST', '/v1/recordings', '/v1/recordings', { body: { room: 'synth', identity: 'synthetic' } });
      expect(start.status).toBe(501);
      expect(start.body.code).toBe('NOT_IMPLEMENTED');
      expect((await call('GET', '/v1/recordings', '/v1/recordings')).status).toBe(501);
      expect((await call('DELETE', '/v1/recordings/{id}', '/v1/recordings/abc')).status).toBe(501);
      expect((await call('POST', '/v1/recordings', '/v1/recordings', { body: { room: 'synth' } })).status).toBe(400);
    } finally {
      node = withRecorder;
      await hlsOff.close();
    }
  });
});
