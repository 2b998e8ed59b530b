/**
 * moq-lite messages for the versions this relay speaks (lite-03 to lite-06), encoded and
 * decoded. Every control message is size-prefixed; group streams carry a size-prefixed
 * GROUP header then frames as `size, payload` (lite-05+: `timestamp delta, size, payload`)
 * until FIN. The messages lite-05 and lite-06 added live in ./lite05.ts; the gates below say
 * which version carries what (docs/moq.md lists the differences).
 *
 * Differences handled here: lite-04 adds ANNOUNCE_REQUEST's exclude-hop origin (lite-06 drops
 * it again) and carries each hop's origin id in announcements (lite-03 only a count); lite-05
 * lets a sender omit itself from the hop chain (ANNOUNCE_OK names it once) and defines status 2
 * (restart); lite-06 replaces the status byte by typed, id-referenced announcements.
 */
import { ProtocolViolation } from '../errors';
import type { BufferReader } from './BufferReader';
import { Encoder, encodeMessage } from './Encoder';

/** Wire version numbers. */
export const Version = {
  LITE_03: 0xff0dad03,
  LITE_04: 0xff0dad04,
  LITE_05: 0xff0dad05,
  /** Work in progress upstream (ALPN `moq-lite-06-wip`); spoken as @moq/net 0.3.4 speaks it. */
  LITE_06: 0xff0dad06,
} as const;
/** A version this relay speaks. */
export type Version = (typeof Version)[keyof typeof Version];

/**
 * ALPN / WebTransport protocol / QMux app protocol per version, in order of preference: the
 * newest published draft first; lite-06's work-in-progress ALPN only when the peer offers it
 * without lite-05 (its wire format may still change between @moq/net releases).
 */
export const ALPNS: ReadonlyArray<{ alpn: string; version: Version }> = [
  { alpn: 'moq-lite-05', version: Version.LITE_05 },
  { alpn: 'moq-lite-06-wip', version: Version.LITE_06 },
  { alpn: 'moq-lite-04', version: Version.LITE_04 },
  { alpn: 'moq-lite-03', version: Version.LITE_03 },
];

/** The version an ALPN selects, if we speak it. */
export function versionOfAlpn(alpn: string): Version | undefined {
  return ALPNS.find((a) => a.alpn === alpn)?.version;
}

/** Human name of a version (its ALPN). */
export function versionName(v: number): string {
  return ALPNS.find((a) => a.version === v)?.alpn ?? `0x${v.toString(16)}`;
}

/** The ALPNs this relay speaks, preferred first (for error messages and `/info`). */
export function spokenAlpns(): string[] {
  return ALPNS.map((a) => a.alpn);
}

/** lite-04 and lite-05: ANNOUNCE_REQUEST carries the requester's origin id to exclude. */
export function hasExcludeHop(v: Version): boolean {
  return v === Version.LITE_04 || v === Version.LITE_05;
}

/**
 * lite-05+: SETUP on a unidirectional stream, ANNOUNCE_OK before announcements, TRACK and
 * FETCH streams, SUBSCRIBE answered by SUBSCRIBE_START/END/DROP (no SUBSCRIBE_OK), and a
 * timestamp before every frame.
 */
export function isLite05OrLater(v: Version): boolean {
  return v === Version.LITE_05 || v === Version.LITE_06;
}

/** lite-06: announcements are typed messages and ended/restart reference a per-stream id. */
export function hasAnnounceIds(v: Version): boolean {
  return v === Version.LITE_06;
}

/** First varint on a bidirectional stream. */
export const ControlStream = {
  SESSION: 0,
  ANNOUNCE: 1,
  SUBSCRIBE: 2,
  FETCH: 3,
  PROBE: 4,
  GOAWAY: 5,
  TRACK: 6,
  /** Pre-ALPN SETUP exchange (moq-lite-01/02, moq-transport-14): the client's SETUP. */
  CLIENT_COMPAT: 0x20,
  SERVER_COMPAT: 0x21,
} as const;

/** First varint on a unidirectional stream. */
export const DataStream = {
  GROUP: 0,
  SETUP: 1,
} as const;

/** Longest path or track name accepted (bytes). */
export const MAX_NAME_BYTES = 1024;
/** Most path segments accepted, as moq-transport's namespace tuple limit. */
export const MAX_PATH_PARTS = 32;
/** Longest hop chain accepted. */
export const MAX_HOPS = 32;

