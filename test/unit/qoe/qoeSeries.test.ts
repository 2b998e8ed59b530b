import { describe, expect, it } from 'vitest';
import { POINT_COLUMNS, QoeSeries } from '../../../src/qoe/QoeSeries';
import { BoundedValues, OTHER_STREAM, StreamLabels } from '../../../src/qoe/StreamLabels';

const T0 = 1_700_000_000_000;

describe('QoeSeries', () => {
  it('computes the five figures over the trailing window and plots one point per tick', () => {
    const s = new QoeSeries(10, 60);
    s.add({ watchMs: 4000, stallMs: 100, stalls: 1, bytes: 500_000, startupMs: 800, latencyMs: 200, started: true }, T0);
    s.add({ watchMs: 6000, stallMs: 0, stalls: 0, bytes: 750_000, startupMs: 1200, latencyMs: 400, started: true }, T0 + 1000);
    s.add({ watchMs: 0, stallMs: 0, stalls: 0, bytes: 0, started: true, failed: true }, T0 + 2000);
    const f = s.tick(T0 + 2000, 2);
    expect(f.startupMs).toBe(1000);
    expect(f.rebufferRatio).toBeCloseTo(0.01);
    expect(f.bitrateKbps).toBeCloseTo(1000); // 1.25 MB over 10 s
    expect(f.latencyMs).toBe(300);
    expect(f.failureRate).toBeCloseTo(1 / 3);
    expect(s.windowSessions).toBe(3);
    const [point] = s.points();
    expect(point).toHaveLength(POINT_COLUMNS.length);
    expect(point![0]).toBe((T0 + 2000) / 1000);
    expect(point![6]).toBe(2);
  });

  it('forgets data older than the window and reports no data as null', () => {
    const s = new QoeSeries(5, 60);
    s.add({ watchMs: 1000, stallMs: 1000, stalls: 1, bytes: 0 }, T0);
    expect(s.tick(T0 + 4000, 1).rebufferRatio).toBe(1);
    const later = s.tick(T0 + 5000, 1);
    expect(later).toEqual({ startupMs: null, rebufferRatio: null, bitrateKbps: null, latencyMs: null, failureRate: null });
    // A bucket reused for a new second starts from zero.
    s.add({ watchMs: 2000, stallMs: 0, stalls: 0, bytes: 0 }, T0 + 6000);
    expect(s.tick(T0 + 6000, 1).rebufferRatio).toBe(0);
  });

  it('keeps the sparse per-session figures (startup, failures) over the longer session window', () => {
    const s = new QoeSeries(5, 60, 30);
    s.add({ watchMs: 1000, stallMs: 500, stalls: 1, bytes: 1000, startupMs: 900, started: true }, T0);
    s.add({ watchMs: 0, stallMs: 0, stalls: 0, bytes: 0, started: true, failed: true }, T0 + 1000);
    const f = s.tick(T0 + 20_000, 1);
    expect(f).toMatchObject({ startupMs: 900, failureRate: 0.5, rebufferRatio: null, bitrateKbps: null });
    expect(s.tick(T0 + 31_000, 1).startupMs).toBeNull();
  });

  it('keeps only historySeconds points and returns those after `since`', () => {
    const s = new QoeSeries(1, 10);
    for (let i = 0; i < 25; i++) s.tick(T0 + i * 1000, i);
    const all = s.points();
    expect(all).toHaveLength(10);
    expect(all[0]![0]).toBe(T0 / 1000 + 15);
    expect(s.points(T0 / 1000 + 22).map((p) => p[6])).toEqual([23, 24]);
  });
});

describe('StreamLabels', () => {
  it('labels the first maxStreams streams, folds the rest into other, and frees idle ones', () => {
    const labels = new StreamLabels(2);
    expect(labels.label('r', 'a', 0).key).toBe('r/a');
    expect(labels.label('r', 'b', 0).key).toBe('r/b');
    expect(labels.label('r', 'c', 0)).toBe(OTHER_STREAM);
    labels.touch('r/a', 9_000);
    expect(labels.evictIdle(10_000, 5_000).map((l) => l.key)).toEqual(['r/b']);
    expect(labels.label('r', 'c', 10_000).key).toBe('r/c');
    expect(labels.size).toBe(2);
  });

  it('bounds the distinct values of a label', () => {
    const v = new BoundedValues(2);
    expect([v.map('720p'), v.map('360p'), v.map('1080p'), v.map('720p')]).toEqual(['720p', '360p', 'other', '720p']);
  });
});
