/**
 * The SDK's error types. Every failure the app sees — a rejected call or an `'error'` event — is a
 * {@link SubsecError} with a stable `code`: either a server code from the shared protocol
 * (`src/protocol/errors.ts`) or one of the client-side {@link ClientErrorCode}s. Bad arguments
 * throw a plain `TypeError`.
 */
import type { ErrorCode, WireError } from '../../../src/protocol/errors';

/** Codes for failures detected in the browser rather than reported by the node. */
export const ClientErrorCode = {
  /** A request got no response within `requestTimeoutMs`, or the socket did not open in time. */
  TIMEOUT: 'TIMEOUT',
  /** The WebSocket could not be opened. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** The WebSocket closed (or went silent) while the call was in flight. */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** The client, publication or subscription was closed. */
  CLOSED: 'CLOSED',
  /** The browser lacks WebRTC support that mediasoup-client needs. */
  UNSUPPORTED_BROWSER: 'UNSUPPORTED_BROWSER',
  /** A local WebRTC operation (RTCPeerConnection, track, data channel) failed. */
  MEDIA_ERROR: 'MEDIA_ERROR',
  /** Reconnection gave up after `reconnect.maxAttempts`. */
  RECONNECT_FAILED: 'RECONNECT_FAILED',
  /** The node closed the room. */
  ROOM_CLOSED: 'ROOM_CLOSED',
  /** The connect call was aborted through its `signal`. */
  ABORTED: 'ABORTED',
} as const;

/** One of the client-side error codes. */
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Any code a {@link SubsecError} can carry. */
export type SubsecErrorCode = ErrorCode | ClientErrorCode;

/** Which part of the SDK an error concerns, as in hls.js `ErrorTypes`. */
export type SubsecErrorType = 'network' | 'signaling' | 'auth' | 'media' | 'data' | 'state';

/** Options of {@link SubsecError}. */
export interface SubsecErrorOptions {
  /** Area of the failure; derived from `code` when left out. */
  type?: SubsecErrorType;
  /** Whether the client is unusable afterwards (default false). */
  fatal?: boolean;
  /** The foreign error this one wraps. */
  cause?: unknown;
}

const AUTH_CODES: ReadonlySet<string> = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);
const NETWORK_CODES: ReadonlySet<string> = new Set(['TIMEOUT', 'CONNECTION_FAILED', 'CONNECTION_LOST', 'RECONNECT_FAILED', 'DRAINING', 'CAPACITY']);

function typeOfCode(code: string): SubsecErrorType {
  if (AUTH_CODES.has(code)) return 'auth';
  if (NETWORK_CODES.has(code)) return 'network';
  if (code === 'MEDIA_ERROR' || code === 'UNSUPPORTED_BROWSER' || code === 'UNSUPPORTED_MEDIA') return 'media';
  if (code === 'CLOSED' || code === 'INVALID_STATE') return 'state';
  return 'signaling';
}

/** Base class of every error the SDK reports. */
export class SubsecError extends Error {
  /** Stable machine-readable code. */
  readonly code: SubsecErrorCode;
  /** Area of the failure. */
  readonly type: SubsecErrorType;
  /** Whether the client is unusable afterwards. */
  readonly fatal: boolean;

  constructor(code: SubsecErrorCode, message: string, options: SubsecErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SubsecError';
    this.code = code;
    this.type = options.type ?? typeOfCode(code);
    this.fatal = options.fatal ?? false;
  }
}

/** The node answered a request with an error. */
export class ServerError extends SubsecError {
  /** With `REDIRECT`: the node to use instead. */
  readonly redirect?: { nodeId: string; url: string };

  constructor(error: WireError, method: string) {
    super(error.code, `${method}: ${error.message}`);
    this.name = 'ServerError';
    if (error.redirect) this.redirect = { ...error.redirect };
  }
}

/** An operation was attempted on something already closed. */
export class InvalidStateError extends SubsecError {
  constructor(message: string) {
    super('CLOSED', message, { type: 'state' });
    this.name = 'InvalidStateError';
  }
}

/** A request or connection attempt ran out of time. */
export class TimeoutError extends SubsecError {
  constructor(message: string) {
    super('TIMEOUT', message, { type: 'network' });
    this.name = 'TimeoutError';
  }
}

/** Payload of the `'error'` event of {@link SubsecClient}. */
export interface SubsecErrorEvent {
  /** Area of the failure. */
  type: SubsecErrorType;
  /** Stable machine-readable code. */
  code: SubsecErrorCode;
  /** Human-readable description. */
  message: string;
  /** Whether the client is unusable afterwards (it has then also emitted `'disconnected'`). */
  fatal: boolean;
  /** The error itself, with `cause` where it wraps a foreign one. */
  error: SubsecError;
}

/** Wraps any thrown value into a {@link SubsecError}, keeping SDK errors as they are. */
export function toSubsecError(error: unknown, fallbackCode: SubsecErrorCode = 'MEDIA_ERROR'): SubsecError {
  if (error instanceof SubsecError) return error;
  if (error instanceof Error && error.name === 'UnsupportedError') {
    return new SubsecError('UNSUPPORTED_BROWSER', error.message, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SubsecError(fallbackCode, message, { cause: error });
}

/** Converts an error into the `'error'` event payload. */
export function toErrorEvent(error: SubsecError): SubsecErrorEvent {
  return { type: error.type, code: error.code, message: error.message, fatal: error.fatal, error };
}

/** True for errors caused by losing the connection: the reconnect logic retries those. */
export function isConnectionLoss(error: unknown): boolean {
  return error instanceof SubsecError && (error.code === 'CONNECTION_LOST' || error.code === 'TIMEOUT');
}

/** Codes after which reconnecting with the same credentials cannot succeed. */
export function isPermanentFailure(error: unknown): boolean {
  return (
    error instanceof SubsecError &&
    (error.code === 'UNAUTHENTICATED' ||
      error.code === 'FORBIDDEN' ||
      error.code === 'UNSUPPORTED_VERSION' ||
      error.code === 'UNSUPPORTED_BROWSER' ||
      error.code === 'ROOM_CLOSED')
  );
}
