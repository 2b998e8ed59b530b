/**
 * Kicks keep the identity out: the kick bans (room, identity) until the kicked token expires, and
 * every entry point refuses it — signaling join (FORBIDDEN), WHIP/WHEP (403), the MoQ relay (403).
 * First on one embedded node (bans in memory), then on two nodes sharing a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import { fakeOffer } from '../helpers/whipWhep';
import type { SubsecNode } from '../../src/SubsecNode';
import type { ConfigInput } from '../../src/config/schema';

const ADMIN = 'subsec-dev-admin-key';
const ROOM = 'mod';

async function admin(node: SubsecNode, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(node.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const token = (node: SubsecNode, identity: string, ttlSeconds = 600) =>
  node.tokens.issue({ room: ROOM, identity, canPublish: true, canSubscribe: true }, ttlSeconds);

/** Opens a socket and sends `join`; returns the client and the raw reply. */
async function join(node: SubsecNode, tok: string) {
  const c = await SignalingTestClient.connect(node.url);
  const reply = await c.request('join', { protocol: 1, token: tok });
  return { c, reply };
}

async function post(node: SubsecNode, kind: 'whip' | 'whep', stream: string, tok: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${node.url}/${kind}/${ROOM}/${stream}`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${tok}` },
    body: fakeOffer({ direction: kind === 'whip' ? 'sendonly' : 'recvonly' }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.text() };
}

/** The HTTP status the MoQ relay answers a WebSocket session set-up with (101 when accepted). */
function relayStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['qmux-02.moq-lite-04']);
    const t = setTimeout(() => reject(new Error('relay did not answer')), 5_000);
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(t);
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      clearTimeout(t);
      resolve(101);
      ws.terminate();
    });
    ws.once('error', () => undefined);
  });
}

const closedReason = (c: SignalingTestClient) => c.notifications.find((n) => n.notification === 'roomClosed')?.data?.reason;

