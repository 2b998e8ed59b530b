/**
 * The QoE service without mediasoup: SDK report intake (validation is the protocol schema's;
 * here clamping, limits, rate limiting, sessions, reasons), CMCD mapping, metrics, snapshot,
 * alerts sent as webhooks, and bounded stream labels.
 */
import { EventEmitter } from 'node:events';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger';
import { qoeConfigSchema } from '../../../src/qoe/qoeConfig';
import { QoeService } from '../../../src/qoe/QoeService';
import type { RoomManager } from '../../../src/sfu/RoomManager';
import type { WorkerPool } from '../../../src/sfu/WorkerPool';
import type { WebhookEventInput } from '../../../src/webhooks/events';
import { requestSchemas } from '../../../src/protocol/signaling';

const T0 = 1_700_000_000_000;

/** Rooms whose streams are the given identities. */
function fakeRooms(streams: Record<string, string[]>): RoomManager {
  const rooms = new EventEmitter() as unknown as RoomManager & { get: unknown; rooms: unknown };
  Object.assign(rooms, {
    get: (name: string) => (streams[name] ? { producersOf: (id: string) => (streams[name]!.includes(id) ? [{}] : []) } : undefined),
    rooms: [],
  });
  return rooms;
}

function service(config: Record<string, unknown> = {}, streams: Record<string, string[]> = { r1: ['alice', 'bob'], r2: ['carol'] }) {
  const registry = new client.Registry();
  const events: WebhookEventInput[] = [];
  const qoe = new QoeService({
    config: qoeConfigSchema.parse(config),
    rooms: fakeRooms(streams),
    pool: new EventEmitter() as unknown as WorkerPool,
    registry,
    webhooks: { emit: (e) => events.push(e) },
    log: createLogger('qoe-test'),
  });
  return { qoe, registry, events };
}

const params = (sessions: unknown[]) => requestSchemas.reportQoe.parse({ sessions });
const viewer = (identity: string, room = 'r1') => ({ room, identity });

async function metric(registry: client.Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const m = (await metric.get()) as { values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }> };
  return m.values
    .filter(
      (v) =>
        (v.metricName === undefined || v.metricName === name || v.metricName === `${name}_count`) &&
        Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x),
    )
    .reduce((n, v) => n + v.value, 0);
}

