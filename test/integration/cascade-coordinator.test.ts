/**
 * The Redis coordinator against a real redis-server: registry, RPC with timeouts, the origin
 * lease rule (split-brain guard) and fencing, Redis restarts; and join placement (REDIRECT).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import { createRtpSink } from '../helpers/rtpSink';
import { PlainRtpPublisher } from '../../src/ingest/PlainRtpPublisher';
import { Redis } from 'ioredis';
import { RedisCoordinator } from '../../src/cascade/RedisCoordinator';
import { RELEASE_LUA } from '../../src/cascade/redisScripts';
import { CascadeRpcError } from '../../src/cascade/CascadeRpcError';
import type { NodeRecord, StreamLease } from '../../src/cascade/Coordinator';
import { PipeMethod } from '../../src/cascade/pipeProtocol';
import { parseConfig } from '../../src/config/loadConfig';
import { createLogger } from '../../src/core/logger';
import { SubsecError } from '../../src/core/errors';
import type { SubsecNode } from '../../src/SubsecNode';

let redis: TestRedis;
const open: RedisCoordinator[] = [];
let prefixSeq = 0;
let prefix = 'coord0:';

function record(id: string, region = 'r1'): NodeRecord {
  return {
    id,
    region,
    url: `http://${id}.invalid`,
    startedAt: Date.now(),
    draining: false,
    load: { cpu: 0, consumers: 0, bitrateBps: 0, rooms: 0, pipesOut: 0, load: 0 },
  };
}

async function coordinator(
  id: string,
  o: { heartbeatMs?: number; nodeTtlMs?: number; leaseMs?: number; rpcTimeoutMs?: number } = {},
): Promise<RedisCoordinator> {
  const c = new RedisCoordinator({
    nodeId: id,
    region: 'r1',
    redis: parseConfig({ redis: { url: redis.url, keyPrefix: prefix } }).redis,
    heartbeatMs: o.heartbeatMs ?? 100,
    nodeTtlMs: o.nodeTtlMs ?? 400,
    leaseMs: o.leaseMs ?? 600,
    rpcTimeoutMs: o.rpcTimeoutMs ?? 500,
    log: createLogger(`test:${id}`),
  });
  open.push(c);
  await c.start(async () => record(id));
  return c;
}

describe('RedisCoordinator on a real Redis', () => {
  beforeAll(async () => {
    redis = await startRedis();
  });
  beforeEach(() => {
    prefix = `coord${++prefixSeq}:`;
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('registers nodes, sees them live, and forgets a node that closes', async () => {
    const x = await coordinator('x');
    const y = await coordinator('y');
    await waitFor(() => x.liveNodes().length === 2 && y.node('x'), { what: 'both registered' });
    const down = new Promise<string>((r) => x.once('nodeDown', r));
    await y.close();
    expect(await down).toBe('y');
    expect(x.node('y')).toBeUndefined();
  });

  it('refuses to start with a clear error when Redis is unreachable', async () => {
    const c = new RedisCoordinator({
      nodeId: 'z',
      region: 'r1',
      redis: parseConfig({ redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 } }).redis,
      heartbeatMs: 100,
      nodeTtlMs: 400,
      leaseMs: 600,
      rpcTimeoutMs: 500,
      log: createLogger('test:z'),
    });
    open.push(c);
    await expect(c.start(async () => record('z'))).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('calls methods on other nodes, with remote errors, timeouts and unreachable nodes told apart', async () => {
    const x = await coordinator('x');
    const y = await coordinator('y', { rpcTimeoutMs: 300 });
    y.handle('echo', async (params, from) => ({ params, from }));
    y.handle('fail', async () => {
      throw new SubsecError('NOT_FOUND', 'nothing here');
    });
    y.handle('hang', () => new Promise(() => undefined));
    expect(await x.call('y', 'echo', { n: 1 })).toEqual({ params: { n: 1 }, from: 'x' });
    await expect(x.call('y', 'fail', {})).rejects.toMatchObject({ failure: 'remote', code: 'NOT_FOUND' });
    await expect(x.call('y', 'nope', {})).rejects.toMatchObject({ failure: 'remote', code: 'UNKNOWN_METHOD' });
    const t0 = Date.now();
    await expect(x.call('y', 'hang', {}, 300)).rejects.toMatchObject({ failure: 'timeout' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await expect(x.call('ghost', 'echo', {})).rejects.toBeInstanceOf(CascadeRpcError);
    await expect(x.call('ghost', 'echo', {})).rejects.toMatchObject({ failure: 'unreachable' });
  });

  it('answers malformed pipe requests with BAD_REQUEST and keeps working', async () => {
    const x = await coordinator('x');
    await coordinator('y');
    const node = await startNode({ node: { id: 'pipe-host' }, redis: { url: redis.url, keyPrefix: prefix }, cascade: { coordinator: 'redis' } });
    try {
      for (const bad of [
        null,
        42,
        {},
        { pipeId: 'p', room: 'r', identity: 'i', epoch: 0, tuple: { ip: '127.0.0.1', port: 1 } },
        { pipeId: 'p', room: 'r', identity: 'i', epoch: 1, tuple: { ip: '', port: 99999 } },
      ]) {
        await expect(x.call('pipe-host', PipeMethod.open, bad)).rejects.toMatchObject({ failure: 'remote', code: 'BAD_REQUEST' });
      }
      await expect(
        x.call('pipe-host', PipeMethod.open, { pipeId: 'p', room: 'nope', identity: 'i', epoch: 1, tuple: { ip: '127.0.0.1', port: 9 } }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      x.notify('pipe-host', PipeMethod.close, 'garbage');
      expect(await x.call('y', 'missing', {}).catch((e: CascadeRpcError) => e.code)).toBe('UNKNOWN_METHOD');
      expect(
        node.cascade.coordinator
          .liveNodes()
          .map((n) => n.id)
          .sort(),
      ).toEqual(['pipe-host', 'x', 'y']);
    } finally {
      await node.close();
    }
  });

  it('split brain: of concurrent claims exactly one holds the lease, and every loser steps down', async () => {
    const nodes = await Promise.all(['p', 'q', 'r', 's'].map((id) => coordinator(id)));
    const lost: string[] = [];
    for (const n of nodes) n.on('leaseLost', () => lost.push(n.nodeId));
    const leases = await Promise.all(nodes.map((n) => n.claim('room', 'alice')));
    expect(new Set(leases.map((l) => l.epoch)).size).toBe(4);
    const winner = leases.reduce((a, b) => (b.epoch > a.epoch ? b : a));
    // Within one renewal period nobody but the winner still holds the stream.
    await waitFor(() => nodes.filter((n) => n.held('room', 'alice')).length === 1, { what: 'one holder', timeoutMs: 1_000 });
    expect(nodes.find((n) => n.held('room', 'alice'))!.nodeId).toBe(winner.nodeId);
    expect(lost.sort()).toEqual(
      nodes
        .map((n) => n.nodeId)
        .filter((id) => id !== winner.nodeId)
        .sort(),
    );
    expect(await nodes[0]!.lookup('room', 'alice')).toMatchObject({ nodeId: winner.nodeId, epoch: winner.epoch });
  });

  it('fencing: a newer claim supersedes at once, and the superseded node learns the holder', async () => {
    const x = await coordinator('x');
    const y = await coordinator('y');
    const first = await x.claim('room', 'bob');
    const lost = new Promise<[StreamLease, StreamLease | undefined]>((r) => x.once('leaseLost', (l, h) => r([l, h])));
    const second = await y.claim('room', 'bob');
    const [was, holder] = await lost;
    expect(was.epoch).toBe(first.epoch);
    expect(holder).toMatchObject({ nodeId: 'y', epoch: second.epoch });
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(x.held('room', 'bob')).toBeUndefined();
    await x.release('room', 'bob'); // releasing a lease it no longer holds must not delete y's
    expect(await y.lookup('room', 'bob')).toMatchObject({ nodeId: 'y' });
  });

  it('a stale holder that releases after a newer claim (it has not heard of yet) never deletes the newer lease', async () => {
    const x = await coordinator('x');
    const y = await coordinator('y');
    const old = await x.claim('room', 'dave');
    const newer = await y.claim('room', 'dave');
    // x's release script can reach Redis before x learns it lost the lease: compare-and-delete.
    const probe = new Redis(redis.url);
    try {
      const key = x.keys.stream('room', 'dave');
      expect(await probe.eval(RELEASE_LUA, 1, key, 'x', String(old.epoch))).toBe(0);
      expect(await y.lookup('room', 'dave')).toMatchObject({ nodeId: 'y', epoch: newer.epoch });
      // The same node with an old epoch is not the holder either; the holder's own release deletes it.
      expect(await probe.eval(RELEASE_LUA, 1, key, 'y', String(old.epoch))).toBe(0);
      expect(await probe.eval(RELEASE_LUA, 1, key, 'y', String(newer.epoch))).toBe(1);
      expect(await y.lookup('room', 'dave')).toBeUndefined();
    } finally {
      await probe.quit();
    }
  });

  it('after a Redis restart: leases come back with their epoch, nodes re-register, nobody is declared dead, and epochs keep increasing', async () => {
    const x = await coordinator('x');
    const y = await coordinator('y');
    const lease = await x.claim('room', 'carol');
    await y.lookup('room', 'carol');
    const downs: string[] = [];
    x.on('nodeDown', (id) => downs.push(id));
    y.on('nodeDown', (id) => downs.push(id));
    await redis.stop();
    await waitFor(() => !x.connected && !y.connected, { what: 'outage noticed' });
    await redis.start();
    await waitFor(async () => x.connected && y.connected && (await y.lookup('room', 'carol'))?.epoch === lease.epoch, {
      what: 'lease restored',
      timeoutMs: 5_000,
    });
    await waitFor(() => x.node('y') && y.node('x'), { what: 're-registered' });
    // A node can be declared dead only once the reconnect grace (TTL + one heartbeat) is over, at
    // the next sweep (one heartbeat later): TTL + 2 heartbeats after the reconnect = 600 ms here.
    // Wait twice that from the re-registration, so a wrong nodeDown has had two sweeps to show.
    const heartbeatMs = 100;
    const nodeTtlMs = 400;
    await new Promise((r) => setTimeout(r, 2 * (nodeTtlMs + 2 * heartbeatMs)));
    expect(downs).toEqual([]);
    expect(x.held('room', 'carol')?.epoch).toBe(lease.epoch);
    // The epoch counter was wiped with Redis; a node that saw the old epoch still claims above it.
    const next = await y.claim('room', 'carol');
    expect(next.epoch).toBeGreaterThan(lease.epoch);
  });
});

describe('join placement across a cascade', () => {
  let b: SubsecNode;
  let c: SubsecNode;
  beforeAll(async () => {
    redis ??= await startRedis();
    if (!redis.running) await redis.start();
    const common = { redis: { url: redis.url, keyPrefix: 'placement:' }, logLevel: 'warn' as const };
    b = await startNode({
      ...common,
      node: { id: 'busy', region: 'eu' },
      sfu: { workers: 1, consumersPerRouter: 1 },
      cascade: { coordinator: 'redis', maxLoad: 0.5 },
    });
    c = await startNode({ ...common, node: { id: 'idle', region: 'eu' }, cascade: { coordinator: 'redis' } });
  });
  afterAll(async () => {
    await Promise.allSettled([b?.close(), c?.close()]);
    await redis?.stop();
  });

  it('redirects a join from an overloaded node to the least-loaded node of its region', async () => {
    const room = await b.rooms.getOrCreate('busy-room');
    const publisher = new PlainRtpPublisher({ room, identity: 'cam', kind: 'plain', videoCodec: 'VP8', audio: false, listenIp: '127.0.0.1' });
    await publisher.start();
    // One consumer made through the hub fills this node (capacity 1).
    const sink = await createRtpSink(room.slots[0]!.router, publisher.producers[0]!.id, b.streams.get('busy-room', 'cam')!);
    onTestFinished(() => {
      sink.close();
      publisher.close();
    });
    await waitFor(() => (c.cascade.coordinator.node('busy')?.load.load ?? 0) >= 1 && (b.cascade.coordinator.node('busy')?.load.load ?? 0) >= 1, {
      what: 'load published',
    });
    const client = await SignalingTestClient.connect(b.url);
    try {
      const reply = await client.request('join', { protocol: 1, token: b.tokens.issue({ room: 'new-room', identity: 'u' }) });
      expect(reply.ok).toBe(false);
      expect(reply.error).toMatchObject({ code: 'REDIRECT', redirect: { nodeId: 'idle', url: c.url } });
    } finally {
      client.close();
    }
    const ok = await SignalingTestClient.connect(c.url);
    try {
      expect((await ok.call('join', { protocol: 1, token: c.tokens.issue({ room: 'new-room', identity: 'u' }) })).room).toBe('new-room');
    } finally {
      ok.close();
    }
  });
});
