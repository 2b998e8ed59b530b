import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CmcdIntake, extractCmcd, parseCmcd } from '../../../src/hls/CmcdIntake';

describe('CMCD parsing', () => {
  it('reads v1 and v2 payloads with their types', () => {
    expect(parseCmcd('br=3200,bs,d=4004,mtp=25400,ot=v,rtp=15000,sid="6e2f-11e9",su,tb=6000')).toEqual({
      ok: true,
      data: { br: 3200, bs: true, d: 4004, mtp: 25400, ot: 'v', rtp: 15000, sid: '6e2f-11e9', su: true, tb: 6000 },
    });
    expect(parseCmcd('v=2,sta=r,ltc=1200,msd=850,bsd=300,pr=1.25,br=(800 400)')).toEqual({
      ok: true,
      data: { v: 2, sta: 'r', ltc: 1200, msd: 850, bsd: 300, pr: 1.25, br: [800, 400] },
    });
    expect(parseCmcd('com.example-key="x",bs=?0')).toEqual({ ok: true, data: { 'com.example-key': 'x', bs: false } });
    // What hls.js 1.7 sends as CMCD v2: low-latency live, the next object as an inner list.
    expect(parseCmcd('v=2,st=ll,nor=("p40.m4s"),sid="s"')).toEqual({ ok: true, data: { v: 2, st: 'll', nor: ['p40.m4s'], sid: 's' } });
    expect(parseCmcd('nor="../s2.m4s"')).toEqual({ ok: true, data: { nor: '../s2.m4s' } });
  });

  it('rejects malformed syntax, wrong types and unknown versions', () => {
    for (const bad of ['br=1,,', 'sid="open', 'BR=1', 'br=(1 2', 'x=%%']) expect(parseCmcd(bad)).toEqual({ ok: false, reason: 'syntax' });
    for (const bad of ['br="a"', 'ot=x', 'sid=token', 'bs=1', 'pr=-1', 'br=1.5', 'st=lll', 'sid=("a")', 'nor=()', 'pb=(743.038)']) {
      expect(parseCmcd(bad), bad).toEqual({ ok: false, reason: 'type' });
    }
    expect(parseCmcd('v=3')).toEqual({ ok: false, reason: 'version' });
  });

  it('merges the query parameter and the four CMCD headers', () => {
    const r = extractCmcd(new URLSearchParams({ CMCD: 'br=800,ot=v' }), { 'cmcd-session': 'sid="s1",st=l', 'cmcd-status': 'bs' });
    expect(r).toEqual({ ok: true, data: { br: 800, ot: 'v', sid: 's1', st: 'l', bs: true } });
    expect(extractCmcd(new URLSearchParams(), {})).toBeUndefined();
  });
});

describe('CmcdIntake', () => {
  it('turns CMCD into per-stream QoE metrics and counts malformed data without failing', async () => {
    const registry = new client.Registry();
    const intake = new CmcdIntake(registry);
    const target = { room: 'r1', stream: 'alice' };
    expect(intake.observe(target, new URLSearchParams({ CMCD: 'sid="a",su,v=2,msd=900,br=800,mtp=5000,bl=1500,pr=1,ot=v,ltc=1300' }), {})).toBeUndefined();
    intake.observe(target, new URLSearchParams({ CMCD: 'sid="a",bs,bsd=250,ot=v' }), {});
    intake.observe(target, new URLSearchParams(), { 'cmcd-session': 'sid="b"', 'cmcd-object': 'ot=m' });
    expect(intake.observe(target, new URLSearchParams({ CMCD: 'br=oops' }), {})).toBe('type');
    const text = await registry.metrics();
    expect(text).toContain('subsec_hls_cmcd_requests_total{room="r1",stream="alice",ot="v"} 2');
    expect(text).toContain('subsec_hls_cmcd_requests_total{room="r1",stream="alice",ot="m"} 1');
    expect(text).toContain('subsec_hls_cmcd_sessions_started_total{room="r1",stream="alice"} 2');
    expect(text).toContain('subsec_hls_cmcd_active_sessions{room="r1",stream="alice"} 2');
    expect(text).toContain('subsec_hls_cmcd_rebuffer_events_total{room="r1",stream="alice"} 1');
    expect(text).toContain('subsec_hls_cmcd_rebuffer_seconds_total{room="r1",stream="alice"} 0.25');
    expect(text).toContain('subsec_hls_cmcd_startup_delay_seconds_sum{room="r1",stream="alice"} 0.9');
    expect(text).toContain('subsec_hls_cmcd_measured_throughput_kbps_sum{room="r1",stream="alice"} 5000');
    expect(text).toContain('subsec_hls_cmcd_requested_bitrate_kbps_sum{room="r1",stream="alice"} 800');
    expect(text).toContain('subsec_hls_cmcd_live_latency_seconds_sum{room="r1",stream="alice"} 1.3');
    expect(text).toContain('subsec_hls_cmcd_malformed_total{reason="type"} 1');
  });
});
