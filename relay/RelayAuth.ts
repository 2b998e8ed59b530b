/**
 * Session set-up authorisation: the JWT (same tokens as the SFU, `?jwt=` on the URL) decides
 * what a session may do. A token's room maps to a path prefix ('*' = every path); publish and
 * subscribe grants map to announcing and subscribing. A refused session never starts: the
 * listener answers the HTTP upgrade / CONNECT with the refusal's status.
 */
import type { VerifiedToken } from '../src/auth/tokens';
import { hasPrefix, joinPath } from './Path';
import type { SessionGrant } from './SessionContext';
import { decodePath } from './wire/messages';

/** Verifies a token (the node's TokenService satisfies it). */
export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
  /** Bans: throws when the token's identity may not enter a room (the node installs it on its TokenService). */
  readonly admission?: { assert(token: VerifiedToken, room: string): void };
}

/** A session refused at set-up; `status` is the HTTP status sent back. */
export class SessionRefused extends Error {
  override name = 'SessionRefused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link RelayAuth}. */
export interface RelayAuthOptions {
  tokens: TokenVerifier;
  /** When false, a session without a token gets full access (local development only). */
  requireAuth: boolean;
  /** Path prefix under which a token's room lives (a node's `moq.bridge.prefix`; default ''). */
  roomPrefix?: string;
}

/** Turns a session URL into a grant or a refusal. */
export class RelayAuth {
  readonly #o: RelayAuthOptions;

  constructor(options: RelayAuthOptions) {
    this.#o = options;
  }

  /** The grant for a session at `url`; throws {@link SessionRefused}. */
  async authorize(url: URL): Promise<SessionGrant> {
    let root: string;
    try {
      root = decodePath(decodeURIComponent(url.pathname));
    } catch {
      throw new SessionRefused(400, 'invalid path');
    }
    const token = url.searchParams.get('jwt') ?? url.searchParams.get('token');
    if (!token) {
      if (this.#o.requireAuth) throw new SessionRefused(401, 'missing token (pass ?jwt=<token>)');
      return { identity: 'anonymous', root, prefix: '', canPublish: true, canSubscribe: true };
    }
    let claims: VerifiedToken;
    try {
      claims = await this.#o.tokens.verify(token);
    } catch (err) {
      throw new SessionRefused(401, (err as Error).message || 'invalid token');
    }
    const prefix = claims.room === '*' ? '' : joinPath(this.#o.roomPrefix ?? '', claims.room);
    if (!hasPrefix(prefix, root) && !hasPrefix(root, prefix)) {
      throw new SessionRefused(403, `token for ${claims.room} does not cover /${root}`);
    }
    if (!claims.canPublish && !claims.canSubscribe) throw new SessionRefused(403, 'token grants neither publish nor subscribe');
    this.#assertNotBanned(claims, root);
    return { identity: claims.identity, root, prefix, canPublish: claims.canPublish, canSubscribe: claims.canSubscribe };
  }

  /**
   * 403 when the identity is banned from a room the session reaches: any path segment of the
   * token's room or of the session root (broadcasts are `<prefix>/<room>/<identity>`; room names
   * have no '/').
   */
  #assertNotBanned(claims: VerifiedToken, root: string): void {
    const admission = this.#o.tokens.admission;
    if (!admission) return;
    const rooms = new Set([...(claims.room === '*' ? [] : claims.room.split('/')), ...root.split('/')].filter(Boolean));
    for (const room of rooms) {
      try {
        admission.assert(claims, room);
      } catch (err) {
        throw new SessionRefused(403, (err as Error).message);
      }
    }
  }
}
