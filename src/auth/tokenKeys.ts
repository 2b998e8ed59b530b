/**
 * The keys tokens are signed and verified with: the shared HS256 secret (tokens without `kid`),
 * any number of keys by key id (`kid`) with their algorithm, and optionally a JWK Set from a
 * file or a URL (an auth service's public keys). A key verifies only tokens of its own algorithm,
 * so a token can never choose how it is checked (`alg` confusion, `none`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, type CompactJWSHeaderParameters, type FlattenedJWSInput, type JWTVerifyGetKey } from 'jose';

/** What jose accepts as a verification key. */
type VerifyKey = Awaited<ReturnType<JWTVerifyGetKey>>;
import { z } from 'zod';

/** Algorithms a token may be signed with. */
export const TOKEN_ALGORITHMS = ['HS256', 'ES256', 'EdDSA', 'RS256'] as const;
/** One of {@link TOKEN_ALGORITHMS}. */
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

/** One configured key (`auth.keys[]`). */
export const tokenKeySchema = z
  .strictObject({
    /** Key id: tokens name it in their `kid` header. */
    kid: z.string().min(1).max(128),
    /** Algorithm this key signs/verifies; tokens of any other algorithm are refused under this kid. */
    alg: z.enum(TOKEN_ALGORITHMS),
    /** HS256 only: the shared secret (at least 32 characters). */
    secret: z.string().min(32).optional(),
    /** Asymmetric keys: the public key (PEM, SPKI), or a file holding it. */
    publicKey: z.string().optional(),
    /** Asymmetric keys: a file with the public key (PEM). */
    publicKeyFile: z.string().optional(),
    /** Asymmetric keys, only on nodes that issue tokens with this key: the private key (PEM, PKCS#8), or a file. */
    privateKey: z.string().optional(),
    /** A file with the private key (PEM). */
    privateKeyFile: z.string().optional(),
  })
  .superRefine((k, ctx) => {
    const asymmetric = k.publicKey ?? k.publicKeyFile ?? k.privateKey ?? k.privateKeyFile;
    if (k.alg === 'HS256' && (!k.secret || asymmetric)) ctx.addIssue({ code: 'custom', message: `key ${k.kid}: HS256 takes exactly a secret` });
    if (k.alg !== 'HS256' && (k.secret || !asymmetric))
      ctx.addIssue({ code: 'custom', message: `key ${k.kid}: ${k.alg} takes a public and/or private key, not a secret` });
  });

/** A configured key as the config gives it. */
export type TokenKeyConfig = z.infer<typeof tokenKeySchema>;

/** Key material beyond the shared secret (the `auth` section's key options). */
export interface TokenKeyOptions {
  /** Keys by id. */
  keys?: TokenKeyConfig[];
  /** Id of the key that signs this node's own tokens; unset = the shared secret (HS256, no `kid`). */
  signingKeyId?: string;
  /** Accept tokens without `kid`, verified with the shared secret (default true). */
  acceptSharedSecret?: boolean;
  /** A JWK Set file of public keys by `kid`, read once at start. */
  jwksFile?: string;
  /** A JWK Set URL, fetched on first use and when an unknown `kid` appears (cached, rate-limited by jose). */
  jwksUrl?: string;
  /** When set, tokens must carry this `aud`, and this node's tokens carry it. */
  audience?: string;
}

/** A key ready for use. */
export interface ResolvedKey {
  kid: string | undefined;
  alg: TokenAlgorithm;
  /** Verifies signatures (the secret for HS256, the public key otherwise). */
  verify: crypto.KeyObject;
  /** Signs (the secret for HS256, the private key otherwise); absent on verify-only nodes. */
  sign?: crypto.KeyObject;
}

const pem = (inline: string | undefined, file: string | undefined): string | undefined =>
  inline ?? (file === undefined ? undefined : fs.readFileSync(file, 'utf8'));

const KEY_TYPES: Record<Exclude<TokenAlgorithm, 'HS256'>, string[]> = { ES256: ['ec'], EdDSA: ['ed25519'], RS256: ['rsa'] };

