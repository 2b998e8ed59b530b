/**
 * The moq-lite messages that lite-05 and lite-06 added: SETUP (one message on a unidirectional
 * stream), ANNOUNCE_OK, lite-06's typed announcements (START/END/RESTART with per-stream ids
 * and a route cost), TRACK / TRACK_INFO (a track's immutable properties), FETCH (one group),
 * SUBSCRIBE_START / SUBSCRIBE_END / SUBSCRIBE_DROP, and frame timestamps (zigzag deltas).
 */
import { ProtocolViolation } from '../errors';
import type { BufferReader } from './BufferReader';
import { Encoder, encodeMessage } from './Encoder';
import { decodeHops, decodePath, encodeHops, MAX_NAME_BYTES, SubscribeResponse05, type Version } from './messages';

/** SETUP parameter ids (lite-05). */
export const SetupParam = {
  PROBE: 0x1n,
  /** Request path, for transports without a URI (never on WebTransport/WebSocket). */
  PATH: 0x2n,
  /** The client's intended role: 0 both, 1 publisher, 2 subscriber. */
  ROLE: 0x3n,
  /** The endpoint's origin (hop) id. */
  ORIGIN: 0x5n,
} as const;

/** Most parameters a SETUP may carry. */
export const MAX_SETUP_PARAMS = 64;

/** A peer's SETUP: its parameters by id (raw bytes) and the ones this relay reads. */
export interface Setup {
  params: Map<bigint, Uint8Array>;
  /** The peer's origin id (0 when it declared none). */
  origin: bigint;
  /** The peer's declared role (0 both, 1 publisher, 2 subscriber; unknown values read as 0). */
  role: number;
}

/** A parameter's value read as exactly one varint. */
function varintValue(bytes: Uint8Array, what: string): bigint {
  if (bytes.byteLength === 0) throw new ProtocolViolation(`${what}: empty varint parameter`);
  const size = 1 << (bytes[0]! >> 6);
  if (bytes.byteLength !== size) throw new ProtocolViolation(`${what}: malformed varint parameter`);
  let v = BigInt(bytes[0]! & 0x3f);
  for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/** Encodes SETUP (without the stream type): this relay's origin id, no probing, no path. */
export function encodeSetup(origin: bigint): Uint8Array {
  return encodeMessage((e) => {
    if (origin === 0n) {
      e.varint(0);
      return;
    }
    const value = new Encoder(8).varint(origin).finish();
    e.varint(1).varint(SetupParam.ORIGIN).lengthPrefixed(value);
  });
}

/** Decodes SETUP's body: at most 64 parameters, no id twice, known ones well-formed. */
export function decodeSetup(r: BufferReader): Setup {
  const count = r.varint();
  if (count > MAX_SETUP_PARAMS) throw new ProtocolViolation(`SETUP carries ${count} parameters (at most ${MAX_SETUP_PARAMS})`);
  const params = new Map<bigint, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const id = r.varintBig();
    if (params.has(id)) throw new ProtocolViolation(`SETUP repeats parameter ${id}`);
    const len = r.varint();
    if (len > MAX_NAME_BYTES * 4) throw new ProtocolViolation(`SETUP parameter ${id} of ${len} bytes`);
    params.set(id, r.bytes(len));
  }
  r.end();
  const origin = params.has(SetupParam.ORIGIN) ? varintValue(params.get(SetupParam.ORIGIN)!, 'SETUP origin') : 0n;
  const roleRaw = params.has(SetupParam.ROLE) ? varintValue(params.get(SetupParam.ROLE)!, 'SETUP role') : 0n;
  if (params.has(SetupParam.PROBE)) varintValue(params.get(SetupParam.PROBE)!, 'SETUP probe');
  return { params, origin, role: roleRaw === 1n || roleRaw === 2n ? Number(roleRaw) : 0 };
}

/** ANNOUNCE_OK: the responder's origin id and how many initial announcements follow. */
export interface AnnounceOk {
  origin: bigint;
  active: number;
}

/** Encodes ANNOUNCE_OK. */
export function encodeAnnounceOk(m: AnnounceOk): Uint8Array {
  return encodeMessage((e) => e.varint(m.origin).varint(m.active));
}

/** Decodes ANNOUNCE_OK's body. */
export function decodeAnnounceOk(r: BufferReader): AnnounceOk {
  const m = { origin: r.varintBig(), active: r.varint() };
  r.end();
  return m;
}

/** lite-06 announcement message types (before the size prefix). */
export const Announce06Type = { START: 0, END: 1, RESTART: 2 } as const;

/** A lite-06 announcement. START assigns the stream's next id; END and RESTART reference one. */
export type Announce06 =
  | { type: typeof Announce06Type.START; suffix: string; hops: bigint[]; cost: bigint }
  | { type: typeof Announce06Type.END; id: bigint }
  | { type: typeof Announce06Type.RESTART; id: bigint; hops: bigint[]; cost: bigint };

/** Encodes a lite-06 announcement: its type, then the size-prefixed body. */
export function encodeAnnounce06(m: Announce06, v: Version): Uint8Array {
  const body = encodeMessage((e) => {
    if (m.type === Announce06Type.START) {
      e.string(m.suffix);
      encodeHops(e, m.hops, v);
      e.varint(m.cost);
    } else if (m.type === Announce06Type.END) {
      e.varint(m.id);
    } else {
      e.varint(m.id);
      encodeHops(e, m.hops, v);
      e.varint(m.cost);
    }
  });
  return new Encoder(body.byteLength + 1).varint(m.type).bytes(body).finish();
}

