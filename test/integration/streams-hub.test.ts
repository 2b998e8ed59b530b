/**
 * The stream hub on a real node (one mediasoup worker): streams start and end with their
 * publisher's tracks, leases come at once for local streams and 404 for unknown ones (through
 * the in-memory coordinator, the same path a cascade takes), consumers made through the hub count
 * against the router's budget — SDK subscribers and WHEP viewers included, refused with CAPACITY
 * past `sfu.maxConsumersPerWorker` — attached outputs are listed in /v1/streams, and the node closes
 * its components in the reverse of their start order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { PlainRtpPublisher } from '../../src/ingest/PlainRtpPublisher';
import type { Stream } from '../../src/streams/Stream';
import { NotFoundError, UnavailableError } from '../../src/core/errors';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { fakeOffer, postSdp, tokenFor } from '../helpers/whipWhep';

const ADMIN = 'hub-admin-key-0123456789';
let node: SubsecNode;

beforeAll(async () => {
  node = await startNode({ auth: { adminKey: ADMIN }, hls: { enabled: false }, moq: { enabled: false } });
}, 30_000);

afterAll(async () => {
  await node?.close();
});

async function publish(room: string, identity: string): Promise<PlainRtpPublisher> {
  const publisher = new PlainRtpPublisher({
    room: await node.rooms.getOrCreate(room),
    identity,
    kind: 'plain',
    videoCodec: 'VP8',
    audio: true,
    listenIp: '127.0.0.1',
  });
  await publisher.start();
  return publisher;
}

describe('stream hub', () => {
  it('starts a stream with its first track and ends it with its last', async () => {
    const started: Stream[] = [];
    const ended: Array<[string, string]> = [];
    node.streams.on('streamStarted', (s) => started.push(s));
    node.streams.on('streamEnded', (s, reason) => ended.push([s.identity, reason]));
    const publisher = await publish('hub-a', 'alice');
    const stream = node.streams.get('hub-a', 'alice')!;
    expect(started).toEqual([stream]);
    expect(stream.tracks.map((t) => t.kind).sort()).toEqual(['audio', 'video']);
    expect(stream.track('video')!.kind).toBe('video');
    expect(stream.origin).toEqual({ type: 'local' });
    expect(node.streams.list({ room: 'hub-a' })).toEqual([stream]);
    const endedOnStream = new Promise<string>((resolve) => stream.once('ended', resolve));
    publisher.close();
    expect(await endedOnStream).toBe('its last track ended');
    expect(ended).toEqual([['alice', 'its last track ended']]);
    expect(node.streams.get('hub-a', 'alice')).toBeUndefined();
    expect(stream.ended).toBe(true);
  });

  it('leases a local stream at once and refuses an unknown one with 404', async () => {
    const publisher = await publish('hub-b', 'bob');
    try {
      const t0 = Date.now();
      const lease = await node.streams.acquire('hub-b', 'bob');
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(lease.stream).toBe(node.streams.get('hub-b', 'bob'));
      const second = await node.streams.acquire('hub-b', 'bob');
      lease.release();
      lease.release();
      second.release();
      await expect(node.streams.acquire('hub-b', 'ghost')).rejects.toThrow(NotFoundError);
      await expect(node.streams.acquire('hub-b', 'ghost')).rejects.toThrow(/stream ghost is not live in room hub-b/);
      await expect(node.streams.acquire('nowhere', 'bob')).rejects.toThrow(/room nowhere does not exist/);
      await expect(node.streams.acquire('hub-b', 'ghost', { localOnly: true })).rejects.toThrow(NotFoundError);
      const aborted = new AbortController();
      aborted.abort();
      await expect(node.streams.acquire('hub-b', 'bob', { signal: aborted.signal })).rejects.toThrow(UnavailableError);
    } finally {
      publisher.close();
    }
  });

  it('counts consumers made through the stream against the router budget and lists attached outputs', async () => {
    const publisher = await publish('hub-c', 'carol');
    try {
      const lease = await node.streams.acquire('hub-c', 'carol');
      const stream = lease.stream;
      const video = stream.track('video')!;
      const slot = stream.slotOf(video.id);
      const before = slot.consumers;
      const transport = await slot.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
      const consumer = await stream.consume(transport, slot, video, { output: 'test' });
      expect(slot.consumers).toBe(before + 1);
      expect(stream.consumerCounts()).toEqual({ total: 1, byOutput: { test: 1 }, byTrack: { [video.id]: 1 } });
      const handle = stream.attach({
        kind: 'test-output',
        url: '/somewhere',
        start: async () => undefined,
        close: () => undefined,
        stats: () => ({ viewers: 2 }),
      });
      const listed = await fetch(`${node.url}/v1/streams/hub-c/carol`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(listed.status).toBe(200);
      const body = (await listed.json()) as { outputs: Array<{ kind: string; url?: string; stats: Record<string, unknown> }>; tracks: unknown[] };
      expect(body.tracks).toHaveLength(2);
      expect(body.outputs).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'test-output', url: '/somewhere', stats: { viewers: 2 } })]));
      handle.close();
      consumer.close();
      expect(slot.consumers).toBe(before);
      expect(stream.consumerCounts()).toEqual({ total: 0, byOutput: {}, byTrack: {} });
      transport.close();
      lease.release();
      const after = (await (await fetch(`${node.url}/v1/streams/hub-c/carol`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
        outputs: Array<{ kind: string }>;
      };
      expect(after.outputs.some((o) => o.kind === 'test-output')).toBe(false);
    } finally {
      publisher.close();
    }
  });

  it('counts SDK subscribers and WHEP viewers through the hub: budget and /v1/streams rise and fall with them', async () => {
    const publisher = await publish('hub-e', 'erin');
    const sdk = await SignalingTestClient.connect(node.url);
    try {
      const stream = node.streams.get('hub-e', 'erin')!;
      const video = stream.track('video')!;
      const audio = stream.track('audio')!;
      const slot = stream.slotOf(video.id);
      const before = slot.worker.consumers;
      const listed = async () =>
        (await (await fetch(`${node.url}/v1/streams/hub-e/erin`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
          consumers: number;
          consumersByOutput: Record<string, number>;
          tracks: Array<{ id: string; consumers: number }>;
        };

      // An SDK subscriber consumes the video.
      const join = await sdk.call('join', { protocol: 1, token: node.tokens.issue({ room: 'hub-e', identity: 'sub', canSubscribe: true, canPublish: false }) });
      await sdk.call('setRtpCapabilities', { rtpCapabilities: join.routerRtpCapabilities });
      const { transportId } = await sdk.call('createTransport', { direction: 'recv' });
      const { consumerId } = await sdk.call('consume', { transportId, producerId: video.id });
      expect(stream.consumerCounts().byOutput).toEqual({ sdk: 1 });
      expect(slot.worker.consumers).toBe(before + 1);

      // A WHEP viewer consumes video and audio.
      const viewer = tokenFor(node, { room: 'hub-e', identity: 'watcher', canSubscribe: true });
      const whep = await postSdp(`${node.url}/whep/hub-e/erin`, fakeOffer({ direction: 'recvonly' }), viewer);
      expect(whep.status, whep.body).toBe(201);
      expect(stream.consumerCounts().byOutput).toEqual({ sdk: 1, whep: 2 });
      expect(slot.worker.consumers).toBe(before + 3);
      const both = await listed();
      expect(both.consumers).toBe(3);
      expect(both.consumersByOutput).toEqual({ sdk: 1, whep: 2 });
      expect(both.tracks.find((t) => t.id === video.id)!.consumers).toBe(2);
      expect(both.tracks.find((t) => t.id === audio.id)!.consumers).toBe(1);

      // They leave: the counts fall back.
      const del = await fetch(`${node.url}${whep.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${viewer}` } });
      expect(del.status).toBe(200);
      expect(stream.consumerCounts().byOutput).toEqual({ sdk: 1 });
      await sdk.call('closeConsumer', { consumerId });
      expect(stream.consumerCounts().total).toBe(0);
      expect(slot.worker.consumers).toBe(before);
      const none = await listed();
      expect(none.consumers).toBe(0);
      expect(none.consumersByOutput).toEqual({});
    } finally {
      sdk.close();
      publisher.close();
    }
  });

  it('a room closing ends its streams', async () => {
    const publisher = await publish('hub-d', 'dave');
    const stream = node.streams.get('hub-d', 'dave')!;
    const ended = new Promise<string>((resolve) => stream.once('ended', resolve));
    node.rooms.get('hub-d')!.close('admin');
    expect(await ended).toBe('room closed');
    await waitFor(() => node.streams.get('hub-d', 'dave') === undefined, { timeoutMs: 2000, what: 'stream gone' });
    publisher.close();
  });
});

describe('consumer limit', () => {
  it('refuses consumers past sfu.maxConsumersPerWorker with CAPACITY (SDK, WHEP and LL-HLS), and others carry on', async () => {
    const small = await startNode({ sfu: { workers: 1, maxConsumersPerWorker: 2 }, hls: { enabled: true }, moq: { enabled: false } });
    const room = await small.rooms.getOrCreate('full');
    const publisher = new PlainRtpPublisher({ room, identity: 'cam', kind: 'plain', videoCodec: 'VP8', audio: true, listenIp: '127.0.0.1' });
    await publisher.start();
    const sdk = await SignalingTestClient.connect(small.url);
    try {
      const stream = small.streams.get('full', 'cam')!;
      const join = await sdk.call('join', { protocol: 1, token: small.tokens.issue({ room: 'full', identity: 'sub', canSubscribe: true, canPublish: false }) });
      await sdk.call('setRtpCapabilities', { rtpCapabilities: join.routerRtpCapabilities });
      const { transportId } = await sdk.call('createTransport', { direction: 'recv' });
      // Two consumers fill the worker.
      const ids: string[] = [];
      for (const track of stream.tracks) ids.push((await sdk.call('consume', { transportId, producerId: track.id })).consumerId);
      expect(stream.consumerCounts().total).toBe(2);

      const refused = await sdk.request('consume', { transportId, producerId: stream.track('video')!.id });
      expect(refused.ok).toBe(false);
      expect(refused.error).toMatchObject({ code: 'CAPACITY', message: expect.stringMatching(/limit of 2 consumers/) });

      const whep = await postSdp(
        `${small.url}/whep/full/cam`,
        fakeOffer({ direction: 'recvonly' }),
        tokenFor(small, { room: 'full', identity: 'w', canSubscribe: true }),
      );
      expect(whep.status).toBe(503);
      expect(JSON.parse(whep.body)).toMatchObject({ code: 'CAPACITY', message: expect.stringMatching(/limit of 2 consumers/) });
      expect(small.whep.sessions.size).toBe(0);

      // LL-HLS packaging needs consumers too: refused the same way, with nothing left running.
      const hls = await fetch(`${small.url}/hls/full/cam/index.m3u8`, { signal: AbortSignal.timeout(10_000) });
      expect(hls.status).toBe(503);
      expect(await hls.json()).toMatchObject({ code: 'CAPACITY', message: expect.stringMatching(/limit of 2 consumers/) });
      expect(stream.consumerCounts().byOutput).toEqual({ sdk: 2 });

      // The refusals left nothing behind; the SDK session works on: a freed place can be taken again.
      expect(stream.consumerCounts().total).toBe(2);
      await sdk.call('closeConsumer', { consumerId: ids[0]! });
      expect((await sdk.call('consume', { transportId, producerId: stream.track('video')!.id })).consumerId).toEqual(expect.any(String));
      expect(stream.consumerCounts().total).toBe(2);
      await sdk.call('leave', {});
      await waitFor(() => stream.consumerCounts().total === 0, { timeoutMs: 5000, what: 'consumers closed' });
      const again = await postSdp(
        `${small.url}/whep/full/cam`,
        fakeOffer({ direction: 'recvonly' }),
        tokenFor(small, { room: 'full', identity: 'w', canSubscribe: true }),
      );
      expect(again.status, again.body).toBe(201);
      expect(stream.consumerCounts().byOutput).toEqual({ whep: 2 });
    } finally {
      sdk.close();
      publisher.close();
      await small.close();
    }
  });
});

describe('node lifecycle', () => {
  it('starts components in order and closes them in reverse, every close awaited', async () => {
    const other = await startNode({ hls: { enabled: true }, srt: { enabled: true, port: 0 } });
    const order = other.components;
    expect(order.indexOf('workers')).toBe(0);
    expect(order.indexOf('streams')).toBeLessThan(order.indexOf('hls'));
    expect(order.indexOf('http')).toBeLessThan(order.indexOf('cascade'));
    expect(order.indexOf('recorder')).toBeGreaterThan(order.indexOf('hls'));
    expect(order).toContain('srt');
    await other.close();
    expect(other.components).toEqual([]);
    await other.close(); // idempotent
  });
});