describe('bans on one embedded node (memory)', () => {
  let node: SubsecNode;
  const clients: SignalingTestClient[] = [];
  beforeAll(async () => {
    node = await startNode({
      moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false } }, bridge: { enabled: false } },
      srt: { enabled: true, port: 0 },
    });
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await node?.close();
  });

  it('a kick bans the identity until its token expires: rejoin, a fresh token, WHIP, WHEP and MoQ are refused; others are not', async () => {
    const aliceToken = token(node, 'alice', 900);
    const alice = await join(node, aliceToken);
    const bob = await join(node, token(node, 'bob'));
    clients.push(alice.c, bob.c);
    expect(alice.reply.ok).toBe(true);
    expect(bob.reply.ok).toBe(true);

    expect((await admin(node, 'DELETE', `/v1/rooms/${ROOM}/participants/alice`)).status).toBe(204);
    await waitFor(() => closedReason(alice.c) === 'kicked', { what: 'alice told she was kicked' });

    const again = await join(node, aliceToken);
    clients.push(again.c);
    expect(again.reply.ok).toBe(false);
    expect(again.reply.error?.code).toBe('FORBIDDEN');
    expect(again.reply.error?.message).toMatch(/"alice" is banned from room mod until .* \(kicked\)/);
    // The ban is on the identity: a fresh token does not help.
    const fresh = await join(node, token(node, 'alice'));
    clients.push(fresh.c);
    expect(fresh.reply.error?.code).toBe('FORBIDDEN');

    // The ban lasts until the kicked token's expiry.
    const { json } = await admin(node, 'GET', `/v1/rooms/${ROOM}/bans`);
    expect(json.bans).toEqual([expect.objectContaining({ room: ROOM, identity: 'alice', reason: 'kicked' })]);
    expect(json.bans[0].expiresInSeconds).toBeGreaterThan(880);
    expect(json.bans[0].expiresInSeconds).toBeLessThanOrEqual(900);
    expect(Math.abs(Date.parse(json.bans[0].expiresAt) - JSON.parse(Buffer.from(aliceToken.split('.')[1]!, 'base64url').toString()).exp * 1000)).toBeLessThan(
      1000,
    );

    const whip = await post(node, 'whip', 'alice', aliceToken);
    expect(whip.status).toBe(403);
    expect(JSON.parse(whip.body)).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('banned') });
    expect((await post(node, 'whep', 'bob', aliceToken)).status).toBe(403);
    expect(await relayStatus(`${node.moqRelay!.addresses.url}/${ROOM}?jwt=${aliceToken}`)).toBe(403);

    // Everyone else is unaffected.
    expect(bob.c.notifications.some((n) => n.notification === 'roomClosed')).toBe(false);
    const carol = await join(node, token(node, 'carol'));
    clients.push(carol.c);
    expect(carol.reply.ok).toBe(true);
    expect((await post(node, 'whip', 'dave', token(node, 'dave'))).status).toBe(201);
    expect(await relayStatus(`${node.moqRelay!.addresses.url}/${ROOM}?jwt=${token(node, 'bob')}`)).toBe(101);
  }, 30_000);

  it('lifting the ban lets the identity back in; lifting it twice is 404', async () => {
    expect((await admin(node, 'DELETE', `/v1/rooms/${ROOM}/bans/alice`)).status).toBe(204);
    const back = await join(node, token(node, 'alice'));
    clients.push(back.c);
    expect(back.reply.ok).toBe(true);
    const again = await admin(node, 'DELETE', `/v1/rooms/${ROOM}/bans/alice`);
    expect(again.status).toBe(404);
    expect(again.json.code).toBe('NOT_FOUND');
  }, 20_000);

  it('banSeconds=0 kicks without a ban; banSeconds beyond bans.maxSeconds is a 400', async () => {
    const erin = await join(node, token(node, 'erin'));
    clients.push(erin.c);
    const tooLong = await admin(node, 'DELETE', `/v1/rooms/${ROOM}/participants/erin?banSeconds=99999999`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.message).toMatch(/query banSeconds/);
    expect((await admin(node, 'DELETE', `/v1/rooms/${ROOM}/participants/erin?banSeconds=0`)).status).toBe(204);
    await waitFor(() => closedReason(erin.c) === 'kicked', { what: 'erin kicked' });
    const back = await join(node, token(node, 'erin'));
    clients.push(back.c);
    expect(back.reply.ok).toBe(true);
  }, 20_000);

  it('an SRT caller of a banned identity is refused', async () => {
    expect((await admin(node, 'PUT', `/v1/rooms/${ROOM}/bans/cam`, {})).status).toBe(200);
    const tok = node.tokens.issue({ room: ROOM, identity: 'cam', canPublish: true }, 600);
    const url = `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=${ROOM}/cam,m=publish,t=${tok}&connect_timeout=3000`;
    const caller = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'warning',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=160x90:rate=10',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-f',
        'mpegts',
        url,
      ],
      { stdio: 'ignore' },
    );
    try {
      const code = await new Promise<number | null>((resolve) => caller.once('exit', resolve));
      expect(code).not.toBe(0);
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      expect(metrics).toMatch(/subsec_srt_rejected_total\{[^}]*reason="banned"[^}]*\} 1/);
      expect(node.rooms.get(ROOM)?.producersOf('cam') ?? []).toHaveLength(0);
    } finally {
      if (caller.exitCode === null) caller.kill('SIGKILL');
    }
    expect((await admin(node, 'DELETE', `/v1/rooms/${ROOM}/bans/cam`)).status).toBe(204);
  }, 20_000);

  it('PUT bans an identity for a given time (removing its sessions) and the ban ends on its own', async () => {
    const frank = await join(node, token(node, 'frank'));
    clients.push(frank.c);
    const put = await admin(node, 'PUT', `/v1/rooms/${ROOM}/bans/frank`, { seconds: 1, reason: 'spam' });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ room: ROOM, identity: 'frank', reason: 'spam', expiresInSeconds: 1 });
    await waitFor(() => closedReason(frank.c) === 'kicked', { what: 'frank removed' });
    const refused = await join(node, token(node, 'frank'));
    clients.push(refused.c);
    expect(refused.reply.error?.message).toMatch(/\(spam\)/);
    expect((await admin(node, 'GET', '/v1/bans')).json.bans.map((b: { identity: string }) => b.identity)).toEqual(['frank']);
    await waitFor(
      async () => {
        const j = await join(node, token(node, 'frank'));
        clients.push(j.c);
        return j.reply.ok;
      },
      { what: 'the 1 s ban to end', timeoutMs: 5_000, intervalMs: 200 },
    );
    expect((await admin(node, 'GET', '/v1/bans')).json.bans).toEqual([]);
  }, 20_000);
});

