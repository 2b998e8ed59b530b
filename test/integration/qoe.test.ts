/**
 * QoE on a real node: ingest health of a real contribution (the synthetic ffmpeg source: frame
 * rate and key frame interval from trace events), reportQoe over a real signaling socket into
 * /metrics and GET /v1/qoe (admin only), hostile reports (wrong types, floods, other rooms'
 * streams) rejected or clamped without touching another stream's figures, and a threshold
 * alert delivered to a webhook receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { QoeSnapshot } from '../../src/qoe/QoeService';
import { PROTOCOL_VERSION } from '../../src/protocol/signaling';
import { PlainRtpPublisher } from '../../src/ingest/PlainRtpPublisher';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { waitFor } from '../../loadtest/core/waitFor';
import { WebhookReceiver } from '../helpers/webhookReceiver';

const ADMIN = 'subsec-dev-admin-key';
const ROOM = 'qoe-int';
const OTHER_ROOM = 'qoe-int-2';

let node: SubsecNode;
let receiver: WebhookReceiver;
const clients: SignalingTestClient[] = [];
let otherPublisher: PlainRtpPublisher;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  node = await startNode({
    synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 15, bitrateKbps: 200 },
    webhooks: { endpoints: [{ url: receiver.url, events: ['qoe.*'] }], secret: 'qoe-webhook-secret-0123456789', backoffMs: 50 },
    qoe: {
      ingestSampleIntervalMs: 1000,
      frameRateEvery: 2,
      maxReportsPerMinute: 20,
      alerts: [{ figure: 'rebufferRatio', above: 0.05, path: 'moq', forSeconds: 0 }],
    },
  });
  // A second stream, in another room, with a producer but no media: reports for it are known.
  otherPublisher = new PlainRtpPublisher({
    room: await node.rooms.getOrCreate(OTHER_ROOM),
    identity: 'dave',
    kind: 'internal',
    videoCodec: 'VP8',
    audio: false,
    listenIp: '127.0.0.1',
  });
  await otherPublisher.start();
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.ws.close();
  otherPublisher?.close();
  await node?.close();
  await receiver?.close();
});

async function viewer(identity: string, room = ROOM): Promise<SignalingTestClient> {
  const c = await SignalingTestClient.connect(node.url);
  clients.push(c);
  const token = node.tokens.issue({ room, identity, canPublish: false, canSubscribe: true });
  await c.call('join', { protocol: PROTOCOL_VERSION, token });
  return c;
}

async function snapshot(): Promise<QoeSnapshot> {
  const res = await fetch(`${node.url}/v1/qoe`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as QoeSnapshot;
}

async function metrics(): Promise<string> {
  return (await fetch(`${node.url}/metrics`)).text();
}

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : undefined;
}

describe('QoE on a node', () => {
  it('measures the ingest health of a real contribution: bitrate, frame rate, key frame interval, loss', async () => {
    const ingest = await waitFor(
      async () => {
        const s = (await snapshot()).streams.find((x) => x.key === `${ROOM}/synthetic`);
        return s?.ingest?.figures.frameRate && s.ingest.figures.keyframeIntervalMs ? s.ingest : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500, what: 'ingest figures' },
    );
    expect(ingest.figures.frameRate).toBeGreaterThan(11);
    expect(ingest.figures.frameRate).toBeLessThan(19);
    // ffmpeg puts a key frame every `fps` frames: one per second.
    expect(ingest.figures.keyframeIntervalMs).toBeGreaterThan(900);
    expect(ingest.figures.keyframeIntervalMs).toBeLessThan(1100);
    expect(ingest.figures.bitrateKbps).toBeGreaterThan(20);
    expect(ingest.figures.lossRatio ?? 0).toBeLessThan(0.01);
    expect(ingest.points.length).toBeGreaterThan(0);
    const text = await metrics();
    expect(sample(text, 'subsec_qoe_ingest_frame_rate', { room: ROOM, stream: 'synthetic' })).toBeGreaterThan(11);
    expect(sample(text, 'subsec_qoe_ingest_keyframe_interval_seconds', { room: ROOM, stream: 'synthetic' })).toBeCloseTo(1, 0);
  });

  it("counts an SDK viewer's reports into /metrics and /v1/qoe, which needs the admin key", async () => {
    const c = await viewer('viewer-1');
    const first = await c.call('reportQoe', { sessions: [{ id: 'w1', stream: 'synthetic', path: 'webrtc', watchMs: 0, startupMs: 640, rendition: '180p' }] });
    expect(first).toEqual({ accepted: 1, ignored: 0, intervalMs: 5000 });
    await c.call('reportQoe', { sessions: [{ id: 'w1', stream: 'synthetic', path: 'webrtc', watchMs: 1000, bytes: 25_000, latencyMs: 180 }] });
    const s = await waitFor(async () => (await snapshot()).streams.find((x) => x.key === `${ROOM}/synthetic` && x.paths.webrtc?.figures.startupMs), {
      what: 'webrtc figures',
    });
    expect(s.paths.webrtc).toMatchObject({
      viewers: 1,
      renditions: { '180p': 1 },
      figures: { startupMs: 640, rebufferRatio: 0, bitrateKbps: 200, latencyMs: 180 },
    });
    const text = await metrics();
    expect(sample(text, 'subsec_qoe_sessions_total', { room: ROOM, stream: 'synthetic', path: 'webrtc' })).toBe(1);
    expect(sample(text, 'subsec_qoe_startup_seconds_count', { room: ROOM, stream: 'synthetic', path: 'webrtc' })).toBe(1);
    expect(sample(text, 'subsec_qoe_active_sessions', { room: ROOM, stream: 'synthetic', path: 'webrtc', rendition: '180p' })).toBe(1);
    expect(text).not.toContain('viewer-1');

    expect((await fetch(`${node.url}/v1/qoe`)).status).toBe(401);
    const clientToken = node.tokens.issue({ room: ROOM, identity: 'x', canSubscribe: true });
    expect((await fetch(`${node.url}/v1/qoe`, { headers: { authorization: `Bearer ${clientToken}` } })).status).toBe(403);
    expect((await fetch(`${node.url}/v1/qoe?since=-1`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(400);
    const doc = (await (await fetch(`${node.url}/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(doc.paths['/v1/qoe']).toBeDefined();
    const page = await fetch(`${node.url}/qoe/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('dashboard.js');
  });

  it("rejects or clamps hostile reports, rate-limits floods, and leaves other streams' figures alone", async () => {
    const honest = await viewer('honest', OTHER_ROOM);
    await honest.call('reportQoe', { sessions: [{ id: 'h', stream: 'dave', path: 'hls', watchMs: 0, startupMs: 1000 }] });
    await honest.call('reportQoe', { sessions: [{ id: 'h', stream: 'dave', path: 'hls', watchMs: 2000, stallMs: 0 }] });
    const honestFigures = async () => (await snapshot()).streams.find((x) => x.key === `${OTHER_ROOM}/dave`)?.paths.hls;
    const before = await waitFor(async () => ((await honestFigures())?.figures.rebufferRatio === 0 ? honestFigures() : undefined), { what: 'honest figures' });

    const evil = await viewer('evil');
    for (const params of [
      { sessions: [{ id: 'e', stream: 'synthetic', path: 'webrtc', watchMs: 'lots' }] },
      { sessions: [{ id: 'e', stream: 'synthetic', path: 'webrtc', watchMs: -5 }] },
      { sessions: [{ id: 'e', stream: 'synthetic', path: 'webrtc', watchMs: 1e300 }] },
      { sessions: Array.from({ length: 100 }, (_, i) => ({ id: `e${i}`, stream: 'synthetic', path: 'webrtc', watchMs: 0 })) },
      { sessions: [{ id: 'e', stream: 'synthetic', path: 'webrtc', watchMs: 0, viewer: 'someone-else' }] },
      'not an object',
    ]) {
      const r = await evil.request('reportQoe', params);
      expect(r.ok).toBe(false);
      expect(r.error!.code).toBe('INVALID_MESSAGE');
    }
    // Another room's stream is not the reporter's to report on.
    expect(await evil.call('reportQoe', { sessions: [{ id: 'x', stream: 'dave', path: 'hls', watchMs: 60_000, stallMs: 60_000, stalls: 500 }] })).toMatchObject(
      { accepted: 0, ignored: 1 },
    );
    // A flood: the bucket (20 per minute) runs dry; the socket and the node carry on.
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        evil.request('reportQoe', { sessions: [{ id: `f${i % 8}`, stream: 'synthetic', path: 'webrtc', watchMs: 60_000, stallMs: 60_000 }] }),
      ),
    );
    expect(replies.filter((r) => r.ok).length).toBeLessThanOrEqual(20);
    expect(replies.filter((r) => r.error?.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(19);
    expect((await evil.call('ping', {})).serverTime).toEqual(expect.any(Number));

    await honest.call('reportQoe', { sessions: [{ id: 'h', stream: 'dave', path: 'hls', watchMs: 2000 }] });
    // Figures are computed once a second: wait for a tick after the last report.
    const after = await waitFor(
      async () => {
        const h = await honestFigures();
        return h && h.points.length > before.points.length ? h : undefined;
      },
      { what: 'a later tick' },
    );
    expect(after.viewers).toBe(before.viewers);
    expect(after.figures.rebufferRatio).toBe(0);
    expect(after.figures.startupMs).toBe(1000);
    const text = await metrics();
    expect(sample(text, 'subsec_qoe_sessions_total', { room: OTHER_ROOM, stream: 'dave', path: 'hls' })).toBe(1);
    expect(sample(text, 'subsec_qoe_rebuffer_seconds_total', { room: OTHER_ROOM, stream: 'dave', path: 'hls' })).toBeUndefined();
    expect(sample(text, 'subsec_qoe_reports_total', { outcome: 'rate_limited' })).toBeGreaterThanOrEqual(19);
    // The flooder's own (first, clamped) reports count at most 8 sessions of real time.
    expect(sample(text, 'subsec_qoe_sessions_total', { room: ROOM, stream: 'synthetic', path: 'webrtc' })).toBeLessThanOrEqual(1 + 8);
  });

  it('fires a threshold alert to the webhook receiver when viewers rebuffer', async () => {
    const c = await viewer('stalling');
    await c.call('reportQoe', { sessions: [{ id: 'm1', stream: 'synthetic', path: 'moq', watchMs: 0, startupMs: 900 }] });
    await c.call('reportQoe', { sessions: [{ id: 'm1', stream: 'synthetic', path: 'moq', watchMs: 2000, stallMs: 800, stalls: 2 }] });
    const fired = await waitFor(() => receiver.delivered().find((h) => h.type === 'qoe.alert_fired'), { timeoutMs: 10_000, what: 'qoe.alert_fired webhook' });
    expect(fired).toMatchObject({ room: ROOM, data: { stream: 'synthetic', path: 'moq', figure: 'rebufferRatio', op: '>', threshold: 0.05 } });
    expect(fired.data.value).toBeGreaterThan(0.05);
    const snap = await snapshot();
    expect(snap.alerts.active.map((a) => a.figure)).toContain('rebufferRatio');
    expect(sample(await metrics(), 'subsec_qoe_alerts_fired_total', { figure: 'rebufferRatio' })).toBeGreaterThanOrEqual(1);
  });
});
