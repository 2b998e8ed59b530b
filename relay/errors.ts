/**
 * Error codes of moq-lite (which reuses moq-transport's registries) and the relay's error
 * classes. Session codes end a whole session; stream codes reset one stream. The two
 * registries are disjoint: the same number means different things in each.
 */

/** Session close codes (CLOSE_WEBTRANSPORT_SESSION / QMux CONNECTION_CLOSE application code). */
export const SessionCode = {
  /** Normal close. */
  NO_ERROR: 0x0,
  INTERNAL: 0x1,
  /** The token does not grant what the session asked for. */
  UNAUTHORIZED: 0x2,
  /** The peer broke a protocol rule (malformed or oversized message, unexpected stream). */
  PROTOCOL_VIOLATION: 0x3,
  /** A control message took too long. */
  TIMEOUT: 0x11,
  /** No common version. */
  VERSION_NEGOTIATION_FAILED: 0x15,
} as const;

/** Stream reset codes (RESET_STREAM / STOP_SENDING). */
export const StreamCode = {
  INTERNAL: 0x0,
  /** Routine cancellation (unsubscribe). */
  CANCELLED: 0x1,
  DELIVERY_TIMEOUT: 0x2,
  /** The session is closing and takes the stream with it. */
  SESSION_CLOSED: 0x3,
  GOING_AWAY: 0x4,
  /** The reader fell too far behind; content was dropped to catch up. */
  TOO_FAR_BEHIND: 0x5,
  MALFORMED_TRACK: 0x12,
  NOT_FOUND: 0x33,
  /** A group superseded by a newer one and dropped. */
  OLD: 0x34,
  /** No route to the broadcast (not announced here nor upstream). */
  UNROUTABLE: 0x36,
  FRAME_TOO_LARGE: 0x38,
  /** A group grew past the cache budget. */
  GROUP_TOO_LARGE: 0x32,
  UNAUTHORIZED: 0x3a,
} as const;

/** A failure that ends the whole session with a session code. */
export class SessionError extends Error {
  override name = 'SessionError';
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The peer broke the protocol; the session closes with PROTOCOL_VIOLATION. */
export class ProtocolViolation extends SessionError {
  override name = 'ProtocolViolation';
  constructor(message: string, options?: { cause?: unknown }) {
    super(SessionCode.PROTOCOL_VIOLATION, message, options);
  }
}

/**
 * A failure scoped to one stream, reset with a stream code. Carries the code both as
 * `streamErrorCode` (WebTransport/QMux) and `code` (fails-components) so either transport
 * puts it on the wire when passed to `abort()`/`cancel()`.
 */
export class StreamError extends Error {
  override name = 'StreamError';
  readonly streamErrorCode: number;
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.streamErrorCode = code;
  }
}

/** Reads the stream code a transport error carries, if any (QMux, WebTransport, fails-components). */
export function streamCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { streamErrorCode?: unknown; code?: unknown; cause?: unknown };
  if (typeof e.streamErrorCode === 'number') return e.streamErrorCode;
  if (err instanceof StreamError) return err.code;
  if (e.cause) return streamCodeOf(e.cause);
  return undefined;
}

/** Converts any thrown value into an Error without losing it. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
