/**
 * Common Media Client Data (CTA-5004 v1 and CMCD v2) intake: reads the `CMCD` query parameter and
 * the `CMCD-Object/-Request/-Session/-Status` headers of HLS requests, validates them (structured
 * field dictionary syntax, known keys' types and enumerations) and turns them into per-stream
 * Prometheus QoE metrics. Malformed data is counted and ignored; it never fails a viewer's request.
 */
import client from 'prom-client';

/** One parsed CMCD value. */
export type CmcdValue = number | string | boolean | Array<number | string>;

/** A parsed CMCD payload: key → value. */
export type CmcdData = Record<string, CmcdValue>;

/** Why a payload was rejected. */
export type CmcdRejection = 'syntax' | 'type' | 'version';

const INTEGER_KEYS = new Set([
  'br',
  'ab',
  'pb',
  'bl',
  'tbl',
  'd',
  'dl',
  'mtp',
  'rtp',
  'tb',
  'lb',
  'tab',
  'lab',
  'tpb',
  'ltc',
  'msd',
  'bsd',
  'bsa',
  'bsda',
  'ttfb',
  'ttfbb',
  'ttlb',
  'sn',
  'ts',
  'df',
  'dfa',
  'rc',
  'pt',
  'v',
]);
const DECIMAL_KEYS = new Set(['pr']);
const BOOLEAN_KEYS = new Set(['bs', 'su', 'bg', 'nr']);
const STRING_KEYS = new Set(['cid', 'sid', 'nrr', 'cdn', 'h', 'url', 'cen', 'cs', 'cmsdd', 'cmsds', 'smrt']);
/** A string in v1, an inner list of strings in v2 (CTA-5004-B). */
const STRING_LIST_KEYS = new Set(['nor', 'ec']);
const TOKEN_VALUES: Record<string, ReadonlySet<string>> = {
  ot: new Set(['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o']),
  sf: new Set(['d', 'h', 's', 'o']),
  // v2 adds `ll`, low-latency live.
  st: new Set(['v', 'l', 'll']),
  sta: new Set(['s', 'p', 'k', 'r', 'a', 'w', 'e', 'f', 'q', 'd']),
  e: new Set(['bc', 'ps', 'e', 't', 'c', 'b', 'm', 'um', 'pe', 'pc', 'pr', 'ce', 'rr', 'sk', 'rp', 'ts', 'fs', 'bg', 'fg']),
};
const HEADER_NAMES = ['cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status'];

/** Result of {@link parseCmcd}. */
export type CmcdParse = { ok: true; data: CmcdData } | { ok: false; reason: CmcdRejection };

function splitMembers(text: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\') {
        if (i + 1 >= text.length) return undefined;
        cur += text[++i];
      } else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    if (depth < 0) return undefined;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (quoted || depth !== 0) return undefined;
  if (cur.trim() !== '' || out.length > 0) out.push(cur.trim());
  return out;
}

type Item = { kind: 'string' | 'token' | 'number' | 'boolean'; value: string | number | boolean };

