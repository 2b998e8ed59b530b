/**
 * IETF moq-transport draft-16 (ALPN `moqt-16`), the subset a relay serving subscribers needs:
 * CLIENT_SETUP / SERVER_SETUP on the first bidirectional stream (the control stream), control
 * messages framed as `type (varint), length (16 bits), payload`, key-value parameters with
 * delta-encoded keys, SUBSCRIBE / SUBSCRIBE_OK / REQUEST_ERROR / UNSUBSCRIBE / PUBLISH_DONE /
 * MAX_REQUEST_ID, and subgroup data streams carrying a group's objects.
 */
import { ProtocolViolation } from '../errors';
import { BufferReader } from './BufferReader';
import { Encoder } from './Encoder';
import { MAX_NAME_BYTES, MAX_PATH_PARTS } from './messages';
import type { StreamReader } from './StreamReader';

/** draft-ietf-moq-transport-16. */
export const IETF_DRAFT_16 = 0xff000010;

/** The moq-transport ALPNs this relay speaks, preferred first (after every moq-lite version). */
export const IETF_ALPNS: ReadonlyArray<{ alpn: string; version: number }> = [{ alpn: 'moqt-16', version: IETF_DRAFT_16 }];

/** Control message types (draft-16). */
export const IetfMessage = {
  CLIENT_SETUP: 0x20,
  SERVER_SETUP: 0x21,
  SUBSCRIBE_UPDATE: 0x02,
  SUBSCRIBE: 0x03,
  SUBSCRIBE_OK: 0x04,
  REQUEST_ERROR: 0x05,
  PUBLISH_NAMESPACE: 0x06,
  REQUEST_OK: 0x07,
  PUBLISH_NAMESPACE_DONE: 0x09,
  UNSUBSCRIBE: 0x0a,
  PUBLISH_DONE: 0x0b,
  PUBLISH_NAMESPACE_CANCEL: 0x0c,
  TRACK_STATUS: 0x0d,
  GOAWAY: 0x10,
  SUBSCRIBE_NAMESPACE: 0x11,
  MAX_REQUEST_ID: 0x15,
  FETCH: 0x16,
  FETCH_CANCEL: 0x17,
  REQUESTS_BLOCKED: 0x1a,
  PUBLISH: 0x1d,
} as const;

/** SETUP parameter ids. */
export const IetfSetupParam = { PATH: 0x1n, MAX_REQUEST_ID: 0x2n, AUTHORIZATION_TOKEN: 0x3n, AUTHORITY: 0x5n, IMPLEMENTATION: 0x7n } as const;

/** Message parameter: the subscriber's priority (0–255). */
export const SUBSCRIBER_PRIORITY_PARAM = 0x20n;

/** REQUEST_ERROR codes (draft-16). */
export const RequestErrorCode = { INTERNAL_ERROR: 0x0, UNAUTHORIZED: 0x1, TIMEOUT: 0x2, NOT_SUPPORTED: 0x3, DOES_NOT_EXIST: 0x10 } as const;

/** PUBLISH_DONE status codes. */
export const PublishDoneCode = { INTERNAL_ERROR: 0x0, UNAUTHORIZED: 0x1, TRACK_ENDED: 0x2, SUBSCRIPTION_ENDED: 0x3, GOING_AWAY: 0x4 } as const;

/** Session close codes specific to moq-transport (the rest are shared with moq-lite's registry). */
export const IetfSessionCode = { INVALID_REQUEST_ID: 0x4, TOO_MANY_REQUESTS: 0x7 } as const;

/** Most parameters a message may carry. */
export const MAX_PARAMS = 64;

/** Key-value parameters: even keys carry a varint, odd keys bytes. */
export interface KeyValues {
  varints: Map<bigint, bigint>;
  bytes: Map<bigint, Uint8Array>;
}

/** Decodes draft-16 parameters: a count, then keys as deltas from the previous one. */
export function decodeKeyValues(r: BufferReader): KeyValues {
  const count = r.varint();
  if (count > MAX_PARAMS) throw new ProtocolViolation(`${count} parameters (at most ${MAX_PARAMS})`);
  const kv: KeyValues = { varints: new Map(), bytes: new Map() };
  let key = 0n;
  for (let i = 0; i < count; i++) {
    key += r.varintBig();
    if (kv.varints.has(key) || kv.bytes.has(key)) throw new ProtocolViolation(`parameter ${key} repeated`);
    if (key % 2n === 0n) kv.varints.set(key, r.varintBig());
    else {
      const len = r.varint();
      if (len > MAX_NAME_BYTES * 8) throw new ProtocolViolation(`parameter ${key} of ${len} bytes`);
      kv.bytes.set(key, r.bytes(len));
    }
  }
  return kv;
}

