/**
 * The origin's own CMCD decoder and CMSD encoder (kept on the per-request path: the SVTA Common
 * Media Library costs several times more per call, see `npm run bench:cmcd`) checked against that
 * library, the reference implementation of CTA-5004 and CTA-5006. A new key or version in the
 * library that our code reads differently shows up here.
 */
import { decodeCmcd, validateCmcd } from '@svta/cml-cmcd';
import { decodeCmsdDynamic, decodeCmsdStatic } from '@svta/cml-cmsd';
import { describe, expect, it } from 'vitest';
import { parseCmcd } from '../../../src/hls/CmcdIntake';
import { serializeCmsdDynamic, serializeCmsdStatic } from '../../../src/hls/Cmsd';

/** The reference's verdict: the decoded data when it decodes and validates without errors. */
function reference(payload: string): { ok: true; data: unknown } | { ok: false } {
  try {
    const data = decodeCmcd(payload);
    return validateCmcd(data as Record<string, unknown>).valid ? { ok: true, data } : { ok: false };
  } catch {
    return { ok: false };
  }
}

describe('CMCD decoding agrees with the SVTA reference', () => {
  const agreed = [
    // CTA-5004 §5 examples (v1, query and header forms flattened).
    'br=3200,bs,d=4004,mtp=25400,ot=v,rtp=15000,sid="6e2f-11e9",su,tb=6000',
    'bl=21300,br=3200,bs,cid="faec5fc2-ac30-11eabb37-0242ac130002",d=4004,dl=18500,mtp=48100,nor="..%2F300kbps%2Ftrack.m4v",nrr="12323-48763",ot=v,pr=1.08,rtp=12000,sf=d,sid="6e2f-11e9",st=v,su,tb=6000',
    // CMCD v2 (CTA-5004-B): inner lists, state, latency, startup, events.
    'v=2,sta=r,ltc=1200,msd=850,bsd=(300),pr=1.25,br=(800 400)',
    'v=2,bl=(21300),br=(3200),mtp=(48100),tb=(6000),nor=("../part5.mp4"),ot=v',
    'e=ps,sta=p,v=2',
    'ec=("e1" "e2"),v=2',
    'com.example-key="x",bs=?0',
    '',
  ];
  it.each(agreed)('accepts %j with the same data', (payload) => {
    const ref = reference(payload);
    expect(ref.ok).toBe(true);
    expect(parseCmcd(payload)).toEqual({ ok: true, data: (ref as { data: unknown }).data });
  });

  const bothRefuse = ['v=3', 'br="a"', 'ot=x', 'bs=1', 'br=1,,', 'sid="open', 'BR=1', 'br=(1 2', 'x=%%'];
  it.each(bothRefuse)('refuses %j', (payload) => {
    expect(reference(payload).ok).toBe(false);
    expect(parseCmcd(payload).ok).toBe(false);
  });

  it('differs only where it is deliberately more lenient or stricter (each case named)', () => {
    // More lenient: a v2 payload with a scalar where v2 wants an inner list still measures the same
    // thing, and the intake never fails a viewer, so the figure is kept rather than dropped.
    for (const p of ['v=2,bsd=300', 'v=2,br=3200', 'v=2,nor="x"', 'ec="e1"']) {
      expect(reference(p).ok).toBe(false);
      expect(parseCmcd(p).ok).toBe(true);
    }
    // Stricter: the spec types sid as a String and br as an Integer; a negative playback rate is
    // no rate. The reference only warns (or accepts); such data would corrupt the QoE figures.
    for (const p of ['sid=token', 'br=1.5', 'pr=-1']) {
      expect(reference(p).ok).toBe(true);
      expect(parseCmcd(p)).toEqual({ ok: false, reason: 'type' });
    }
  });
});

describe('CMSD headers parse with the SVTA reference decoder', () => {
  it('CMSD-Static: every key the origin sends', () => {
    const value = { ot: 'v', sf: 'h', st: 'l', d: 200, br: 800, at: 1_700_000_000_000, ht: 20, su: true, n: 'edge "1"', v: 1 } as const;
    expect(decodeCmsdStatic(serializeCmsdStatic(value))).toEqual(value);
    expect(decodeCmsdStatic(serializeCmsdStatic({ ot: 'm', sf: 'h', st: 'v', v: 1 }))).toEqual({ ot: 'm', sf: 'h', st: 'v', v: 1 });
  });

  it('CMSD-Dynamic: our member parses, and a CTA-5006 example path with an intermediary', () => {
    expect(decodeCmsdDynamic(serializeCmsdDynamic('node-1', { rd: 12, etp: 3000, mb: 800, rtt: 30, du: true }))).toEqual([
      { value: 'node-1', params: { rd: 12, etp: 3000, mb: 800, rtt: 30, du: true } },
    ]);
    const path = `${serializeCmsdDynamic('origin-1', { rd: 12, etp: 3000 })},"CDN-Z";etp=2000;mb=4000;du`;
    expect(decodeCmsdDynamic(path)).toEqual([
      { value: 'origin-1', params: { rd: 12, etp: 3000 } },
      { value: 'CDN-Z', params: { etp: 2000, mb: 4000, du: true } },
    ]);
  });
});
