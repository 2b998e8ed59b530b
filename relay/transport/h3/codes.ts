/**
 * HTTP/3 and WebTransport-over-HTTP/3 constants: frame, stream and capsule types, settings,
 * error codes (RFC 9114 §8.1, RFC 9204 §6), and the mapping of WebTransport application error
 * codes into the HTTP/3 error space used on RESET_STREAM/STOP_SENDING.
 */

/** HTTP/3 frame types. */
export const Frame = { DATA: 0x00, HEADERS: 0x01, CANCEL_PUSH: 0x03, SETTINGS: 0x04, PUSH_PROMISE: 0x05, GOAWAY: 0x07, MAX_PUSH_ID: 0x0d } as const;

/** Frame types reserved from HTTP/2: receiving one is H3_FRAME_UNEXPECTED. */
export const HTTP2_ONLY_FRAMES = new Set([0x02, 0x06, 0x08, 0x09]);

/** Unidirectional stream types. */
export const UniStream = { CONTROL: 0x00, PUSH: 0x01, QPACK_ENCODER: 0x02, QPACK_DECODER: 0x03, WEBTRANSPORT: 0x54 } as const;

/** The signal that opens a WebTransport bidirectional stream (in place of a frame type). */
export const WT_BIDI_SIGNAL = 0x41;

/** Settings this endpoint sends or understands. */
export const Setting = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
  ENABLE_CONNECT_PROTOCOL: 0x08,
  H3_DATAGRAM: 0x33,
  /** WebTransport draft-02 (what Chromium sends and requires). */
  ENABLE_WEBTRANSPORT: 0x2b603742,
  /** WebTransport draft-07+: sessions per connection. */
  WEBTRANSPORT_MAX_SESSIONS: 0xc671706a,
} as const;

/** Settings identifiers reserved from HTTP/2: receiving one is H3_SETTINGS_ERROR. */
export const HTTP2_ONLY_SETTINGS = new Set([0x02, 0x03, 0x04, 0x05]);

/** Capsule types on a WebTransport CONNECT stream. */
export const Capsule = { CLOSE_SESSION: 0x2843, DRAIN_SESSION: 0x78ae } as const;

/** HTTP/3 and QPACK error codes. */
export const H3Error = {
  NO_ERROR: 0x100,
  GENERAL_PROTOCOL_ERROR: 0x101,
  INTERNAL_ERROR: 0x102,
  STREAM_CREATION_ERROR: 0x103,
  CLOSED_CRITICAL_STREAM: 0x104,
  FRAME_UNEXPECTED: 0x105,
  FRAME_ERROR: 0x106,
  EXCESSIVE_LOAD: 0x107,
  ID_ERROR: 0x108,
  SETTINGS_ERROR: 0x109,
  MISSING_SETTINGS: 0x10a,
  REQUEST_REJECTED: 0x10b,
  REQUEST_CANCELLED: 0x10c,
  REQUEST_INCOMPLETE: 0x10d,
  MESSAGE_ERROR: 0x10e,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  /** WebTransport: a stream for a session that does not exist. */
  WT_BUFFERED_STREAM_REJECTED: 0x3994bd84,
  /** WebTransport: the stream's session is gone. */
  WT_SESSION_GONE: 0x170d7b68,
} as const;

const WT_FIRST = 0x52e4a40fa8db;
const WT_LAST = 0x52e5ac983162;

/** The HTTP/3 code that carries WebTransport application error `code` (32-bit). */
export function webTransportToHttp3(code: number): number {
  const c = Math.max(0, Math.min(0xffffffff, Math.floor(code)));
  return WT_FIRST + c + Math.floor(c / 0x1e);
}

/** The WebTransport application error code inside HTTP/3 code `h`, or undefined when `h` is outside that range. */
export function http3ToWebTransport(h: number): number | undefined {
  if (h < WT_FIRST || h > WT_LAST) return undefined;
  const shifted = h - WT_FIRST;
  if ((shifted + 1) % 0x1f === 0) return undefined; // A reserved (greasing) value.
  return shifted - Math.floor(shifted / 0x1f);
}

/** An HTTP/3 connection error: the connection closes with `code`. */
export class H3ConnectionError extends Error {
  override name = 'H3ConnectionError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
