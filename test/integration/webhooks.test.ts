/**
 * Webhooks against a real HTTP receiver started by the test: signatures, order per room,
 * retries after 500s and timeouts, giving up (counted), and a hanging receiver that must slow
 * neither signaling nor media.
 */
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { ConfigInput } from '../../src/config/schema';
import { verifyWebhookSignature } from '../../src/webhooks/signature';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import { fakeOffer, postSdp, tokenFor } from '../helpers/whipWhep';
import { startRedis } from '../../loadtest/core/redisServer';
import { WebhookReceiver } from '../helpers/webhookReceiver';

const SECRET = 'webhook-test-secret-0123456789';
const ADMIN = 'subsec-dev-admin-key';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  webhooks: Record<string, unknown>,
  extra: ConfigInput = {},
  respond?: WebhookReceiver['respond'],
): Promise<{ node: SubsecNode; receiver: WebhookReceiver }> {
  const receiver = await WebhookReceiver.start();
  if (respond) receiver.respond = respond;
  cleanups.push(() => receiver.close());
  const node = await startNode({ webhooks: { endpoints: [{ url: receiver.url }], secret: SECRET, ...webhooks }, ...extra } as ConfigInput);
  cleanups.push(() => node.close());
  return { node, receiver };
}

async function client(node: SubsecNode, room: string, identity: string): Promise<{ c: SignalingTestClient; peerId: string }> {
  const c = await SignalingTestClient.connect(node.url);
  cleanups.push(() => c.close());
  const token = node.tokens.issue({ room, identity, canPublish: true });
  const { peerId } = await c.call('join', { protocol: 1, token });
  return { c, peerId };
}

const VP8 = {
  codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
  encodings: [{ ssrc: 4242 }],
  headerExtensions: [],
  rtcp: { cname: 'wh' },
};

/** join → publish → mute → unmute → unpublish → leave, in one room. */
async function activity(node: SubsecNode, room: string, identity = 'alice'): Promise<void> {
  const { c } = await client(node, room, identity);
  const { transportId } = await c.call('createTransport', { direction: 'send' });
  const { producerId } = await c.call('produce', { transportId, kind: 'video', rtpParameters: VP8 });
  await c.call('pauseProducer', { producerId });
  await c.call('resumeProducer', { producerId });
  await c.call('closeProducer', { producerId });
  await c.call('leave');
}

const ACTIVITY_TYPES = ['room.started', 'participant.joined', 'track.published', 'track.muted', 'track.unmuted', 'track.unpublished', 'participant.left'];

