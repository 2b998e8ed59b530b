/**
 * JWT (HS256) access tokens with grants. Implemented on node:crypto: HS256 is small enough
 * that a dependency would add more surface than it removes.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { UnauthorizedError } from '../core/errors';

/** What a token lets its bearer do. */
export const grantsSchema = z.strictObject({
  /** Room the token is for; '*' for any room (admin tools). */
  room: z.string().min(1).max(128),
  /** Who the bearer is (shown to other peers). */
  identity: z.string().min(1).max(128),
  canPublish: z.boolean().default(false),
  canSubscribe: z.boolean().default(true),
  canPublishData: z.boolean().default(false),
  admin: z.boolean().default(false),
});

/** Grants carried by a token. */
export type Grants = z.infer<typeof grantsSchema>;
/** Grants as requested (defaults applied later). */
export type GrantsInput = z.input<typeof grantsSchema>;

/** A verified token's content. */
export interface VerifiedToken extends Grants {
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat: number;
}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

/**
 * Who may enter a room beyond what a token's grants say (bans after a kick). Consulted by every
 * entry point that takes a token: signaling join, WHIP/WHEP, SRT, the MoQ relay.
 */
export interface TokenAdmission {
  /** Throws a ForbiddenError when the token's identity may not enter `room`, from this node's view (sync). */
  assert(token: VerifiedToken, room: string): void;
  /** The same, asking the shared store (Redis in a cascade) rather than this node's copy. */
  check(token: VerifiedToken, room: string): Promise<void>;
}

/** Issues and verifies tokens with one secret. */
export class TokenService {
  readonly #secret: Buffer;
  readonly #defaultTtlSeconds: number;
  /** Room admission (bans) the node installs; none = grants alone decide. */
  admission: TokenAdmission | undefined;

  constructor(secret: string, defaultTtlSeconds: number) {
    this.#secret = Buffer.from(secret, 'utf8');
    this.#defaultTtlSeconds = defaultTtlSeconds;
  }

  /** Signs a token for the grants; `ttlSeconds` defaults to the configured lifetime. */
  issue(grants: GrantsInput, ttlSeconds = this.#defaultTtlSeconds): string {
    const parsed = grantsSchema.parse(grants);
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ ...parsed, sub: parsed.identity, iat: now, exp: now + ttlSeconds }));
    const sig = crypto.createHmac('sha256', this.#secret).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${sig}`;
  }

  /** Verifies signature, algorithm and expiry; throws UnauthorizedError otherwise. */
  verify(token: string): VerifiedToken {
    if (typeof token !== 'string' || token.length > 4096) throw new UnauthorizedError('malformed token');
    const parts = token.split('.');
    if (parts.length !== 3) throw new UnauthorizedError('malformed token');
    const [header, payload, sig] = parts as [string, string, string];
    let headerJson: { alg?: unknown };
    let claims: Record<string, unknown>;
    try {
      headerJson = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new UnauthorizedError('malformed token');
    }
    if (headerJson.alg !== 'HS256') throw new UnauthorizedError('unsupported token algorithm');
    const expected = crypto.createHmac('sha256', this.#secret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      throw new UnauthorizedError('bad token signature');
    }
    const exp = claims.exp;
    if (typeof exp !== 'number' || exp * 1000 <= Date.now()) throw new UnauthorizedError('token expired');
    const { sub: _sub, iat, exp: _exp, ...grantClaims } = claims;
    const grants = grantsSchema.safeParse(grantClaims);
    if (!grants.success) throw new UnauthorizedError('token grants invalid');
    return { ...grants.data, exp, iat: typeof iat === 'number' ? iat : 0 };
  }
}

/** True when the token's room grant covers `room`. */
export function grantsRoom(token: Grants, room: string): boolean {
  return token.room === '*' || token.room === room;
}
