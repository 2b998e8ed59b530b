/**
 * `npm run bench:cmcd`: CPU per call of the LL-HLS origin's CMCD intake decode and CMSD header
 * encode — subsec's own code against the SVTA Common Media Library (the reference implementation
 * of CTA-5004/5006), on the same payloads, in one process. The origin keeps the library for what
 * is not per request only if the library costs more than 2× per call (the ratio decides; see
 * docs/ll-hls.md). Last line: one JSON object. Exits non-zero when a figure could not be measured.
 *
 * Options: --iterations N (per figure, default 200000)
 */
import { parseArgs } from 'node:util';
import { decodeCmcd, validateCmcd } from '@svta/cml-cmcd';
import { encodeCmsdDynamic, encodeCmsdStatic, type CmsdDynamic, type CmsdStatic as CmlCmsdStatic } from '@svta/cml-cmsd';
import { parseCmcd } from '../../src/hls/CmcdIntake';
import { serializeCmsdDynamic, serializeCmsdStatic, type CmsdStatic } from '../../src/hls/Cmsd';

/** Payloads as hls.js (query form, v1 and v2) and dash.js send them. */
const PAYLOADS = [
  'br=3200,bs,d=4004,mtp=25400,ot=v,rtp=15000,sid="6e2f-11e9",su,tb=6000',
  'v=2,sta=r,ltc=1200,msd=850,bsd=(300),pr=1.25,br=(800 400)',
  'bl=(21300),br=(3200),cid="room/alice",d=4004,dl=18500,mtp=(48100),nor=("../part5.mp4"),ot=v,rtp=12000,sf=h,sid="6e2f",st=l,su,tb=(6000),v=2',
];
const STATIC: CmsdStatic = { ot: 'v', sf: 'h', st: 'l', d: 200, br: 800, at: 1_700_000_000_000, v: 1 };

function usPerCall(iterations: number, f: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) f(i);
  return Number(process.hrtime.bigint() - t) / 1000 / iterations;
}

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200000' } } });
const n = Number(values.iterations);
if (!Number.isInteger(n) || n < 1000) throw new TypeError('--iterations must be an integer ≥ 1000');

// Both sides must read the payloads the same way, or the timing compares different work.
for (const p of PAYLOADS) {
  const ours = parseCmcd(p);
  const lib = decodeCmcd(p);
  if (!ours.ok || JSON.stringify(ours.data) !== JSON.stringify(lib) || !validateCmcd(lib as Record<string, unknown>).valid) {
    console.error(`payload decoded differently: ${p}\n ours ${JSON.stringify(ours)}\n cml  ${JSON.stringify(lib)}`);
    process.exit(1);
  }
}

const figures = {
  cmcdDecodeOwnUs: usPerCall(n, (i) => parseCmcd(PAYLOADS[i % 3]!)),
  cmcdDecodeValidateCmlUs: usPerCall(n, (i) => validateCmcd(decodeCmcd(PAYLOADS[i % 3]!) as Record<string, unknown>)),
  cmsdStaticOwnUs: usPerCall(n, () => serializeCmsdStatic(STATIC)),
  cmsdStaticCmlUs: usPerCall(n, () => encodeCmsdStatic(STATIC as CmlCmsdStatic)),
  cmsdDynamicOwnUs: usPerCall(n, (i) => serializeCmsdDynamic('node-1', { rd: i % 50 })),
  // 1.1.0 declares the second argument as {value, params} but serialises it as the params (seen).
  cmsdDynamicCmlUs: usPerCall(n, (i) => encodeCmsdDynamic('node-1', { rd: i % 50 } as unknown as CmsdDynamic)),
};
const result = {
  ...figures,
  cmcdCmlCostRatio: figures.cmcdDecodeValidateCmlUs / figures.cmcdDecodeOwnUs,
  cmsdStaticCmlCostRatio: figures.cmsdStaticCmlUs / figures.cmsdStaticOwnUs,
  cmsdDynamicCmlCostRatio: figures.cmsdDynamicCmlUs / figures.cmsdDynamicOwnUs,
  iterations: n,
};
for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(26)} ${typeof v === 'number' ? v.toFixed(3) : v}`);
const bad = Object.entries(result).filter(([, v]) => !Number.isFinite(v) || v <= 0);
console.log(JSON.stringify(result));
if (bad.length > 0) {
  console.error(`not measured: ${bad.map(([k]) => k).join(', ')}`);
  process.exit(1);
}