/** ANNOUNCE_REQUEST: the sender wants announcements of broadcasts under `prefix`. */
export interface AnnounceRequest {
  prefix: string;
  /** lite-04/05: the requester's origin id, to skip announcements that passed through it (0: none). */
  excludeHop: bigint;
}

/** ANNOUNCE: a broadcast under the requested prefix went live or away. */
export interface Announce {
  active: boolean;
  /** Path relative to the request's prefix. */
  suffix: string;
  /** Origin ids the announcement passed through (lite-04); lite-03 carries only the count. */
  hops: bigint[];
}

/** SUBSCRIBE: deliver a track's groups. */
export interface Subscribe {
  id: bigint;
  broadcast: string;
  track: string;
  priority: number;
  ordered: boolean;
  /** Max age of a non-latest group before it is skipped (ms); 0 = unlimited. */
  maxLatency: number;
  startGroup?: number;
  endGroup?: number;
}

/** SUBSCRIBE_UPDATE: new delivery preferences for an existing subscription. */
export type SubscribeUpdate = Omit<Subscribe, 'id' | 'broadcast' | 'track'>;

/** Response types on a subscribe stream (lite-03/04). */
export const SubscribeResponse = { OK: 0, DROP: 1 } as const;

/** Response types on a subscribe stream (lite-05+): no SUBSCRIBE_OK, the range is resolved instead. */
export const SubscribeResponse05 = { START: 0, END: 1, DROP: 2 } as const;

/** SUBSCRIBE_DROP: groups [start, end] were dropped with `error`. */
export interface SubscribeDrop {
  start: number;
  end: number;
  error: number;
}

/** GROUP header of a data stream. */
export interface GroupHeader {
  subscribe: bigint;
  sequence: number;
}

/** Normalises a wire path (trims and collapses slashes) and enforces the part limit. */
export function decodePath(raw: string): string {
  const path = raw.replace(/\/+/g, '/').replace(/^\/+/, '').replace(/\/+$/, '');
  if (path !== '' && path.split('/').length > MAX_PATH_PARTS) throw new ProtocolViolation(`path has more than ${MAX_PATH_PARTS} parts`);
  return path;
}

/** Encodes ANNOUNCE_REQUEST (without the stream type). */
export function encodeAnnounceRequest(m: AnnounceRequest, v: Version): Uint8Array {
  return encodeMessage((e) => {
    e.string(m.prefix);
    if (hasExcludeHop(v)) e.varint(m.excludeHop);
  });
}

/** Decodes ANNOUNCE_REQUEST's body. */
export function decodeAnnounceRequest(r: BufferReader, v: Version): AnnounceRequest {
  const prefix = decodePath(r.string(MAX_NAME_BYTES));
  const excludeHop = hasExcludeHop(v) ? r.varintBig() : 0n;
  r.end();
  return { prefix, excludeHop };
}

/** Writes a hop chain: a count, then (lite-04+) each origin id. */
export function encodeHops(e: Encoder, hops: readonly bigint[], v: Version): void {
  e.varint(hops.length);
  if (v !== Version.LITE_03) for (const h of hops) e.varint(h);
}

/** Reads a hop chain (lite-03 carries only the count: every id reads as 0, unknown). */
export function decodeHops(r: BufferReader, v: Version): bigint[] {
  const count = r.varint();
  if (count > MAX_HOPS) throw new ProtocolViolation(`hop count ${count} exceeds ${MAX_HOPS}`);
  const hops: bigint[] = [];
  for (let i = 0; i < count; i++) hops.push(v === Version.LITE_03 ? 0n : r.varintBig());
  return hops;
}

/** Encodes one ANNOUNCE in the status-byte form of lite-03 to lite-05 (lite-06: see lite05.ts). */
export function encodeAnnounce(m: Announce, v: Version): Uint8Array {
  return encodeMessage((e) => {
    e.u8(m.active ? 1 : 0);
    e.string(m.suffix);
    encodeHops(e, m.active ? m.hops : [], v);
  });
}

