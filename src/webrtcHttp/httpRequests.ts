/**
 * HTTP plumbing shared by the WHIP and WHEP endpoints: bearer tokens, SDP bodies, names,
 * `Link` headers for ICE servers and the RFC 9725 PATCH semantics (trickle ICE is accepted and
 * ignored because the server is ICE-lite; an ICE restart answers with new credentials).
 */
import { BadRequestError, ForbiddenError, UnauthorizedError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { HttpRequest, HttpResponse } from '../http/HttpServer';
import { errorResponse } from '../http/HttpServer';
import { grantsRoom, type TokenService, type VerifiedToken } from '../auth/tokens';
import { parseIceFragment, writeIceFragment } from '../sdp/writeAnswer';
import { iceServerLinks as turnLinks } from '../turn/TurnCredentials';
import type { types } from 'mediasoup';

/** Largest SDP offer accepted (bytes). */
export const MAX_SDP_BYTES = 64 * 1024;
/** Largest PATCH body accepted (bytes). */
export const MAX_PATCH_BYTES = 16 * 1024;

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Validates a room or stream name from the path. */
export function checkName(value: string | undefined, what: string): string {
  if (!value || !NAME.test(value)) throw new BadRequestError(`${what} must be 1-128 characters of A-Z a-z 0-9 _ . -`);
  return value;
}

/** The request's bearer token, verified, with a grant for `room` and its identity not banned from it. */
export async function authorize(req: HttpRequest, tokens: TokenService, room: string): Promise<VerifiedToken> {
  const header = req.headers['authorization'] ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) throw new UnauthorizedError('missing "Authorization: Bearer <token>"');
  const token = await tokens.verify(m[1]!);
  if (!grantsRoom(token, room)) throw new ForbiddenError(`token is not valid for room ${room}`);
  // A banned identity (kicked) gets 403 (this node's copy of the bans).
  tokens.admission?.assert(token, room);
  return token;
}

/** The media type of the request without parameters, lower-cased. */
export function contentType(req: HttpRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The body as an SDP offer text; 415 for another content type, 400 for an empty or non-UTF-8 body. */
export function sdpBody(req: HttpRequest): string {
  if (contentType(req) !== 'application/sdp') {
    throw new BadRequestError(`Content-Type must be application/sdp (got "${contentType(req) || 'none'}")`, ErrorCode.UNSUPPORTED_MEDIA);
  }
  if (req.body.length === 0) throw new BadRequestError('empty SDP offer');
  const text = req.body.toString('utf8');
  if (text.includes('\uFFFD')) throw new BadRequestError('SDP offer is not valid UTF-8');
  return text;
}

/** An ICE server advertised to clients: one URL (config) or several (TURN credentials). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** `Link` header values for the ICE servers (RFC 9725 section 4.4), one per URL. */
export function iceServerLinks(servers: IceServer[]): string[] {
  return turnLinks(servers.map((s) => ({ ...s, urls: Array.isArray(s.urls) ? s.urls : [s.urls] })));
}

/** The `link` header entry for a response's ICE servers, or nothing when there are none. */
export function linkHeader(servers: IceServer[]): { link?: string[] } {
  return servers.length > 0 ? { link: iceServerLinks(servers) } : {};
}

/** What an ICE PATCH needs from a session. */
export interface IcePatchTarget {
  /** Current entity tag of the ICE session (quoted). */
  readonly etag: string;
  /** The client's current ICE username fragment. */
  remoteUfrag: string | undefined;
  /** MID of the first bundled section (the one sdpfrags carry). */
  readonly firstMid: string;
  /** Restarts ICE on the transport; returns the new local parameters. */
  restartIce(remoteUfrag: string): Promise<{ iceParameters: types.IceParameters; iceCandidates: types.IceCandidate[] }>;
}

/**
 * Handles `PATCH` with `application/trickle-ice-sdpfrag`: 412 when If-Match names another ICE
 * session, 204 for trickled candidates (an ICE-lite server needs none), 200 with our new
 * credentials for an ICE restart (which must carry `If-Match: *`, else 428).
 */
export async function handleIcePatch(req: HttpRequest, target: IcePatchTarget): Promise<HttpResponse> {
  const ifMatch = req.headers['if-match']?.trim();
  if (ifMatch && ifMatch !== '*' && ifMatch !== target.etag) {
    return errorResponse(412, 'If-Match does not match the ICE session (ETag changed)', ErrorCode.CONFLICT);
  }
  const frag = parseIceFragment(req.body.toString('utf8'));
  const restart = frag.iceUfrag !== undefined && target.remoteUfrag !== undefined && frag.iceUfrag !== target.remoteUfrag;
  if (!restart) return { status: 204 };
  if (ifMatch !== '*') return errorResponse(428, 'an ICE restart needs "If-Match: *"', ErrorCode.BAD_REQUEST);
  if (!frag.icePwd) throw new BadRequestError('ICE restart fragment has no a=ice-pwd');
  const local = await target.restartIce(frag.iceUfrag!);
  return {
    status: 200,
    headers: { 'content-type': 'application/trickle-ice-sdpfrag', etag: target.etag },
    body: writeIceFragment(local, target.firstMid),
  };
}

/** The response to a PATCH whose content type is neither sdpfrag nor an accepted extension. */
export function unsupportedPatch(req: HttpRequest, accepted: string[]): never {
  throw new BadRequestError(`PATCH Content-Type must be ${accepted.join(' or ')} (got "${contentType(req) || 'none'}")`, ErrorCode.UNSUPPORTED_MEDIA);
}