describe('QoeService', () => {
  it('counts SDK reports into the five figures per stream and path', async () => {
    const { qoe, registry } = service();
    try {
      expect(qoe.report(viewer('v1'), params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 0, startupMs: 700, rendition: '720p' }]), T0)).toEqual({
        accepted: 1,
        ignored: 0,
        intervalMs: 5000,
      });
      qoe.report(
        viewer('v1'),
        params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 5000, stallMs: 100, stalls: 1, bytes: 625_000, latencyMs: 250 }]),
        T0 + 5000,
      );
      qoe.report(viewer('v2'), params([{ id: 'b', stream: 'alice', path: 'hls', watchMs: 0, end: 'failed', reason: 'manifestLoadError' }]), T0 + 5000);
      qoe.tick(T0 + 5000);
      const snap = qoe.snapshot(0, T0 + 5000);
      const s = snap.streams.find((x) => x.key === 'r1/alice')!;
      expect(s.viewers).toBe(1);
      expect(s.paths.webrtc!.figures).toMatchObject({ startupMs: 700, rebufferRatio: 0.02, bitrateKbps: 1000, latencyMs: 250, failureRate: 0 });
      expect(s.paths.webrtc!.renditions).toEqual({ '720p': 1 });
      expect(s.paths.hls!.figures.failureRate).toBe(1);
      expect(snap.totals.viewers).toEqual({ webrtc: 1, moq: 0, hls: 0 });
      expect(await metric(registry, 'subsec_qoe_sessions_total', { stream: 'alice' })).toBe(2);
      expect(await metric(registry, 'subsec_qoe_session_failures_total', { path: 'hls', reason: 'manifestLoadError' })).toBe(1);
      expect(await metric(registry, 'subsec_qoe_sessions_no_first_frame_total', { path: 'hls' })).toBe(1);
      expect(await metric(registry, 'subsec_qoe_rebuffer_seconds_total', { path: 'webrtc' })).toBeCloseTo(0.1);
      expect(await metric(registry, 'subsec_qoe_startup_seconds', { path: 'webrtc' })).toBe(1);
      expect(await metric(registry, 'subsec_qoe_active_sessions', { rendition: '720p' })).toBe(1);
      const text = await registry.metrics();
      // No label names a viewer.
      expect(text).not.toMatch(/"v[12]"/);
    } finally {
      qoe.close();
    }
  });

  it('clamps absurd values to what the time since the last report allows', async () => {
    const { qoe, registry } = service({ maxBitrateKbps: 10_000 });
    try {
      qoe.report(viewer('v'), params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 0, startupMs: 3_000_000 }]), T0);
      // 1 h of watching claimed 5 s later, more stall than watch, 10 000 stalls, 1 TB.
      qoe.report(
        viewer('v'),
        params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 3_600_000, stallMs: 3_600_000, stalls: 10_000, bytes: 1e12, latencyMs: 3_600_000 }]),
        T0 + 5000,
      );
      expect(await metric(registry, 'subsec_qoe_watch_seconds_total')).toBeCloseTo(7); // 5 s + 2 s slack
      expect(await metric(registry, 'subsec_qoe_rebuffer_seconds_total')).toBeCloseTo(7);
      expect(await metric(registry, 'subsec_qoe_rebuffer_events_total')).toBe(71);
      expect(await metric(registry, 'subsec_qoe_media_bytes_total')).toBe((7000 * 10_000) / 8);
      const startup = (await registry.getSingleMetric('subsec_qoe_startup_seconds')!.get()).values.find((v) =>
        (v as { metricName?: string }).metricName?.endsWith('_sum'),
      )!;
      expect(startup.value).toBe(120);
    } finally {
      qoe.close();
    }
  });

  it("ignores unknown streams, other rooms' streams, sessions beyond the limits and mismatched reuse", async () => {
    const { qoe, registry } = service({ maxSessionsPerViewer: 2 });
    try {
      const r = qoe.report(
        viewer('v'),
        params([
          { id: 'a', stream: 'alice', path: 'webrtc', watchMs: 0 },
          { id: 'b', stream: 'nobody', path: 'webrtc', watchMs: 0 },
          { id: 'c', stream: 'carol', path: 'webrtc', watchMs: 0 }, // carol publishes in r2, not in the viewer's r1
          { id: 'd', stream: 'bob', path: 'hls', watchMs: 0 },
          { id: 'e', stream: 'bob', path: 'moq', watchMs: 0 },
        ]),
        T0,
      );
      expect(r).toMatchObject({ accepted: 2, ignored: 3 });
      expect(qoe.report(viewer('v'), params([{ id: 'a', stream: 'alice', path: 'hls', watchMs: 1000 }]), T0 + 1000)).toMatchObject({ ignored: 1 });
      expect(await metric(registry, 'subsec_qoe_sessions_ignored_total', { reason: 'unknown_stream' })).toBe(2);
      expect(await metric(registry, 'subsec_qoe_sessions_ignored_total', { reason: 'viewer_limit' })).toBe(1);
      expect(await metric(registry, 'subsec_qoe_sessions_ignored_total', { reason: 'mismatch' })).toBe(1);
      qoe.tick(T0 + 1000);
      expect(
        qoe
          .snapshot(0, T0 + 1000)
          .streams.map((s) => s.key)
          .sort(),
      ).toEqual(['r1/alice', 'r1/bob']);
    } finally {
      qoe.close();
    }
  });

  it('rate-limits a flooding viewer without touching others', () => {
    const { qoe } = service({ maxReportsPerMinute: 5 });
    try {
      const one = params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 0 }]);
      for (let i = 0; i < 5; i++) qoe.report(viewer('flood'), one, T0);
      expect(() => qoe.report(viewer('flood'), one, T0)).toThrowError(expect.objectContaining({ code: 'RATE_LIMITED' }));
      expect(qoe.report(viewer('calm'), one, T0).accepted).toBe(1);
      // The bucket refills: one report per 12 s.
      expect(qoe.report(viewer('flood'), one, T0 + 12_000).accepted).toBe(1);
    } finally {
      qoe.close();
    }
  });

  it('ends silent sessions after the TTL, counting those without a first frame', async () => {
    const { qoe, registry } = service({ sessionTtlMs: 5000 });
    try {
      qoe.report(
        viewer('v'),
        params([
          { id: 'a', stream: 'alice', path: 'webrtc', watchMs: 0 },
          { id: 'b', stream: 'alice', path: 'webrtc', watchMs: 0, startupMs: 500 },
        ]),
        T0,
      );
      qoe.tick(T0 + 4000);
      expect(qoe.sessions.size).toBe(2);
      qoe.tick(T0 + 5000);
      expect(qoe.sessions.size).toBe(0);
      expect(await metric(registry, 'subsec_qoe_sessions_no_first_frame_total')).toBe(1);
      expect(await metric(registry, 'subsec_qoe_session_failures_total')).toBe(0);
    } finally {
      qoe.close();
    }
  });

  it('bounds failure reasons and folds streams beyond maxStreams into other', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `s${i}`);
    const { qoe, registry } = service({ maxStreams: 3, maxSessionsPerViewer: 64, maxReportsPerMinute: 600 }, { r1: many });
    try {
      for (let i = 0; i < 40; i++) {
        qoe.report(viewer(`v${i}`), params([{ id: 'x', stream: `s${i}`, path: 'webrtc', watchMs: 0, end: 'failed', reason: `reason-${i}` }]), T0);
      }
      const m = (await registry.getSingleMetric('subsec_qoe_session_failures_total')!.get()).values;
      expect(new Set(m.map((v) => v.labels.stream))).toEqual(new Set(['s0', 's1', 's2', 'other']));
      expect(new Set(m.map((v) => v.labels.reason)).size).toBeLessThanOrEqual(33);
      expect(m.reduce((n, v) => n + v.value, 0)).toBe(40);
    } finally {
      qoe.close();
    }
  });

  it('evicts idle streams with their series and plots', async () => {
    const { qoe, registry } = service({ streamIdleSeconds: 10, sessionTtlMs: 1000 }, { r1: [] });
    try {
      qoe.recordCmcd({ room: 'r1', stream: 'gone' }, { sid: 'c1', msd: 900, v: 2 }, T0);
      qoe.tick(T0 + 1000);
      expect(await metric(registry, 'subsec_qoe_sessions_total', { stream: 'gone' })).toBe(1);
      qoe.tick(T0 + 12_000);
      expect(qoe.snapshot(0, T0 + 12_000).streams).toEqual([]);
      expect((await registry.getSingleMetric('subsec_qoe_sessions_total')!.get()).values).toEqual([]);
    } finally {
      qoe.close();
    }
  });

  it('maps CMCD onto the hls figures and skips sessions an SDK viewer already reports', async () => {
    const { qoe, registry } = service();
    try {
      const t = { room: 'r1', stream: 'alice' };
      qoe.recordCmcd(t, { v: 2, sid: 'p1', msd: 1500, br: 800, ot: 'v', sta: 'p' }, T0);
      qoe.recordCmcd(t, { v: 2, sid: 'p1', br: 800, ot: 'v', bs: true, bsd: 400, ltc: 2500 }, T0 + 2000);
      qoe.recordCmcd(t, { v: 2, sid: 'p1', br: 800, ot: 'v', pr: 0 }, T0 + 4000); // paused: not watched
      qoe.recordCmcd(t, { v: 2, sid: 'p2', sta: 'f' }, T0 + 4000);
      // The SDK reports p3's viewer itself: its CMCD is not counted again.
      qoe.report(viewer('v'), params([{ id: 'sdk1', stream: 'alice', path: 'hls', watchMs: 0, cmcdSid: 'p3' }]), T0);
      qoe.recordCmcd(t, { v: 2, sid: 'p3', msd: 99_000 }, T0 + 1000);
      qoe.tick(T0 + 4000);
      const hls = qoe.snapshot(0, T0 + 4000).streams[0]!.paths.hls!;
      expect(hls.figures).toMatchObject({ startupMs: 1500, rebufferRatio: 0.2, bitrateKbps: 800, latencyMs: 2500 });
      expect(hls.figures.failureRate).toBeCloseTo(1 / 3);
      expect(hls.renditions).toMatchObject({ '800k': 1 });
      expect(await metric(registry, 'subsec_qoe_session_failures_total', { reason: 'cmcd_fatal' })).toBe(1);
      expect(await metric(registry, 'subsec_qoe_sessions_total', { path: 'hls' })).toBe(3);
    } finally {
      qoe.close();
    }
  });

  it('fires and resolves a threshold alert as webhooks', () => {
    const { qoe, events } = service({ alerts: [{ figure: 'rebufferRatio', above: 0.01, forSeconds: 1 }] });
    try {
      qoe.report(viewer('v'), params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 0, startupMs: 400 }]), T0);
      qoe.report(viewer('v'), params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 4000, stallMs: 400, stalls: 1 }]), T0 + 4000);
      qoe.tick(T0 + 4000);
      qoe.tick(T0 + 5000);
      expect(events.map((e) => e.type)).toEqual(['qoe.alert_fired']);
      expect(events[0]).toMatchObject({ room: 'r1', data: { stream: 'alice', path: 'webrtc', figure: 'rebufferRatio', op: '>', threshold: 0.01, value: 0.1 } });
      expect(qoe.snapshot(0, T0 + 5000).alerts.active).toHaveLength(1);
      for (let t = 6000; t <= 20_000; t += 1000) {
        qoe.report(viewer('v'), params([{ id: 'a', stream: 'alice', path: 'webrtc', watchMs: 1000 }]), T0 + t);
        qoe.tick(T0 + t);
      }
      expect(events.map((e) => e.type)).toEqual(['qoe.alert_fired', 'qoe.alert_resolved']);
      expect(events[1]!.data).toMatchObject({ alertId: (events[0]!.data as { alertId: string }).alertId, resolvedAt: expect.any(Number) });
    } finally {
      qoe.close();
    }
  });
});

describe('reportQoe schema', () => {
  it('rejects wrong types, unknown keys, negative or non-finite values and oversized batches', () => {
    const ok = { id: 'a', stream: 's', path: 'webrtc', watchMs: 1 };
    expect(requestSchemas.reportQoe.safeParse({ sessions: [ok] }).success).toBe(true);
    for (const bad of [
      { sessions: [] },
      { sessions: Array.from({ length: 17 }, () => ok) },
      { sessions: [{ ...ok, watchMs: '1' }] },
      { sessions: [{ ...ok, watchMs: -1 }] },
      { sessions: [{ ...ok, watchMs: Number.POSITIVE_INFINITY }] },
      { sessions: [{ ...ok, watchMs: 3_600_001 }] },
      { sessions: [{ ...ok, path: 'rtmp' }] },
      { sessions: [{ ...ok, id: 'x'.repeat(37) }] },
      { sessions: [{ ...ok, id: '../etc' }] },
      { sessions: [{ ...ok, reason: 'has space' }] },
      { sessions: [{ ...ok, rendition: '<script>' }] },
      { sessions: [{ ...ok, viewerId: 'x' }] },
      { sessions: [ok], extra: 1 },
    ])
      expect(requestSchemas.reportQoe.safeParse(bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
  });
});