/** Decodes a lite-06 announcement's body of type `type`. */
export function decodeAnnounce06(type: number, r: BufferReader, v: Version): Announce06 {
  let m: Announce06;
  if (type === Announce06Type.START) {
    m = { type, suffix: decodePath(r.string(MAX_NAME_BYTES)), hops: decodeHops(r, v), cost: r.varintBig() };
  } else if (type === Announce06Type.END) {
    m = { type, id: r.varintBig() };
  } else if (type === Announce06Type.RESTART) {
    m = { type, id: r.varintBig(), hops: decodeHops(r, v), cost: r.varintBig() };
  } else {
    throw new ProtocolViolation(`unknown announce message type ${type}`);
  }
  r.end();
  return m;
}

/** TRACK (a TRACK stream's request) and FETCH name a broadcast and track. */
export interface TrackRequest {
  broadcast: string;
  track: string;
}

/** Encodes TRACK (without the stream type). */
export function encodeTrackRequest(m: TrackRequest): Uint8Array {
  return encodeMessage((e) => e.string(m.broadcast).string(m.track));
}

/** Decodes TRACK's body. */
export function decodeTrackRequest(r: BufferReader): TrackRequest {
  const m = { broadcast: decodePath(r.string(MAX_NAME_BYTES)), track: r.string(MAX_NAME_BYTES) };
  r.end();
  return m;
}

/** TRACK_INFO: a track's immutable properties. */
export interface TrackInfo {
  priority: number;
  ordered: boolean;
  /** How long the publisher keeps a non-latest group after a newer one starts (ms). */
  latencyMax: number;
  /** Frame timestamp units per second (never 0). */
  timescale: number;
}

/** Encodes TRACK_INFO. */
export function encodeTrackInfo(m: TrackInfo): Uint8Array {
  if (m.timescale <= 0) throw new RangeError('TRACK_INFO timescale must be positive');
  return encodeMessage((e) => e.u8(m.priority).bool(m.ordered).varint(m.latencyMax).varint(m.timescale));
}

/** Decodes TRACK_INFO's body; a zero timescale is a violation. */
export function decodeTrackInfo(r: BufferReader): TrackInfo {
  const m = { priority: r.u8(), ordered: r.bool(), latencyMax: r.varint(), timescale: r.varint() };
  r.end();
  if (m.timescale === 0) throw new ProtocolViolation('TRACK_INFO timescale is 0');
  return m;
}

/** FETCH: one group of a track. */
export interface Fetch extends TrackRequest {
  priority: number;
  group: number;
}

/** Encodes FETCH (without the stream type). */
export function encodeFetch(m: Fetch): Uint8Array {
  return encodeMessage((e) => e.string(m.broadcast).string(m.track).u8(m.priority).varint(m.group));
}

/** Decodes FETCH's body. */
export function decodeFetch(r: BufferReader): Fetch {
  const m = { broadcast: decodePath(r.string(MAX_NAME_BYTES)), track: r.string(MAX_NAME_BYTES), priority: r.u8(), group: r.varint() };
  r.end();
  return m;
}

/** Encodes SUBSCRIBE_START (first group that will be delivered) with its response type. */
export function encodeSubscribeStart(group: number): Uint8Array {
  const body = encodeMessage((e) => e.varint(group));
  return new Encoder(body.byteLength + 1).varint(SubscribeResponse05.START).bytes(body).finish();
}

/** Encodes SUBSCRIBE_END (the first group that will never be delivered) with its response type. */
export function encodeSubscribeEnd(group: number): Uint8Array {
  const body = encodeMessage((e) => e.varint(group));
  return new Encoder(body.byteLength + 1).varint(SubscribeResponse05.END).bytes(body).finish();
}

/** Encodes SUBSCRIBE_DROP (lite-05 numbering) with its response type. */
export function encodeSubscribeDrop05(m: { start: number; end: number; error: number }): Uint8Array {
  const body = encodeMessage((e) => e.varint(m.start).varint(m.end).varint(m.error));
  return new Encoder(body.byteLength + 1).varint(SubscribeResponse05.DROP).bytes(body).finish();
}

/** Decodes the body of a SUBSCRIBE_START or SUBSCRIBE_END: one group sequence. */
export function decodeSubscribeBound(r: BufferReader): number {
  const group = r.varint();
  r.end();
  return group;
}

/** Zigzag-encodes a signed delta (0, -1, 1, -2 … → 0, 1, 2, 3 …). */
export function zigzag(n: bigint): bigint {
  return n >= 0n ? n << 1n : (-n << 1n) - 1n;
}

/** Reverses {@link zigzag}. */
export function unzigzag(n: bigint): bigint {
  return (n & 1n) === 0n ? n >> 1n : -((n + 1n) >> 1n);
}

/** Encodes a lite-05 frame header: the timestamp's zigzag delta from the previous frame, then the size. */
export function encodeFrameHeader05(timestamp: number, previous: number, size: number): Uint8Array {
  return new Encoder(16)
    .varint(zigzag(BigInt(timestamp) - BigInt(previous)))
    .varint(size)
    .finish();
}
