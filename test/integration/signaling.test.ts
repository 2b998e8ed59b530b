import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import type { SubsecNode } from '../../src/SubsecNode';
import { requestSchemas, type Method } from '../../src/protocol/signaling';

let node: SubsecNode;
beforeAll(async () => {
  node = await startNode({ synthetic: { enabled: true, room: 'sig' } });
  await waitFor(() => node.rooms.get('sig')?.producersOf('synthetic').length === 2, { what: 'synthetic producers' });
});
afterAll(() => node?.close());

const token = (grants: Record<string, unknown> = {}) =>
  node.tokens.issue({ room: 'sig', identity: 'tester', canPublish: true, canSubscribe: true, canPublishData: true, ...grants });

describe('signaling', () => {
  it('refuses every method before join with UNAUTHENTICATED', async () => {
    // Well-formed params for each method (so the refusal is the missing join, not the schema);
    // typed over every method, so a new one must be added here.
    const valid: Record<Exclude<Method, 'join' | 'ping'>, unknown> = {
      setRtpCapabilities: { rtpCapabilities: {} },
      createTransport: { direction: 'recv' },
      connectTransport: { transportId: 't', dtlsParameters: {} },
      restartIce: { transportId: 't' },
      produce: { transportId: 't', kind: 'video', rtpParameters: {} },
      closeProducer: { producerId: 'p' },
      pauseProducer: { producerId: 'p' },
      resumeProducer: { producerId: 'p' },
      consume: { transportId: 't', producerId: 'p' },
      pauseConsumer: { consumerId: 'c' },
      resumeConsumer: { consumerId: 'c' },
      closeConsumer: { consumerId: 'c' },
      setPreferredLayers: { consumerId: 'c', spatialLayer: 0 },
      setConsumerPriority: { consumerId: 'c', priority: 1 },
      produceData: { transportId: 't', sctpStreamParameters: {} },
      consumeData: { transportId: 't', dataProducerId: 'd' },
      getStats: { id: 'x' },
      leave: {},
      sendEvent: { type: 'chat', payload: 'hi' },
      getEvents: {},
      subscribeEvents: {},
      unsubscribeEvents: {},
      reportQoe: { sessions: [{ id: 's1', stream: 'synthetic', path: 'webrtc', watchMs: 1000 }] },
    };
    expect(Object.keys(valid).sort()).toEqual(
      Object.keys(requestSchemas)
        .filter((m) => m !== 'join' && m !== 'ping')
        .sort(),
    );
    const c = await SignalingTestClient.connect(node.url);
    for (const [method, params] of Object.entries(valid)) {
      expect(requestSchemas[method as Method].safeParse(params).success, method).toBe(true);
      const r = await c.request(method, params);
      expect(r, method).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    }
    // ping is the one method a socket may use before joining.
    expect(await c.request('ping', { clientTime: 1 })).toMatchObject({ ok: true });
    c.close();
  });

  it('rejects bad tokens, foreign rooms and other protocol versions', async () => {
    const c = await SignalingTestClient.connect(node.url);
    expect((await c.request('join', { protocol: 1, token: 'nope' })).error?.code).toBe('UNAUTHENTICATED');
    expect((await c.request('join', { protocol: 1, token: token(), room: 'other' })).error?.code).toBe('FORBIDDEN');
    expect((await c.request('join', { protocol: 99, token: token() })).error?.code).toBe('UNSUPPORTED_VERSION');
    c.close();
  });

  it('answers unknown methods and malformed params with typed errors', async () => {
    const c = await SignalingTestClient.connect(node.url);
    expect((await c.request('fly', {})).error?.code).toBe('UNKNOWN_METHOD');
    expect((await c.request('join', { protocol: '1' })).error?.code).toBe('INVALID_MESSAGE');
    c.ws.send('{not json');
    await waitFor(() => c.replies.some((r) => r.id === null && r.error?.code === 'INVALID_MESSAGE'), { what: 'null-id error' });
    c.close();
  });

  it('joins, sees the synthetic publisher, and consumes its producers', async () => {
    const c = await SignalingTestClient.connect(node.url);
    const joined = await c.call('join', { protocol: 1, token: token(), displayName: 'T' });
    expect(joined.room).toBe('sig');
    expect(joined.producers.map((p: { identity: string }) => p.identity)).toEqual(['synthetic', 'synthetic']);
    expect(joined.routerRtpCapabilities.codecs.length).toBeGreaterThan(2);
    await c.call('setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
    const t = await c.call('createTransport', { direction: 'recv', sctp: true });
    expect(t.iceCandidates.length).toBeGreaterThan(0);
    const video = joined.producers.find((p: { kind: string }) => p.kind === 'video');
    const consumed = await c.call('consume', { transportId: t.transportId, producerId: video.producerId });
    expect(consumed).toMatchObject({ kind: 'video', producerId: video.producerId });
    await c.call('setPreferredLayers', { consumerId: consumed.consumerId, spatialLayer: 0 });
    await c.call('resumeConsumer', { consumerId: consumed.consumerId });
    expect((await c.request('consume', { transportId: t.transportId, producerId: 'missing' })).error?.code).toBe('NOT_FOUND');
    expect((await c.request('join', { protocol: 1, token: token() })).error?.code).toBe('ALREADY_JOINED');
    c.close();
  });

  it('enforces grants: a viewer token cannot publish', async () => {
    const c = await SignalingTestClient.connect(node.url);
    await c.call('join', { protocol: 1, token: token({ canPublish: false, canPublishData: false }) });
    expect((await c.request('createTransport', { direction: 'send' })).error?.code).toBe('FORBIDDEN');
    c.close();
  });

  it('tells other peers when a peer joins and leaves', async () => {
    const a = await SignalingTestClient.connect(node.url);
    await a.call('join', { protocol: 1, token: token() });
    const b = await SignalingTestClient.connect(node.url);
    const joinedB = await b.call('join', { protocol: 1, token: node.tokens.issue({ room: 'sig', identity: 'bee' }) });
    await waitFor(() => a.notifications.some((n) => n.notification === 'peerJoined' && n.data.identity === 'bee'), { what: 'peerJoined' });
    b.close();
    await waitFor(() => a.notifications.some((n) => n.notification === 'peerLeft' && n.data.peerId === joinedB.peerId), { what: 'peerLeft' });
    a.close();
  });

  it('answers ping with the server clock', async () => {
    const c = await SignalingTestClient.connect(node.url);
    const before = Date.now();
    const r = await c.call('ping', { clientTime: before });
    expect(r.clientTime).toBe(before);
    expect(Math.abs(r.serverTime - Date.now())).toBeLessThan(2000);
    c.close();
  });
});

describe('HTTP API basics', () => {
  it('issues tokens only with the admin key', async () => {
    const body = JSON.stringify({ room: 'r', identity: 'i', canPublish: true });
    const denied = await fetch(`${node.url}/v1/tokens`, { method: 'POST', body });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    const ok = await fetch(`${node.url}/v1/tokens`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${node.config.auth.adminKey}` },
    });
    expect(ok.status).toBe(201);
    const { token: issued } = await ok.json();
    expect(await node.tokens.verify(issued)).toMatchObject({ room: 'r', identity: 'i', canPublish: true });
    const bad = await fetch(`${node.url}/v1/tokens`, {
      method: 'POST',
      body: JSON.stringify({ room: 'r' }),
      headers: { authorization: `Bearer ${node.config.auth.adminKey}` },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/identity/);
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${node.url}/readyz`)).json()).toMatchObject({ status: 'ready', workers: 1 });
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/subsec_workers\{node="test-node"\} 1/);
    expect(metrics).toMatch(/subsec_producers\{node="test-node"\} [1-9]/);
    expect(metrics).toMatch(/subsec_worker_cpu_seconds\{worker="0",node="test-node"\}/);
    expect(metrics).toMatch(/subsec_signaling_errors_total\{code="UNAUTHENTICATED",node="test-node"\} [1-9]/);
    expect(metrics).toMatch(/nodejs_eventloop_lag_seconds/);
  });
});
