/**
 * CTA-5006 Common Media Server Data (CMSD) response headers of the LL-HLS origin.
 *
 * `CMSD-Static` is an RFC 8941 Structured Field Dictionary describing the object itself (cacheable
 * with it): `ot` object type, `sf` streaming format, `st` stream type (tokens), `d` duration, `br`
 * encoded bitrate, `at` availability time, `ht` held time, `v` version (integers), `n` identifier
 * (string), `su` (boolean, sent only when true). `CMSD-Dynamic` is a Structured Field List with one
 * member per server on the path: the member is the server's identifier as a String and its keys
 * are parameters (`"origin-1";rd=12`); intermediaries append their own members.
 * Values are checked against the field grammar; an unrepresentable value throws instead of
 * producing a header a player cannot parse.
 */
import type { LiveRendition } from './LadderTranscoder';

/** `ot`: m playlist/manifest, a audio, v video, av muxed, i init, c captions, tt timed text, k key, o other. */
export type CmsdObjectType = 'm' | 'a' | 'v' | 'av' | 'i' | 'c' | 'tt' | 'k' | 'o';

/** Keys of `CMSD-Static` (CTA-5006 §3.3) that this origin can send. */
export interface CmsdStatic {
  /** Object type (token). */
  ot?: CmsdObjectType;
  /** Streaming format (token): d DASH, h HLS, s Smooth, o other. */
  sf?: 'd' | 'h' | 's' | 'o';
  /** Stream type (token): l live (objects appear over time), v all objects available (VOD). */
  st?: 'l' | 'v';
  /** Playback duration of the object (ms; a part's own duration, not its segment's). */
  d?: number;
  /** Encoded bitrate of the object (kbps, averaged over its duration). */
  br?: number;
  /** Availability time: ms since the Unix epoch when the object became available at the origin. */
  at?: number;
  /** Held time: ms the origin held this (LL-HLS blocking) response back before returning it. */
  ht?: number;
  /** Startup: the object is needed urgently (sent as a bare key; never sent when false). */
  su?: boolean;
  /** Intermediary identifier (string). */
  n?: string;
  /** CMSD version (integer). */
  v?: number;
}

/** Parameters of one `CMSD-Dynamic` list member (CTA-5006 §3.4). */
export interface CmsdDynamicParams {
  /** Response delay: ms from receipt of the request until the first body byte was ready to send. */
  rd?: number;
  /** Estimated throughput to the client (kbps). */
  etp?: number;
  /** Maximum suggested bitrate for the player's ABR (kbps). */
  mb?: number;
  /** Estimated round-trip time to the client (ms). */
  rtt?: number;
  /** Duress: the server is overloaded (bare key; never sent when false). */
  du?: boolean;
}

const OBJECT_TYPES = new Set(['m', 'a', 'v', 'av', 'i', 'c', 'tt', 'k', 'o']);
const FORMATS = new Set(['d', 'h', 's', 'o']);
const STREAM_TYPES = new Set(['l', 'v']);
const MAX_INTEGER = 999_999_999_999_999; // RFC 8941 §3.3.1: at most 15 digits
const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

/** RFC 8941 Integer. */
function sfInteger(key: string, n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > MAX_INTEGER) throw new RangeError(`CMSD ${key} must be an integer of at most 15 digits, got ${n}`);
  return String(n);
}