/** Turns one configured key into key objects, checking that the key's type matches its algorithm. */
export function resolveKey(k: TokenKeyConfig): ResolvedKey {
  if (k.alg === 'HS256') {
    const secret = crypto.createSecretKey(Buffer.from(k.secret!, 'utf8'));
    return { kid: k.kid, alg: k.alg, verify: secret, sign: secret };
  }
  const privatePem = pem(k.privateKey, k.privateKeyFile);
  const publicPem = pem(k.publicKey, k.publicKeyFile);
  const sign = privatePem === undefined ? undefined : crypto.createPrivateKey(privatePem);
  const verify = publicPem !== undefined ? crypto.createPublicKey(publicPem) : crypto.createPublicKey(sign!);
  const types = KEY_TYPES[k.alg];
  if (!types.includes(verify.asymmetricKeyType ?? '') || (sign && sign.asymmetricKeyType !== verify.asymmetricKeyType)) {
    throw new TypeError(`key ${k.kid}: a ${verify.asymmetricKeyType} key cannot be used for ${k.alg}`);
  }
  if (k.alg === 'ES256' && verify.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError(`key ${k.kid}: ES256 needs a P-256 key`);
  return { kid: k.kid, alg: k.alg, verify, sign };
}

/** Why a key lookup failed (mapped to an UnauthorizedError message by the token service). */
export class KeyLookupError extends Error {}

/** The set of keys one node trusts. */
export class TokenKeyRing {
  readonly #shared: ResolvedKey | undefined;
  readonly #byKid = new Map<string, ResolvedKey>();
  readonly #jwksFile: JWTVerifyGetKey | undefined;
  readonly #jwksUrl: JWTVerifyGetKey | undefined;
  /** The key this node signs its own tokens with. */
  readonly signing: ResolvedKey;

  constructor(sharedSecret: string, options: TokenKeyOptions = {}) {
    const secret = crypto.createSecretKey(Buffer.from(sharedSecret, 'utf8'));
    const sharedKey: ResolvedKey = { kid: undefined, alg: 'HS256', verify: secret, sign: secret };
    this.#shared = options.acceptSharedSecret === false ? undefined : sharedKey;
    for (const k of options.keys ?? []) {
      if (this.#byKid.has(k.kid)) throw new TypeError(`duplicate key id ${k.kid}`);
      this.#byKid.set(k.kid, resolveKey(tokenKeySchema.parse(k)));
    }
    if (options.jwksFile !== undefined) this.#jwksFile = createLocalJWKSet(JSON.parse(fs.readFileSync(options.jwksFile, 'utf8')));
    if (options.jwksUrl !== undefined) this.#jwksUrl = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    if (options.signingKeyId === undefined) this.signing = sharedKey;
    else {
      const k = this.#byKid.get(options.signingKeyId);
      if (!k) throw new TypeError(`signingKeyId ${options.signingKeyId} is not among auth.keys`);
      if (!k.sign) throw new TypeError(`signing key ${options.signingKeyId} has no private key`);
      this.signing = k;
    }
  }

  /** The key for a token's protected header; throws {@link KeyLookupError} when none may verify it. */
  async keyFor(header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<VerifyKey> {
    if (header.kid === undefined) {
      if (!this.#shared) throw new KeyLookupError('token has no key id');
      return expectAlg(this.#shared, header.alg).verify as VerifyKey;
    }
    const own = this.#byKid.get(header.kid);
    if (own) return expectAlg(own, header.alg).verify as VerifyKey;
    // Only asymmetric algorithms come from a JWK Set: an HS256 token must name a configured secret.
    if (header.alg === 'HS256' || !(TOKEN_ALGORITHMS as readonly string[]).includes(header.alg ?? '')) throw new KeyLookupError(`unknown key id ${header.kid}`);
    for (const set of [this.#jwksFile, this.#jwksUrl]) {
      if (!set) continue;
      try {
        return await set(header, token);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      }
    }
    throw new KeyLookupError(`unknown key id ${header.kid}`);
  }
}

function expectAlg(key: ResolvedKey, alg: string | undefined): ResolvedKey {
  if (alg !== key.alg)
    throw new KeyLookupError(`token algorithm ${alg ?? 'none'} is not allowed for ${key.kid === undefined ? 'the shared secret' : `key ${key.kid}`}`);
  return key;
}
