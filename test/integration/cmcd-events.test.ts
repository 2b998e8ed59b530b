import { encodeCmcd } from '@svta/cml-cmcd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { metricsText } from '../helpers/metrics';
import { startNode } from '../helpers/startNode';

/** The value of the one exposition line of `name` carrying `labels`; the series must exist. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  expect(lines, `series ${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return Number(lines[0]!.split(' ').pop());
}

/** A body as hls.js's event reporting sends it: one encoded CMCD report per line, newline-terminated. */
const body = (reports: Array<Record<string, unknown>>) => reports.map((r) => encodeCmcd(r as never)).join('\n') + '\n';

describe('CMCD v2 event mode intake', () => {
  let node: SubsecNode;
  beforeAll(async () => {
    node = await startNode({ hls: { enabled: true } });
  }, 30_000);
  afterAll(async () => {
    await node?.close();
  });
  const post = (path: string, text: string, type = 'application/cmcd') =>
    fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body: text });

  it('records event reports decoded by the reference library into the QoE metrics', async () => {
    const res = await post(
      '/cmcd/party/alice',
      body([
        { v: 2, e: 'ps', sta: 's', sid: 'ev-session-1', ts: Date.now(), msd: 640 },
        { v: 2, e: 'ps', sta: 'r', sid: 'ev-session-1', ts: Date.now(), bsd: [450] },
        { v: 2, e: 'rr', sid: 'ev-session-1', ts: Date.now(), br: [1200], mtp: [8000], ot: 'v' },
      ]),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const text = await metricsText(node.url);
    const labels = { room: 'party', stream: 'alice' };
    expect(sample(text, 'subsec_hls_cmcd_sessions_started_total', labels)).toBe(1);
    expect(sample(text, 'subsec_hls_cmcd_startup_delay_seconds_sum', labels)).toBeCloseTo(0.64, 5);
    expect(sample(text, 'subsec_hls_cmcd_rebuffer_events_total', labels)).toBe(1);
    expect(sample(text, 'subsec_hls_cmcd_rebuffer_seconds_total', labels)).toBeCloseTo(0.45, 5);
    expect(sample(text, 'subsec_hls_cmcd_requested_bitrate_kbps_sum', labels)).toBe(1200);
    expect(sample(text, 'subsec_hls_cmcd_measured_throughput_kbps_sum', labels)).toBe(8000);
  });

  it('refuses malformed reports line by line, keeps the valid ones, and counts each refusal', async () => {
    const before = await metricsText(node.url);
    const typeBefore = before.includes('subsec_hls_cmcd_malformed_total{reason="type"')
      ? sample(before, 'subsec_hls_cmcd_malformed_total', { reason: 'type' })
      : 0;
    const res = await post('/cmcd/party/bob', `${encodeCmcd({ v: 2, e: 'ps', sta: 'p', sid: 'ev-bob' } as never)}\nbr="oops",v=2\nsid="open\n`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 'BAD_REQUEST', message: 'malformed CMCD reports (line 2: type, line 3: syntax)' });
    const after = await metricsText(node.url);
    expect(sample(after, 'subsec_hls_cmcd_malformed_total', { reason: 'type' })).toBe(typeBefore + 1);
    expect(sample(after, 'subsec_hls_cmcd_malformed_total', { reason: 'syntax' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'subsec_hls_cmcd_sessions_started_total', { room: 'party', stream: 'bob' })).toBe(1);
  });

  it('answers a wrong content type, a bad path and an oversized body with their statuses', async () => {
    expect((await post('/cmcd/party/alice', 'sid="x"', 'text/plain')).status).toBe(415);
    expect((await post('/cmcd/bad%20room/alice', 'sid="x"')).status).toBe(400);
    expect((await post('/cmcd/party/alice', 'bs\n'.repeat(201))).status).toBe(413);
    expect((await fetch(`${node.url}/cmcd/party/alice`, { method: 'OPTIONS' })).status).toBe(204);
  });
});
