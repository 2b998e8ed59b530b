/**
 * JWT access tokens with grants. Verification is `jose`'s (signature, algorithm allow-list per key,
 * `exp`/`nbf`/`aud`); keys come from {@link TokenKeyRing} (the shared HS256 secret, keys by `kid`,
 * JWK Sets). Signing stays synchronous on node:crypto (a JWS is `base64url(header).base64url(payload)`
 * signed with the key), because every issuer in the tree — REST, CLI, relay chaining, benches and
 * tests — issues inline; the tests check that jose verifies what we sign for every algorithm.
 */
import crypto from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { UnauthorizedError } from '../core/errors';
import { KeyLookupError, TokenKeyRing, type ResolvedKey, type TokenKeyConfig, type TokenKeyOptions } from './tokenKeys';

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

/** The parts of the `auth` config section that {@link TokenService.fromConfig} reads. */
export interface AuthKeyConfig {
  jwtSecret: string;
  tokenTtlSeconds: number;
  keys?: TokenKeyConfig[];
  signingKeyId?: string;
  acceptJwtSecret?: boolean;
  jwksFile?: string;
  jwksUrl?: string;
  audience?: string;
}

/** Verified tokens remembered by their text (the LL-HLS token check runs per request): at most this many, */
const VERIFIED_CACHE_SIZE = 10_000;
/** for at most this long (ms) or until they expire, so a key dropped from a JWK Set stops working soon. */
const VERIFIED_CACHE_MS = 60_000;

/** Signs one JWS with a key (HS256 HMAC, ES256 as IEEE P1363 r||s, EdDSA, RS256 PKCS#1 v1.5). */
function signJws(key: ResolvedKey, signingInput: string): string {
  const data = Buffer.from(signingInput);
  switch (key.alg) {
    case 'HS256':
      return crypto.createHmac('sha256', key.sign!).update(data).digest('base64url');
    case 'ES256':
      return crypto.sign('sha256', data, { key: key.sign!, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    case 'EdDSA':
      return crypto.sign(null, data, key.sign!).toString('base64url');
    case 'RS256':
      return crypto.sign('sha256', data, key.sign!).toString('base64url');
  }
}

/** Maps a verification failure onto the message a client sees (always a 401). */
function refusal(err: unknown): UnauthorizedError {
  if (err instanceof UnauthorizedError) return err;
  if (err instanceof KeyLookupError) return new UnauthorizedError(err.message);
  if (err instanceof joseErrors.JWTExpired) return new UnauthorizedError('token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return new UnauthorizedError('token not yet valid');
    if (err.claim === 'aud') return new UnauthorizedError('token audience mismatch');
    return new UnauthorizedError(`token claim ${err.claim} invalid`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new UnauthorizedError('bad token signature');
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return new UnauthorizedError('unsupported token algorithm');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new UnauthorizedError('unknown key id');
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return new UnauthorizedError('malformed token');
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JOSEError)
    return new UnauthorizedError(`token not verifiable: ${(err as Error).message}`);
  return new UnauthorizedError('malformed token');
}

/** Issues and verifies tokens: the shared secret plus the keys of `auth.keys` / JWK Sets. */
export class TokenService {
  readonly #keys: TokenKeyRing;
  readonly #defaultTtlSeconds: number;
  readonly #audience: string | undefined;
  readonly #verified = new Map<string, { token: VerifiedToken; until: number }>();
  /** Room admission (bans) every entry point that takes a token asks; none = grants alone decide. */
  readonly admission: TokenAdmission | undefined;

  /**
   * `secret`: the shared HS256 secret; `keys`: further keys by id, JWK Sets, the signing key and
   * audience; `admission`: the room admission (bans) entry points ask after verifying a token.
   */
  constructor(secret: string, defaultTtlSeconds: number, keys: TokenKeyOptions = {}, admission?: TokenAdmission) {
    this.#keys = new TokenKeyRing(secret, keys);
    this.#defaultTtlSeconds = defaultTtlSeconds;
    this.#audience = keys.audience;
    this.admission = admission;
  }

  /** A token service for the `auth` config section (the shared secret, keys by id, JWK Sets, audience), with an optional room admission. */
  static fromConfig(auth: AuthKeyConfig, admission?: TokenAdmission): TokenService {
    return new TokenService(
      auth.jwtSecret,
      auth.tokenTtlSeconds,
      {
        keys: auth.keys,
        signingKeyId: auth.signingKeyId,
        acceptSharedSecret: auth.acceptJwtSecret,
        jwksFile: auth.jwksFile,
        jwksUrl: auth.jwksUrl,
        audience: auth.audience,
      },
      admission,
    );
  }

  /** Signs a token for the grants with the signing key; `ttlSeconds` defaults to the configured lifetime. */
  issue(grants: GrantsInput, ttlSeconds = this.#defaultTtlSeconds): string {
    const parsed = grantsSchema.parse(grants);
    const key = this.#keys.signing;
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify(key.kid === undefined ? { alg: key.alg, typ: 'JWT' } : { alg: key.alg, typ: 'JWT', kid: key.kid }));
    const claims: Record<string, unknown> = { ...parsed, sub: parsed.identity, iat: now, exp: now + ttlSeconds };
    if (this.#audience !== undefined) claims.aud = this.#audience;
    const payload = b64url(JSON.stringify(claims));
    return `${header}.${payload}.${signJws(key, `${header}.${payload}`)}`;
  }

  /** Verifies signature (by the key its `kid` names, in that key's algorithm only), expiry, not-before and audience; rejects with UnauthorizedError. */
  async verify(token: string): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length > 4096 || token.split('.').length !== 3) throw new UnauthorizedError('malformed token');
    const cached = this.#verified.get(token);
    if (cached) {
      if (cached.until > Date.now()) return cached.token;
      this.#verified.delete(token);
    }
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, (header, jws) => this.#keys.keyFor(header, jws), {
        algorithms: ['HS256', 'ES256', 'EdDSA', 'RS256'],
        audience: this.#audience,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw refusal(err);
    }
    const { sub: _sub, iat, exp, nbf: _nbf, aud: _aud, iss: _iss, jti: _jti, ...grantClaims } = claims;
    const grants = grantsSchema.safeParse(grantClaims);
    if (!grants.success || typeof exp !== 'number') throw new UnauthorizedError('token grants invalid');
    const verified: VerifiedToken = { ...grants.data, exp, iat: typeof iat === 'number' ? iat : 0 };
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, { token: verified, until: Math.min(exp * 1000, Date.now() + VERIFIED_CACHE_MS) });
    return verified;
  }
}

/** True when the token's room grant covers `room`. */
export function grantsRoom(token: Grants, room: string): boolean {
  return token.room === '*' || token.room === room;
}