/** Overrides of a cascade node on the test Redis. */
function cascadeNode(id: string, redisUrl: string): ConfigInput {
  return { node: { id, region: 'r1' }, redis: { url: redisUrl, keyPrefix: 'bantest:' }, cascade: { coordinator: 'redis' } };
}

describe('bans across two nodes sharing a real Redis', () => {
  let redis: TestRedis;
  let a: SubsecNode;
  let b: SubsecNode;
  let probe: Redis;
  const clients: SignalingTestClient[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    a = await startNode(cascadeNode('a', redis.url));
    b = await startNode(cascadeNode('b', redis.url));
    probe = new Redis(redis.url);
    await waitFor(() => [a, b].every((n) => n.cascade.coordinator.liveNodes().length === 2), { what: 'both nodes registered' });
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    probe?.disconnect();
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.stop();
  });

  it('a kick on node A keeps the identity out of node B too, and removes its session there', async () => {
    const aliceToken = token(a, 'alice', 600);
    const onA = await join(a, aliceToken);
    const onB = await join(b, aliceToken);
    const bob = await join(b, token(b, 'bob'));
    clients.push(onA.c, onB.c, bob.c);
    expect([onA.reply.ok, onB.reply.ok, bob.reply.ok]).toEqual([true, true, true]);

    expect((await admin(a, 'DELETE', `/v1/rooms/${ROOM}/participants/alice`)).status).toBe(204);
    // Stored in Redis under the key prefix, with a TTL near the token's remaining life.
    const ttl = await probe.pttl(`bantest:{r:${ROOM}}:ban:alice`);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);

    // At once on the other node (its join reads Redis).
    const rejoinB = await join(b, aliceToken);
    clients.push(rejoinB.c);
    expect(rejoinB.reply.error?.code).toBe('FORBIDDEN');
    const rejoinA = await join(a, aliceToken);
    clients.push(rejoinA.c);
    expect(rejoinA.reply.error?.code).toBe('FORBIDDEN');

    // B heard of the ban and removed alice's session there; bob stays.
    await waitFor(() => closedReason(onB.c) === 'kicked', { what: "alice's session on B removed" });
    expect(closedReason(onA.c)).toBe('kicked');
    expect(bob.c.notifications.some((n) => n.notification === 'roomClosed')).toBe(false);
    expect(b.rooms.get(ROOM)!.participants.map((p) => p.identity)).not.toContain('alice');

    // WHIP and WHEP on B (its copy of the bans) refuse alice, not bob.
    expect((await post(b, 'whip', 'alice', aliceToken)).status).toBe(403);
    expect((await post(b, 'whep', 'bob', aliceToken)).status).toBe(403);
    const carol = await join(b, token(b, 'carol'));
    clients.push(carol.c);
    expect(carol.reply.ok).toBe(true);

    // Both nodes list it.
    for (const n of [a, b])
      expect((await admin(n, 'GET', `/v1/bans?room=${ROOM}`)).json.bans).toEqual([expect.objectContaining({ identity: 'alice', reason: 'kicked' })]);
  }, 30_000);

  it('lifting the ban on node B lets the identity back in on node A', async () => {
    expect((await admin(b, 'DELETE', `/v1/rooms/${ROOM}/bans/alice`)).status).toBe(204);
    expect(await probe.exists(`bantest:{r:${ROOM}}:ban:alice`)).toBe(0);
    const back = await join(a, token(a, 'alice'));
    clients.push(back.c);
    expect(back.reply.ok).toBe(true);
    await waitFor(() => a.moderation.store.cached(ROOM, 'alice') === undefined, { what: "A's copy updated" });
    expect((await post(a, 'whep', 'bob', token(a, 'alice'))).status).not.toBe(403);
  }, 20_000);
});
