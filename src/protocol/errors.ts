/**
 * Stable error codes shared by the node (HTTP + signaling) and the SDK.
 * The mapping from code to HTTP status lives here so every surface agrees.
 */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  ALREADY_JOINED: 'ALREADY_JOINED',
  NOT_JOINED: 'NOT_JOINED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNSUPPORTED_MEDIA: 'UNSUPPORTED_MEDIA',
  DRAINING: 'DRAINING',
  INVALID_STATE: 'INVALID_STATE',
  /** The node is at a capacity limit (e.g. consumers per media worker): try again later or another node. */
  CAPACITY: 'CAPACITY',
  /** Use another node: the error's `redirect` names it (cascade placement, docs/cascade.md). */
  REDIRECT: 'REDIRECT',
  /** A room event refused by a validation hook; the message is the hook's reason. */
  EVENT_REJECTED: 'EVENT_REJECTED',
  INTERNAL: 'INTERNAL',
} as const;

/** One of the stable error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each error code (used by REST, WHIP/WHEP and HLS). */
export const httpStatusOf: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_MESSAGE: 400,
  UNKNOWN_METHOD: 400,
  UNSUPPORTED_VERSION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ALREADY_JOINED: 409,
  NOT_JOINED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNSUPPORTED_MEDIA: 415,
  DRAINING: 503,
  INVALID_STATE: 409,
  CAPACITY: 503,
  REDIRECT: 421,
  EVENT_REJECTED: 422,
  INTERNAL: 500,
};

/** Wire shape of an error in responses: `{code, message}`. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** With `REDIRECT`: the node to use instead (`url` is its base URL; signaling at `<url>/ws`). */
  redirect?: { nodeId: string; url: string };
}