/** RFC 8941 String: printable ASCII, `"` and `\` escaped. */
export function sfString(s: string): string {
  if (!PRINTABLE.test(s)) throw new RangeError(`CMSD strings must be printable ASCII: ${JSON.stringify(s)}`);
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/** RFC 8941 Token restricted to the key's enumeration. */
function sfToken(key: string, t: string, allowed: Set<string>): string {
  if (!allowed.has(t) || !TOKEN.test(t)) throw new RangeError(`CMSD ${key} must be one of ${[...allowed].join(', ')}, got ${JSON.stringify(t)}`);
  return t;
}

/** Serialises `CMSD-Static` (a dictionary, members joined by `,` without whitespace as in CTA-5006's examples); '' when empty. */
export function serializeCmsdStatic(data: CmsdStatic): string {
  const out: string[] = [];
  if (data.ot !== undefined) out.push(`ot=${sfToken('ot', data.ot, OBJECT_TYPES)}`);
  if (data.sf !== undefined) out.push(`sf=${sfToken('sf', data.sf, FORMATS)}`);
  if (data.st !== undefined) out.push(`st=${sfToken('st', data.st, STREAM_TYPES)}`);
  for (const key of ['d', 'br', 'at', 'ht'] as const) {
    const n = data[key];
    if (n !== undefined) out.push(`${key}=${sfInteger(key, n)}`);
  }
  if (data.su) out.push('su');
  if (data.n !== undefined) out.push(`n=${sfString(data.n)}`);
  if (data.v !== undefined) out.push(`v=${sfInteger('v', data.v)}`);
  return out.join(',');
}

/** Serialises one `CMSD-Dynamic` list member: the server identifier (String) with its parameters. */
export function serializeCmsdDynamic(id: string, params: CmsdDynamicParams): string {
  let out = sfString(id);
  for (const key of ['rd', 'etp', 'mb', 'rtt'] as const) {
    const n = params[key];
    if (n !== undefined) out += `;${key}=${sfInteger(key, n)}`;
  }
  if (params.du) out += ';du';
  return out;
}

/** `ot` of an fMP4 object from the kinds of the tracks it carries; undefined when unknown (the key must then be left out). */
export function mediaObjectType(kinds: ReadonlyArray<'video' | 'audio' | 'other'>): CmsdObjectType | undefined {
  const video = kinds.includes('video');
  const audio = kinds.includes('audio');
  if (video && audio) return 'av';
  if (video) return 'v';
  if (audio) return 'a';
  return kinds.length > 0 ? 'o' : undefined;
}

/** `ot` of a rendition's parts and segments (one track per fMP4 output: `v` or `a`). */
export function renditionObjectType(r: Pick<LiveRendition, 'kind' | 'packager'>): CmsdObjectType | undefined {
  const tracks = r.packager.initInfo?.tracks;
  return mediaObjectType(tracks && tracks.length > 0 ? tracks.map((t) => t.kind) : [r.kind]);
}

/** What {@link CmsdHeaders.media} describes. */
export interface CmsdMediaObject {
  /** `i` for an init segment; otherwise from the tracks it carries ({@link renditionObjectType}). */
  ot: CmsdObjectType | undefined;
  /** True once the stream ended (`st=v`). */
  ended: boolean;
  /** Duration (s) of a part or segment. */
  durationSec?: number;
  /** Wall-clock ms when it was published. */
  availableAt?: number;
  /** Size (bytes), for `br` with the duration. */
  bytes?: number;
  /** How long a held (preload-hint) request waited for it (ms). */
  heldMs?: number;
}

/** Settings of {@link CmsdHeaders} (the `hls.cmsd` config section plus the identifier fallback). */
export interface CmsdHeadersOptions {
  /** Send `CMSD-Dynamic` too. */
  dynamic: boolean;
  /** Intermediary identifier in `CMSD-Dynamic`. */
  id: string;
  /** `sf`, the streaming format of the responses (default `h`, HLS; `d` for the DASH routes). */
  format?: 'h' | 'd';
}

/** Header values of the origin's responses; header names as the fast path and the routes write them. */
export class CmsdHeaders {
  /** `Access-Control-Expose-Headers` of HLS responses, so browser players may read the CMSD headers. */
  readonly exposeHeaders: string;
  readonly #dynamicPrefix: string | undefined;
  readonly #playlist: { live: string; ended: string };
  readonly #sf: 'h' | 'd';

  constructor(options: CmsdHeadersOptions) {
    this.#sf = options.format ?? 'h';
    // A node id outside printable ASCII cannot be an sf-string: percent-encode it rather than fail.
    const id = PRINTABLE.test(options.id) ? options.id : encodeURIComponent(options.id);
    this.#dynamicPrefix = options.dynamic ? serializeCmsdDynamic(id, {}) : undefined;
    this.exposeHeaders = options.dynamic ? 'ETag, CMSD-Static, CMSD-Dynamic' : 'ETag, CMSD-Static';
    this.#playlist = {
      live: serializeCmsdStatic({ ot: 'm', sf: this.#sf, st: 'l', v: 1 }),
      ended: serializeCmsdStatic({ ot: 'm', sf: this.#sf, st: 'v', v: 1 }),
    };
  }

  /** `CMSD-Static` of a playlist or manifest (multivariant, media playlist, MPD); `heldMs` for a blocking reload that waited. */
  playlist(ended: boolean, heldMs?: number): string {
    if (heldMs === undefined) return ended ? this.#playlist.ended : this.#playlist.live;
    return serializeCmsdStatic({ ot: 'm', sf: this.#sf, st: ended ? 'v' : 'l', ht: Math.max(0, Math.round(heldMs)), v: 1 });
  }

  /** `CMSD-Static` of an init segment, part or segment. */
  media(o: CmsdMediaObject): string {
    const durationMs = o.durationSec === undefined ? undefined : Math.round(o.durationSec * 1000);
    return serializeCmsdStatic({
      ot: o.ot,
      sf: this.#sf,
      st: o.ended ? 'v' : 'l',
      d: durationMs,
      br: o.bytes !== undefined && o.durationSec !== undefined && o.durationSec > 0 ? Math.round((o.bytes * 8) / o.durationSec / 1000) : undefined,
      at: o.availableAt === undefined ? undefined : Math.round(o.availableAt),
      ht: o.heldMs === undefined ? undefined : Math.max(0, Math.round(o.heldMs)),
      v: 1,
    });
  }

  /** `CMSD-Dynamic` with the response delay (ms); undefined when dynamic data is off. */
  dynamic(rdMs: number): string | undefined {
    return this.#dynamicPrefix === undefined ? undefined : `${this.#dynamicPrefix};rd=${Math.max(0, Math.round(rdMs))}`;
  }

  /** Both headers as a header map (the HttpServer routes). */
  headers(staticValue: string, rdMs: number): Record<string, string> {
    const dyn = this.dynamic(rdMs);
    const h: Record<string, string> = { 'cmsd-static': staticValue, 'access-control-expose-headers': this.exposeHeaders };
    if (dyn !== undefined) h['cmsd-dynamic'] = dyn;
    return h;
  }
}
