/**
 * IETF moq-transport drafts 14 and 16, the subset a relay serving subscribers needs: CLIENT_SETUP
 * / SERVER_SETUP on the first bidirectional stream (the control stream; draft-14 negotiates the
 * version there, draft-16 by ALPN `moqt-16`), control messages framed as `type (varint), length
 * (16 bits), payload`, key-value parameters (draft-16: delta-encoded keys), SUBSCRIBE /
 * SUBSCRIBE_OK / REQUEST_ERROR (draft-14: SUBSCRIBE_ERROR and per-request errors) / UNSUBSCRIBE /
 * PUBLISH_DONE / MAX_REQUEST_ID, and subgroup data streams carrying a group's objects.
 */
import { ProtocolViolation } from '../errors';
import { BufferReader } from './BufferReader';
import { Encoder } from './Encoder';
import { MAX_NAME_BYTES, MAX_PATH_PARTS } from './messages';
import type { StreamReader } from './StreamReader';

/** draft-ietf-moq-transport-14 (negotiated inside CLIENT_SETUP's version list). */
export const IETF_DRAFT_14 = 0xff00000e;
/** draft-ietf-moq-transport-16. */
export const IETF_DRAFT_16 = 0xff000010;
/** A moq-transport draft this relay speaks. */
export type IetfDraft = 14 | 16;

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

/** Error message types of draft-14 (one per request kind; draft-16 has REQUEST_ERROR for all). */
export const Draft14Error = {
  SUBSCRIBE_ERROR: 0x05,
  PUBLISH_NAMESPACE_ERROR: 0x08,
  SUBSCRIBE_NAMESPACE_ERROR: 0x13,
  FETCH_ERROR: 0x19,
  PUBLISH_ERROR: 0x1f,
} as const;

/** draft-14's SUBSCRIBE_ERROR code for a track that does not exist (draft-16: DOES_NOT_EXIST 0x10). */
export const TRACK_DOES_NOT_EXIST_14 = 0x4;

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

/** Decodes parameters: a count, then keys (draft-16: as deltas from the previous one). */
export function decodeKeyValues(r: BufferReader, draft: IetfDraft = 16): KeyValues {
  const count = r.varint();
  if (count > MAX_PARAMS) throw new ProtocolViolation(`${count} parameters (at most ${MAX_PARAMS})`);
  const kv: KeyValues = { varints: new Map(), bytes: new Map() };
  let key = 0n;
  for (let i = 0; i < count; i++) {
    key = draft === 16 ? key + r.varintBig() : r.varintBig();
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

/** Encodes parameters (keys sorted; draft-16 delta-encodes them). */
export function encodeKeyValues(e: Encoder, kv: Partial<KeyValues>, draft: IetfDraft = 16): void {
  const keys = [...(kv.varints?.keys() ?? []), ...(kv.bytes?.keys() ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  e.varint(keys.length);
  let previous = 0n;
  for (const key of keys) {
    e.varint(draft === 16 ? key - previous : key);
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

/** Encodes SERVER_SETUP granting request ids below `maxRequestId` (draft-14 first names the selected version). */
export function encodeServerSetup(maxRequestId: bigint, draft: IetfDraft = 16): Uint8Array {
  return encodeControl(IetfMessage.SERVER_SETUP, (e) => {
    if (draft === 14) e.varint(IETF_DRAFT_14);
    encodeKeyValues(
      e,
      {
        varints: new Map([[IetfSetupParam.MAX_REQUEST_ID, maxRequestId]]),
        bytes: new Map([[IetfSetupParam.IMPLEMENTATION, new TextEncoder().encode('subsec-relay')]]),
      },
      draft,
    );
  });
}

/** Most versions a draft-14 CLIENT_SETUP may list. */
export const MAX_SETUP_VERSIONS = 64;

/** CLIENT_SETUP: the versions offered (draft-14; draft-16's is implied by the ALPN) and the parameters. */
export interface ClientSetup {
  versions: number[];
  params: KeyValues;
}

/** Decodes CLIENT_SETUP's payload (draft-14: a version list first; draft-16: parameters only). */
export function decodeClientSetup(r: BufferReader, draft: IetfDraft = 16): ClientSetup {
  const versions: number[] = [];
  if (draft === 14) {
    const count = r.varint();
    if (count > MAX_SETUP_VERSIONS) throw new ProtocolViolation(`CLIENT_SETUP lists ${count} versions (at most ${MAX_SETUP_VERSIONS})`);
    for (let i = 0; i < count; i++) versions.push(r.varint());
  } else {
    versions.push(IETF_DRAFT_16);
  }
  const params = decodeKeyValues(r, draft);
  r.end();
  return { versions, params };
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

/** Filter types of draft-14's SUBSCRIBE and how many varints follow each. */
const FILTER_FIELDS_14: Record<number, number> = { 0x1: 0, 0x2: 0, 0x3: 2, 0x4: 3 };

/**
 * Decodes SUBSCRIBE's payload; the filter and the other parameters are read but not applied.
 * draft-14 carries priority, group order, forward and the filter inline; draft-16 as parameters.
 */
export function decodeIetfSubscribe(r: BufferReader, draft: IetfDraft = 16): IetfSubscribe {
  const requestId = r.varintBig();
  const namespace = decodeNamespace(r);
  const track = r.string(MAX_NAME_BYTES);
  if (draft === 14) {
    const priority = r.u8();
    const order = r.u8();
    if (order > 2) throw new ProtocolViolation(`group order ${order}`);
    r.bool(); // forward
    const filter = r.varint();
    const fields = FILTER_FIELDS_14[filter];
    if (fields === undefined) throw new ProtocolViolation(`filter type ${filter}`);
    for (let i = 0; i < fields; i++) r.varintBig();
    decodeKeyValues(r, 14);
    r.end();
    return { requestId, namespace, track, priority };
  }
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

/**
 * Encodes SUBSCRIBE_OK: request id, track alias, then (draft-14) expires 0, group order
 * descending, no largest location; then no parameters.
 */
export function encodeIetfSubscribeOk(requestId: bigint, alias: bigint, draft: IetfDraft = 16): Uint8Array {
  return encodeControl(IetfMessage.SUBSCRIBE_OK, (e) => {
    e.varint(requestId).varint(alias);
    if (draft === 14) e.varint(0).u8(0x2).bool(false);
    encodeKeyValues(e, {}, draft);
  });
}

/** Encodes REQUEST_ERROR: request id, code, retry interval (0: do not retry), reason. */
export function encodeRequestError(requestId: bigint, code: number, reason: string): Uint8Array {
  return encodeControl(IetfMessage.REQUEST_ERROR, (e) => e.varint(requestId).varint(code).varint(0).string(reason.slice(0, 1024)));
}

/** Encodes a draft-14 error answer of `type` (SUBSCRIBE_ERROR, PUBLISH_NAMESPACE_ERROR, …): request id, code, reason. */
export function encodeDraft14Error(type: number, requestId: bigint, code: number, reason: string): Uint8Array {
  return encodeControl(type, (e) => e.varint(requestId).varint(code).string(reason.slice(0, 1024)));
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