/** Encodes draft-16 parameters (keys sorted, delta-encoded). */
export function encodeKeyValues(e: Encoder, kv: Partial<KeyValues>): void {
  const keys = [...(kv.varints?.keys() ?? []), ...(kv.bytes?.keys() ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  e.varint(keys.length);
  let previous = 0n;
  for (const key of keys) {
    e.varint(key - previous);
    previous = key;
    if (key % 2n === 0n) e.varint(kv.varints!.get(key)!);
    else e.lengthPrefixed(kv.bytes!.get(key)!);
  }
}

/** Encodes one control message: type, 16-bit length, payload. */
export function encodeControl(type: number, body: (e: Encoder) => void): Uint8Array {
  const inner = new Encoder();
  body(inner);
  const payload = inner.finish();
  if (payload.byteLength > 0xffff) throw new RangeError(`control message of ${payload.byteLength} bytes`);
  const out = new Encoder(payload.byteLength + 10).varint(type);
  return out
    .u8(payload.byteLength >> 8)
    .u8(payload.byteLength & 0xff)
    .bytes(payload)
    .finish();
}

/** A control message read from a stream: its type and payload. */
export interface ControlMessage {
  type: number;
  body: BufferReader;
}

/** Reads one control message (type, 16-bit length, payload); undefined on a clean end of stream. */
export async function readControl(reader: StreamReader, maxBytes: number): Promise<ControlMessage | undefined> {
  if (await reader.done()) return undefined;
  const type = await reader.varint();
  const len = await reader.bytes(2);
  const size = (len[0]! << 8) | len[1]!;
  if (size > maxBytes) throw new ProtocolViolation(`control message of ${size} bytes exceeds the ${maxBytes}-byte limit`);
  return { type, body: new BufferReader(await reader.bytes(size)) };
}

/** Encodes SERVER_SETUP (draft-16: parameters only) granting request ids below `maxRequestId`. */
export function encodeServerSetup(maxRequestId: bigint): Uint8Array {
  return encodeControl(IetfMessage.SERVER_SETUP, (e) =>
    encodeKeyValues(e, {
      varints: new Map([[IetfSetupParam.MAX_REQUEST_ID, maxRequestId]]),
      bytes: new Map([[IetfSetupParam.IMPLEMENTATION, new TextEncoder().encode('subsec-relay')]]),
    }),
  );
}

/** Decodes CLIENT_SETUP's payload (draft-16: parameters only). */
export function decodeClientSetup(r: BufferReader): KeyValues {
  const kv = decodeKeyValues(r);
  r.end();
  return kv;
}

/** Reads a track namespace tuple (at most 32 fields, none empty or holding '/'). */
export function decodeNamespace(r: BufferReader): string[] {
  const count = r.varint();
  if (count > MAX_PATH_PARTS) throw new ProtocolViolation(`namespace of ${count} fields (at most ${MAX_PATH_PARTS})`);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(r.string(MAX_NAME_BYTES));
  return parts;
}

/** SUBSCRIBE (draft-16). */
export interface IetfSubscribe {
  requestId: bigint;
  namespace: string[];
  track: string;
  /** SUBSCRIBER_PRIORITY, 128 when absent. */
  priority: number;
}

/** Decodes SUBSCRIBE's payload; the filter and the other parameters are read but not applied. */
export function decodeIetfSubscribe(r: BufferReader): IetfSubscribe {
  const requestId = r.varintBig();
  const namespace = decodeNamespace(r);
  const track = r.string(MAX_NAME_BYTES);
  const params = decodeKeyValues(r);
  r.end();
  const p = params.varints.get(SUBSCRIBER_PRIORITY_PARAM);
  if (p !== undefined && p > 255n) throw new ProtocolViolation(`subscriber priority ${p}`);
  return { requestId, namespace, track, priority: p === undefined ? 128 : Number(p) };
}

/** Reads the request id that starts a request message's payload. */
export function requestIdOf(r: BufferReader): bigint {
  return r.varintBig();
}

/** Encodes SUBSCRIBE_OK: request id, track alias, no parameters. */
export function encodeIetfSubscribeOk(requestId: bigint, alias: bigint): Uint8Array {
  return encodeControl(IetfMessage.SUBSCRIBE_OK, (e) => {
    e.varint(requestId).varint(alias);
    encodeKeyValues(e, {});
  });
}

/** Encodes REQUEST_ERROR: request id, code, retry interval (0: do not retry), reason. */
export function encodeRequestError(requestId: bigint, code: number, reason: string): Uint8Array {
  return encodeControl(IetfMessage.REQUEST_ERROR, (e) => e.varint(requestId).varint(code).varint(0).string(reason.slice(0, 1024)));
}

/** Encodes PUBLISH_DONE: request id, status, stream count (0: unknown), reason. */
export function encodePublishDone(requestId: bigint, status: number, reason: string): Uint8Array {
  return encodeControl(IetfMessage.PUBLISH_DONE, (e) => e.varint(requestId).varint(status).varint(0).string(reason.slice(0, 1024)));
}

/** Encodes MAX_REQUEST_ID. */
export function encodeMaxRequestId(max: bigint): Uint8Array {
  return encodeControl(IetfMessage.MAX_REQUEST_ID, (e) => e.varint(max));
}

/** Subgroup header type: subgroup id 0, no object extensions, no end-of-group marker, with a publisher priority. */
export const SUBGROUP_HEADER = 0x10;

/** Encodes a subgroup stream's header for group `group` of the track with `alias`. */
export function encodeSubgroupHeader(alias: bigint, group: number, priority: number): Uint8Array {
  return new Encoder(24).varint(SUBGROUP_HEADER).varint(alias).varint(group).u8(priority).finish();
}

/**
 * Encodes an object's header on a subgroup stream: object id delta (0: the next id) and payload
 * length; an empty object also carries its status (0, normal).
 */
export function encodeObjectHeader(size: number): Uint8Array {
  const e = new Encoder(12).varint(0).varint(size);
  if (size === 0) e.varint(0);
  return e.finish();
}
