import { describe, expect, it } from 'vitest';
import { AlertEngine, type AlertInput, type QoeAlert } from '../../../src/qoe/AlertEngine';
import type { QoeAlertRule } from '../../../src/qoe/qoeConfig';

const label = { key: 'r/s', room: 'r', stream: 's' };
const rule = (r: Partial<QoeAlertRule>): QoeAlertRule => ({ figure: 'rebufferRatio', minSessions: 1, forSeconds: 2, ...r }) as QoeAlertRule;
const input = (value: number | null, sessions = 3, figure: AlertInput['figure'] = 'rebufferRatio', path = 'webrtc'): AlertInput => ({
  label,
  path,
  figure,
  value,
  sessions,
});

function engine(rules: QoeAlertRule[]) {
  const fired: QoeAlert[] = [];
  const resolved: QoeAlert[] = [];
  const e = new AlertEngine(rules, { fired: (a) => fired.push(a), resolved: (a) => resolved.push(a) });
  return { e, fired, resolved };
}

describe('AlertEngine', () => {
  it('fires once the condition held forSeconds, and resolves once it was clear as long', () => {
    const { e, fired, resolved } = engine([rule({ above: 0.01 })]);
    e.evaluate([input(0.05)], 0);
    e.evaluate([input(0.05)], 1000);
    expect(fired).toHaveLength(0);
    e.evaluate([input(0.06)], 2000);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ room: 'r', stream: 's', path: 'webrtc', figure: 'rebufferRatio', op: '>', threshold: 0.01, value: 0.06 });
    e.evaluate([input(0.2)], 3000);
    expect(fired).toHaveLength(1);
    expect(e.active[0]!.value).toBe(0.2);
    e.evaluate([input(0)], 4000);
    e.evaluate([input(null)], 5000);
    expect(resolved).toHaveLength(0);
    e.evaluate([input(0)], 6000);
    expect(resolved).toHaveLength(1);
    expect(resolved[0]!.resolvedAt).toBe(6000);
    expect(e.active).toEqual([]);
    expect(e.recent.map((a) => Boolean(a.resolvedAt))).toEqual([true, false]);
  });

  it('needs minSessions, honours below rules and path filters, and ingest figures have no path', () => {
    const { e, fired } = engine([
      rule({ above: 2000, figure: 'startupMs', minSessions: 5, forSeconds: 0 }),
      rule({ below: 10, figure: 'ingestFrameRate', forSeconds: 0 }),
      rule({ above: 0.5, figure: 'failureRate', path: 'hls', forSeconds: 0 }),
    ]);
    e.evaluate([input(5000, 4, 'startupMs'), input(1, 1, 'failureRate', 'webrtc'), { label, figure: 'ingestFrameRate', value: 4, sessions: 0 }], 0);
    expect(fired.map((a) => a.figure)).toEqual(['ingestFrameRate']);
    expect(fired[0]!.path).toBeUndefined();
    expect(fired[0]!.op).toBe('<');
    e.evaluate([input(5000, 5, 'startupMs'), input(1, 1, 'failureRate', 'hls')], 1000);
    expect(fired.map((a) => a.figure)).toEqual(['ingestFrameRate', 'startupMs', 'failureRate']);
  });

  it('resolves the alerts of a stream that is gone', () => {
    const { e, resolved } = engine([rule({ above: 0.01, forSeconds: 0 })]);
    e.evaluate([input(1)], 0);
    e.evaluate([], 1000);
    expect(resolved).toHaveLength(1);
  });
});