async function metric(node: SubsecNode, name: string, label: string): Promise<number> {
  const text = await (await fetch(node.url + '/metrics')).text();
  const lines = text.split('\n').filter((l) => l.startsWith(name + '{') && l.includes(label));
  // No sample at all is a renamed metric or label, not a zero.
  if (lines.length === 0) throw new Error(`no sample of ${name} with ${label}`);
  return lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

describe('webhooks', () => {
  it("signs every event (HMAC-SHA256 over timestamp and body) and delivers a room's events in order", async () => {
    const { node, receiver } = await setup({});
    await activity(node, 'wh-order');
    const { c: stays } = await client(node, 'wh-order', 'bob');
    const { peerId: kicked } = await client(node, 'wh-order', 'carol');
    await fetch(`${node.url}/v1/rooms/wh-order/participants/${kicked}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    await fetch(`${node.url}/v1/rooms/wh-order`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    await waitFor(() => receiver.delivered('wh-order').some((e) => e.type === 'room.finished'), { what: 'room.finished' });
    stays.close();

    const types = receiver.delivered('wh-order').map((e) => e.type);
    expect(types).toEqual([...ACTIVITY_TYPES, 'participant.joined', 'participant.joined', 'participant.left', 'participant.left', 'room.finished']);
    const events = receiver.delivered('wh-order');
    expect(events.at(-3)!.data).toMatchObject({ identity: 'carol', reason: 'kicked' });
    expect(events.at(-2)!.data).toMatchObject({ identity: 'bob', reason: 'admin' });
    expect(events.at(-1)!.data).toMatchObject({ reason: 'admin' });
    expect(events.find((e) => e.type === 'track.published')!.data).toMatchObject({ identity: 'alice', kind: 'video', type: 'simple' });
    expect(receiver.delivered().some((e) => e.type === 'node.started' && e.room === undefined)).toBe(true);

    for (const r of receiver.requests) {
      expect(verifyWebhookSignature(SECRET, r.headers['subsec-signature'] as string, r.raw)).toBeNull();
      // Independently of the library: t=<ts>,v1=hex(HMAC-SHA256(secret, `${ts}.${body}`)).
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.headers['subsec-signature'] as string)!;
      expect(crypto.createHmac('sha256', SECRET).update(`${m[1]}.${r.raw}`).digest('hex')).toBe(m[2]);
      expect(Math.abs(Number(m[1]) - Date.now() / 1000)).toBeLessThan(60);
      expect(r.headers['subsec-event-id']).toBe(r.event.id);
      expect(r.headers['subsec-event-type']).toBe(r.event.type);
      expect(r.headers['subsec-delivery-attempt']).toBe('1');
      expect(r.event.node).toBe('test-node');
    }
    const sample = receiver.requests[0]!;
    expect(verifyWebhookSignature('another-secret-0123456789', sample.headers['subsec-signature'] as string, sample.raw)).toBe('mismatch');
    expect(verifyWebhookSignature(SECRET, sample.headers['subsec-signature'] as string, sample.raw.replace('test-node', 'evil-node'))).toBe('mismatch');
    expect(verifyWebhookSignature(SECRET, sample.headers['subsec-signature'] as string, sample.raw, { nowMs: Date.now() + 3600_000 })).toBe('expired');
  });

  it('retries after 500s with backoff, never letting a later event of the room overtake', async () => {
    const { node, receiver } = await setup({ backoffMs: 20, backoffMaxMs: 100, maxAttempts: 5 });
    receiver.respond = (e, attempt) => (e.room === 'wh-retry' && attempt < 3 ? 500 : 200);
    await activity(node, 'wh-retry');
    await waitFor(() => receiver.delivered('wh-retry').length === ACTIVITY_TYPES.length, { what: 'all events delivered' });
    expect(receiver.delivered('wh-retry').map((e) => e.type)).toEqual(ACTIVITY_TYPES);
    const attempts = receiver.requests.filter((r) => r.event.room === 'wh-retry');
    expect(attempts).toHaveLength(ACTIVITY_TYPES.length * 3);
    // Attempts of one event are contiguous, same id, numbered 1..3: nothing overtook it.
    for (let i = 0; i < ACTIVITY_TYPES.length; i++) {
      const group = attempts.slice(i * 3, i * 3 + 3);
      expect(new Set(group.map((r) => r.event.id)).size).toBe(1);
      expect(group.map((r) => r.headers['subsec-delivery-attempt'])).toEqual(['1', '2', '3']);
      expect(group.map((r) => r.status)).toEqual([500, 500, 200]);
    }
    expect(await metric(node, 'subsec_webhook_attempts_total', 'outcome="failed"')).toBe(ACTIVITY_TYPES.length * 2);
  });

  it('retries when the receiver does not answer in time', async () => {
    const { node, receiver } = await setup({ timeoutMs: 300, backoffMs: 20, backoffMaxMs: 50 });
    receiver.respond = (e, attempt) => (e.room === 'wh-timeout' && attempt === 1 ? 'hang' : 200);
    await activity(node, 'wh-timeout');
    await waitFor(() => receiver.delivered('wh-timeout').length === ACTIVITY_TYPES.length, { what: 'all events delivered', timeoutMs: 15_000 });
    expect(receiver.delivered('wh-timeout').map((e) => e.type)).toEqual(ACTIVITY_TYPES);
    expect(receiver.requests.filter((r) => r.event.room === 'wh-timeout' && r.status === 200).every((r) => r.headers['subsec-delivery-attempt'] === '2')).toBe(
      true,
    );
  });

  it('gives up after maxAttempts (counted and logged) while other rooms keep being delivered', async () => {
    const { node, receiver } = await setup({ backoffMs: 10, backoffMaxMs: 20, maxAttempts: 2 });
    receiver.respond = (e) => (e.room === 'wh-dead' ? 500 : 200);
    await activity(node, 'wh-dead');
    await activity(node, 'wh-alive', 'bob');
    await waitFor(() => receiver.delivered('wh-alive').length === ACTIVITY_TYPES.length, { what: 'other room delivered' });
    await waitFor(async () => (await metric(node, 'subsec_webhook_undeliverable_total', 'reason="attempts_exhausted"')) === ACTIVITY_TYPES.length, {
      what: 'undeliverable counted',
    });
    expect(receiver.requests.filter((r) => r.event.room === 'wh-dead')).toHaveLength(ACTIVITY_TYPES.length * 2);
  });

  it('a hanging receiver slows neither signaling nor media, and overflow is counted', async () => {
    const { node, receiver } = await setup(
      { timeoutMs: 30_000, maxQueuedEvents: 20, maxConcurrent: 4 },
      { synthetic: { enabled: true, room: 'wh-media', width: 160, height: 96, fps: 15, bitrateKbps: 150 } },
      () => 'hang',
    );
    await waitFor(() => receiver.requests.length >= 1, { what: 'receiver hanging on a first request' });

    // Signaling: joins and round trips while every delivery hangs.
    const joinMs: number[] = [];
    const pingMs: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      const { c } = await client(node, `wh-load-${i % 6}`, `u${i}`);
      joinMs.push(performance.now() - t0);
      for (let k = 0; k < 5; k++) {
        const t1 = performance.now();
        await c.call('ping', { clientTime: Date.now() });
        pingMs.push(performance.now() - t1);
      }
      await c.call('leave');
    }
    joinMs.sort((a, b) => a - b);
    pingMs.sort((a, b) => a - b);
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
    expect(median(joinMs)).toBeLessThan(250);
    expect(median(pingMs)).toBeLessThan(50);

    // Media: the synthetic stream's producer keeps receiving.
    const room = await waitFor(() => node.rooms.get('wh-media'), { what: 'media room' });
    const video = room.producerInfos().find((p) => p.kind === 'video')!;
    const bytes = async () => {
      const stats = (await room.getProducer(video.producerId)!.producer.getStats()) as Array<{ byteCount?: number }>;
      return stats.reduce((n, s) => n + (s.byteCount ?? 0), 0);
    };
    const b0 = await waitFor(bytes, { what: 'first media bytes' });
    await waitFor(async () => (await bytes()) > b0 + 5_000, { what: 'media still flowing', timeoutMs: 10_000 });

    expect(receiver.delivered()).toEqual([]);
    expect(await metric(node, 'subsec_webhook_queued_events', 'endpoint=')).toBeGreaterThan(0);
    expect(await metric(node, 'subsec_webhook_undeliverable_total', 'reason="queue_full"')).toBeGreaterThan(0);

    // Closing with deliveries hanging is immediate and counts what is left.
    const t0 = performance.now();
    await node.close();
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('reports a WHIP contribution as ingest.started and ingest.ended', async () => {
    const { node, receiver } = await setup({});
    const token = tokenFor(node, { room: 'ingest-hooks', identity: 'encoder-1', canPublish: true });
    const res = await postSdp(`${node.url}/whip/ingest-hooks/encoder-1`, fakeOffer(), token);
    expect(res.status).toBe(201);
    const started = await waitFor(() => receiver.delivered('ingest-hooks').find((e) => e.type === 'ingest.started'), { what: 'ingest.started' });
    expect(started.data).toMatchObject({ protocol: 'whip', identity: 'encoder-1' });
    await fetch(`${node.url}${res.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    const ended = await waitFor(() => receiver.delivered('ingest-hooks').find((e) => e.type === 'ingest.ended'), { what: 'ingest.ended' });
    expect(ended.data).toMatchObject({ protocol: 'whip', identity: 'encoder-1', ingestId: started.data.ingestId });
  });

  it('reports cascade nodes joining and leaving as node.joined and node.left', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const cascade = { redis: { url: redis.url, keyPrefix: 'wh-nodes:' }, cascade: { coordinator: 'redis' as const } };
    const { receiver } = await setup({}, { node: { id: 'hooked' }, ...cascade });
    const other = await startNode({ node: { id: 'newcomer' }, ...cascade });
    const joined = await waitFor(() => receiver.delivered().find((e) => e.type === 'node.joined' && e.data.nodeId === 'newcomer'), { what: 'node.joined' });
    expect(joined.data).toMatchObject({ nodeId: 'newcomer' });
    await other.close();
    await waitFor(() => receiver.delivered().find((e) => e.type === 'node.left' && e.data.nodeId === 'newcomer'), { what: 'node.left', timeoutMs: 10_000 });
  });
});