function parseItem(raw: string): Item | undefined {
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"')) return undefined;
    const body = raw.slice(1, -1);
    if (/(^|[^\\])"/.test(body)) return undefined;
    return { kind: 'string', value: body.replace(/\\(["\\])/g, '$1') };
  }
  if (raw === '?1' || raw === '?0') return { kind: 'boolean', value: raw === '?1' };
  if (/^-?\d{1,15}(\.\d{1,3})?$/.test(raw)) return { kind: 'number', value: Number(raw) };
  if (/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/.test(raw)) return { kind: 'token', value: raw };
  return undefined;
}

/** Parses and validates one CMCD payload (query value or header value). */
export function parseCmcd(text: string): CmcdParse {
  if (text.length > 4096) return { ok: false, reason: 'syntax' };
  const members = splitMembers(text);
  if (!members) return { ok: false, reason: 'syntax' };
  const data: CmcdData = {};
  for (const m of members) {
    if (m === '') return { ok: false, reason: 'syntax' };
    const eq = m.indexOf('=');
    const key = eq < 0 ? m : m.slice(0, eq);
    if (!/^[a-z*][a-z0-9_\-.*]{0,63}$/.test(key)) return { ok: false, reason: 'syntax' };
    let items: Item[];
    let list = false;
    if (eq < 0) items = [{ kind: 'boolean', value: true }];
    else {
      const raw = m.slice(eq + 1);
      if (raw.startsWith('(')) {
        if (!raw.endsWith(')')) return { ok: false, reason: 'syntax' };
        list = true;
        const parsed = raw.slice(1, -1).trim().split(/\s+/).filter(Boolean).map(parseItem);
        if (parsed.some((x) => x === undefined || x.kind === 'boolean')) return { ok: false, reason: 'syntax' };
        items = parsed as Item[];
      } else {
        const item = parseItem(raw);
        if (!item) return { ok: false, reason: 'syntax' };
        items = [item];
      }
    }
    // Type checks of known keys; unknown keys (custom keys carry a '-') are kept as they are.
    const kinds = new Set(items.map((i) => i.kind));
    const only = (k: Item['kind']) => kinds.size === 1 && kinds.has(k);
    if (INTEGER_KEYS.has(key) && !(only('number') && items.every((i) => Number.isInteger(i.value) && (i.value as number) >= 0)))
      return { ok: false, reason: 'type' };
    if (DECIMAL_KEYS.has(key) && !(only('number') && !list && (items[0]!.value as number) >= 0)) return { ok: false, reason: 'type' };
    if (BOOLEAN_KEYS.has(key) && !(only('boolean') && !list)) return { ok: false, reason: 'type' };
    if (STRING_KEYS.has(key) && !(only('string') && !list && (items[0]!.value as string).length <= 256)) return { ok: false, reason: 'type' };
    if (STRING_LIST_KEYS.has(key) && !(only('string') && (list || items.length === 1) && items.every((i) => (i.value as string).length <= 256)))
      return { ok: false, reason: 'type' };
    const allowed = TOKEN_VALUES[key];
    if (allowed && !(only('token') && items.every((i) => allowed.has(i.value as string)))) return { ok: false, reason: 'type' };
    data[key] = list ? items.map((i) => i.value as number | string) : items[0]!.value;
  }
  if (data.v !== undefined && data.v !== 1 && data.v !== 2) return { ok: false, reason: 'version' };
  return { ok: true, data };
}

/** Collects CMCD from a request's query and headers into one payload (undefined when none sent). */
export function extractCmcd(query: URLSearchParams, headers: Record<string, string>): CmcdParse | undefined {
  const parts: string[] = [];
  const q = query.get('CMCD');
  if (q !== null) parts.push(q);
  for (const h of HEADER_NAMES) if (headers[h] !== undefined) parts.push(headers[h]!);
  if (parts.length === 0) return undefined;
  const merged: CmcdData = {};
  for (const p of parts) {
    if (p.trim() === '') continue;
    const r = parseCmcd(p);
    if (!r.ok) return r;
    Object.assign(merged, r.data);
  }
  return { ok: true, data: merged };
}

function firstNumber(v: CmcdValue | undefined): number | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'number' ? x : undefined;
}

/** Where a request went, for labels. */
export interface CmcdTarget {
  room: string;
  stream: string;
}

/** The QoE metrics fed by CMCD. */
export class CmcdIntake {
  readonly #requests: client.Counter<'room' | 'stream' | 'ot'>;
  readonly #malformed: client.Counter<'reason'>;
  readonly #sessionsStarted: client.Counter<'room' | 'stream'>;
  readonly #startupDelay: client.Histogram<'room' | 'stream'>;
  readonly #rebuffers: client.Counter<'room' | 'stream'>;
  readonly #rebufferSeconds: client.Counter<'room' | 'stream'>;
  readonly #throughput: client.Histogram<'room' | 'stream'>;
  readonly #bitrate: client.Histogram<'room' | 'stream'>;
  readonly #bufferLength: client.Histogram<'room' | 'stream'>;
  readonly #playbackRate: client.Histogram<'room' | 'stream'>;
  readonly #latency: client.Histogram<'room' | 'stream'>;
  /** `${room}/${stream}` → session id → last seen (ms). */
  readonly #sessions = new Map<string, Map<string, number>>();
  readonly #sessionTtlMs: number;
  readonly #maxSessions: number;
  readonly #onRecord: ((target: CmcdTarget, data: CmcdData, now: number) => void) | undefined;

  /**
   * `sessionTtlMs`: a session counts as active this long after its last request (default 60 s).
   * `onRecord`: also gets every valid payload (the QoE service maps it onto its figures).
   */
  constructor(
    registry: client.Registry,
    options: { sessionTtlMs?: number; maxSessions?: number; onRecord?: (target: CmcdTarget, data: CmcdData, now: number) => void } = {},
  ) {
    this.#sessionTtlMs = options.sessionTtlMs ?? 60_000;
    this.#maxSessions = options.maxSessions ?? 100_000;
    this.#onRecord = options.onRecord;
    const registers = [registry];
    const labelNames = ['room', 'stream'] as const;
    this.#requests = new client.Counter({
      name: 'subsec_hls_cmcd_requests_total',
      help: 'HLS requests carrying valid CMCD, by object type',
      labelNames: ['room', 'stream', 'ot'],
      registers,
    });
    this.#malformed = new client.Counter({
      name: 'subsec_hls_cmcd_malformed_total',
      help: 'HLS requests whose CMCD was malformed and ignored',
      labelNames: ['reason'],
      registers,
    });
    this.#sessionsStarted = new client.Counter({
      name: 'subsec_hls_cmcd_sessions_started_total',
      help: 'Playback sessions (CMCD sid) seen for the first time',
      labelNames,
      registers,
    });
    this.#startupDelay = new client.Histogram({
      name: 'subsec_hls_cmcd_startup_delay_seconds',
      help: 'Media start delay reported by players (CMCD v2 msd)',
      labelNames,
      registers,
      buckets: [0.25, 0.5, 1, 1.5, 2, 3, 5, 10],
    });
    this.#rebuffers = new client.Counter({
      name: 'subsec_hls_cmcd_rebuffer_events_total',
      help: 'Requests reporting buffer starvation (CMCD bs, or sta=r)',
      labelNames,
      registers,
    });
    this.#rebufferSeconds = new client.Counter({
      name: 'subsec_hls_cmcd_rebuffer_seconds_total',
      help: 'Buffer starvation time reported by players (CMCD v2 bsd)',
      labelNames,
      registers,
    });
    this.#throughput = new client.Histogram({
      name: 'subsec_hls_cmcd_measured_throughput_kbps',
      help: 'Throughput measured by players (CMCD mtp, kbps)',
      labelNames,
      registers,
      buckets: [250, 500, 1000, 2000, 5000, 10_000, 25_000, 50_000, 100_000],
    });
    this.#bitrate = new client.Histogram({
      name: 'subsec_hls_cmcd_requested_bitrate_kbps',
      help: 'Encoded bitrate of requested objects (CMCD br, kbps)',
      labelNames,
      registers,
      buckets: [100, 200, 400, 800, 1500, 3000, 6000, 12_000],
    });
    this.#bufferLength = new client.Histogram({
      name: 'subsec_hls_cmcd_buffer_length_seconds',
      help: 'Player buffer length (CMCD bl)',
      labelNames,
      registers,
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 30],
    });
    this.#playbackRate = new client.Histogram({
      name: 'subsec_hls_cmcd_playback_rate',
      help: 'Playback rate (CMCD pr; 0 when paused)',
      labelNames,
      registers,
      buckets: [0, 0.5, 0.9, 0.99, 1, 1.01, 1.1, 1.5, 2],
    });
    this.#latency = new client.Histogram({
      name: 'subsec_hls_cmcd_live_latency_seconds',
      help: 'Live latency reported by players (CMCD v2 ltc)',
      labelNames,
      registers,
      buckets: [0.5, 1, 1.5, 2, 3, 5, 10, 30],
    });
    const sessions = this.#sessions;
    const ttl = this.#sessionTtlMs;
    new client.Gauge({
      name: 'subsec_hls_cmcd_active_sessions',
      help: 'Playback sessions (CMCD sid) with a request in the last minute',
      labelNames,
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const [key, m] of sessions) {
          for (const [sid, at] of m) if (now - at > ttl) m.delete(sid);
          if (m.size === 0) {
            sessions.delete(key);
            continue;
          }
          const [room, stream] = splitKey(key);
          this.set({ room, stream }, m.size);
        }
      },
    });
  }

  /** Reads CMCD from a request and records it; returns the rejection reason when malformed. */
  observe(target: CmcdTarget, query: URLSearchParams, headers: Record<string, string>, now = Date.now()): CmcdRejection | undefined {
    const parsed = extractCmcd(query, headers);
    if (!parsed) return undefined;
    if (!parsed.ok) {
      this.#malformed.inc({ reason: parsed.reason });
      return parsed.reason;
    }
    this.record(target, parsed.data, now);
    return undefined;
  }

  /** Counts a payload refused elsewhere (event mode) with the request path's metric. */
  countMalformed(reason: CmcdRejection): void {
    this.#malformed.inc({ reason });
  }

  /** Records one valid payload. */
  record(target: CmcdTarget, d: CmcdData, now = Date.now()): void {
    const labels = { room: target.room, stream: target.stream };
    const ot = typeof d.ot === 'string' ? d.ot : 'none';
    this.#requests.inc({ ...labels, ot });
    if (typeof d.sid === 'string') {
      const key = `${target.room}\u0000${target.stream}`;
      let m = this.#sessions.get(key);
      if (!m) this.#sessions.set(key, (m = new Map()));
      if (!m.has(d.sid) && this.#sessionCount() < this.#maxSessions) {
        this.#sessionsStarted.inc(labels);
        m.set(d.sid, now);
      } else if (m.has(d.sid)) m.set(d.sid, now);
    }
    const msd = firstNumber(d.msd);
    if (msd !== undefined) this.#startupDelay.observe(labels, msd / 1000);
    if (d.bs === true || d.sta === 'r') this.#rebuffers.inc(labels);
    const bsd = firstNumber(d.bsd);
    if (bsd !== undefined) this.#rebufferSeconds.inc(labels, bsd / 1000);
    const mtp = firstNumber(d.mtp);
    if (mtp !== undefined) this.#throughput.observe(labels, mtp);
    const br = firstNumber(d.br);
    if (br !== undefined) this.#bitrate.observe(labels, br);
    const bl = firstNumber(d.bl);
    if (bl !== undefined) this.#bufferLength.observe(labels, bl / 1000);
    if (typeof d.pr === 'number') this.#playbackRate.observe(labels, d.pr);
    const ltc = firstNumber(d.ltc);
    if (ltc !== undefined) this.#latency.observe(labels, ltc / 1000);
    this.#onRecord?.(target, d, now);
  }

  #sessionCount(): number {
    let n = 0;
    for (const m of this.#sessions.values()) n += m.size;
    return n;
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}
