/**
 * The project's error classes. Each carries a stable {@link ErrorCode}; HTTP statuses and
 * signaling error responses are derived from it in one place (src/protocol/errors.ts).
 */
import { ErrorCode, httpStatusOf, type WireError } from '../protocol/errors';

/** Base class: an error with a stable code that is safe to show to a client. */
export class SubsecError extends Error {
  override name = 'SubsecError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** HTTP status for this error. */
  get httpStatus(): number {
    return httpStatusOf[this.code];
  }
}

/** Missing or invalid credentials. */
export class UnauthorizedError extends SubsecError {
  override name = 'UnauthorizedError';
  constructor(message = 'missing or invalid token', options?: { cause?: unknown }) {
    super(ErrorCode.UNAUTHENTICATED, message, options);
  }
}

/** Valid credentials without the needed grant. */
export class ForbiddenError extends SubsecError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message);
  }
}

/** A named object does not exist. */
export class NotFoundError extends SubsecError {
  override name = 'NotFoundError';
  constructor(message: string) {
    super(ErrorCode.NOT_FOUND, message);
  }
}

/** Use of an object in the wrong state (e.g. after close). */
export class InvalidStateError extends SubsecError {
  override name = 'InvalidStateError';
  constructor(message: string) {
    super(ErrorCode.INVALID_STATE, message);
  }
}

/** Malformed input from a client. */
export class BadRequestError extends SubsecError {
  override name = 'BadRequestError';
  constructor(message: string, code: ErrorCode = ErrorCode.BAD_REQUEST) {
    super(code, message);
  }
}

/** The client should use another node (cascade placement); `redirect` says which. */
export class RedirectError extends SubsecError {
  override name = 'RedirectError';
  constructor(
    message: string,
    readonly redirect: { nodeId: string; url: string },
  ) {
    super(ErrorCode.REDIRECT, message);
  }
}

/** A resource exists but is not available here yet (HTTP 503; worth retrying), e.g. a stream of another node not pulled in time. */
export class UnavailableError extends SubsecError {
  override name = 'UnavailableError';
  constructor(message: string) {
    super(ErrorCode.DRAINING, message);
  }
}

/**
 * Converts any thrown value into a wire error. Foreign errors (mediasoup TypeErrors from
 * invalid client-provided parameters, etc.) become BAD_REQUEST when they are argument
 * errors, otherwise INTERNAL without leaking internals.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof RedirectError) return { code: err.code, message: err.message, redirect: err.redirect };
  if (err instanceof SubsecError) return { code: err.code, message: err.message };
  if (err instanceof TypeError || (err instanceof Error && err.name === 'TypeError')) {
    return { code: ErrorCode.BAD_REQUEST, message: err.message.slice(0, 300) };
  }
  if (err instanceof Error && err.name === 'UnsupportedError') {
    return { code: ErrorCode.UNSUPPORTED_MEDIA, message: err.message.slice(0, 300) };
  }
  if (err instanceof Error && err.name === 'InvalidStateError') {
    return { code: ErrorCode.INVALID_STATE, message: err.message.slice(0, 300) };
  }
  return { code: ErrorCode.INTERNAL, message: 'internal error' };
}