/** Decodes a status-byte ANNOUNCE's body (lite-05 also accepts status 2, restart, as active). */
export function decodeAnnounce(r: BufferReader, v: Version): Announce {
  const status = r.u8();
  if (status > (isLite05OrLater(v) ? 2 : 1)) throw new ProtocolViolation(`invalid announce status ${status}`);
  const suffix = decodePath(r.string(MAX_NAME_BYTES));
  const hops = decodeHops(r, v);
  r.end();
  return { active: status !== 0, suffix, hops };
}

function encodeDelivery(e: Encoder, m: SubscribeUpdate): void {
  e.u8(m.priority).bool(m.ordered).varint(m.maxLatency);
  e.varint(m.startGroup !== undefined ? m.startGroup + 1 : 0);
  e.varint(m.endGroup !== undefined ? m.endGroup + 1 : 0);
}

function decodeDelivery(r: BufferReader): SubscribeUpdate {
  const priority = r.u8();
  const ordered = r.bool();
  const maxLatency = r.varint();
  const start = r.varint();
  const end = r.varint();
  return { priority, ordered, maxLatency, startGroup: start > 0 ? start - 1 : undefined, endGroup: end > 0 ? end - 1 : undefined };
}

/** Encodes SUBSCRIBE (without the stream type). */
export function encodeSubscribe(m: Subscribe): Uint8Array {
  return encodeMessage((e) => {
    e.varint(m.id).string(m.broadcast).string(m.track);
    encodeDelivery(e, m);
  });
}

/** Decodes SUBSCRIBE's body. */
export function decodeSubscribe(r: BufferReader): Subscribe {
  const id = r.varintBig();
  const broadcast = decodePath(r.string(MAX_NAME_BYTES));
  const track = r.string(MAX_NAME_BYTES);
  const d = decodeDelivery(r);
  r.end();
  return { id, broadcast, track, ...d };
}

/** Encodes SUBSCRIBE_UPDATE. */
export function encodeSubscribeUpdate(m: SubscribeUpdate): Uint8Array {
  return encodeMessage((e) => encodeDelivery(e, m));
}

/** Decodes SUBSCRIBE_UPDATE's body. */
export function decodeSubscribeUpdate(r: BufferReader): SubscribeUpdate {
  const d = decodeDelivery(r);
  r.end();
  return d;
}

/** Encodes the response type and SUBSCRIBE_OK (echoing the effective delivery). */
export function encodeSubscribeOk(m: SubscribeUpdate): Uint8Array {
  const body = encodeMessage((e) => encodeDelivery(e, m));
  return new Encoder(body.byteLength + 1).varint(SubscribeResponse.OK).bytes(body).finish();
}

/** Encodes the response type and SUBSCRIBE_DROP. */
export function encodeSubscribeDrop(m: SubscribeDrop): Uint8Array {
  const body = encodeMessage((e) => e.varint(m.start).varint(m.end).varint(m.error));
  return new Encoder(body.byteLength + 1).varint(SubscribeResponse.DROP).bytes(body).finish();
}

/** Decodes SUBSCRIBE_OK's body (values unused by the relay beyond validation). */
export function decodeSubscribeOk(r: BufferReader): SubscribeUpdate {
  const d = decodeDelivery(r);
  r.end();
  return d;
}

/** Decodes SUBSCRIBE_DROP's body. */
export function decodeSubscribeDrop(r: BufferReader): SubscribeDrop {
  const m = { start: r.varint(), end: r.varint(), error: r.varint() };
  r.end();
  return m;
}

/** Encodes the start of a group stream: stream type and GROUP header. */
export function encodeGroupHeader(m: GroupHeader): Uint8Array {
  const body = encodeMessage((e) => e.varint(m.subscribe).varint(m.sequence));
  return new Encoder(body.byteLength + 1).varint(DataStream.GROUP).bytes(body).finish();
}

/** Decodes a GROUP header's body. */
export function decodeGroupHeader(r: BufferReader): GroupHeader {
  const m = { subscribe: r.varintBig(), sequence: r.varint() };
  r.end();
  return m;
}

/** Encodes a frame's size prefix (the payload follows as-is). */
export function encodeFrameSize(size: number): Uint8Array {
  return new Encoder(8).varint(size).finish();
}

/** Encodes a stream type varint. */
export function encodeStreamType(type: number): Uint8Array {
  return new Encoder(2).varint(type).finish();
}
