import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { compactVerify, importJWK, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenService, grantsRoom } from '../../src/auth/tokens';
import type { TokenKeyConfig } from '../../src/auth/tokenKeys';
import { UnauthorizedError } from '../../src/core/errors';

const tokens = new TokenService('a-secret-of-enough-length', 60);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const hs256 = (secret: string, header: object, claims: object) => {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
};
const future = () => Math.floor(Date.now() / 1000) + 600;

/** A key pair as PEM, for `auth.keys`. */
function pair(type: 'ec' | 'ed25519' | 'rsa') {
  const { publicKey, privateKey } =
    type === 'ec'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
        : crypto.generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwk: publicKey.export({ format: 'jwk' }),
  };
}

describe('tokens (shared HS256 secret)', () => {
  it('round-trips grants with defaults applied', async () => {
    const t = await tokens.verify(tokens.issue({ room: 'r1', identity: 'alice', canPublish: true }));
    expect(t).toMatchObject({ room: 'r1', identity: 'alice', canPublish: true, canSubscribe: true, canPublishData: false, admin: false });
    expect(t.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('rejects a token signed with another secret', async () => {
    const other = new TokenService('another-secret-of-length', 60).issue({ room: 'r1', identity: 'eve', admin: true });
    await expect(tokens.verify(other)).rejects.toThrow(/signature/);
  });

  it('rejects a tampered payload', async () => {
    const [h, , s] = tokens.issue({ room: 'r1', identity: 'bob' }).split('.');
    const forged = b64({ room: '*', identity: 'bob', admin: true, exp: 9e9 });
    await expect(tokens.verify(`${h}.${forged}.${s}`)).rejects.toThrow(/signature/);
  });

  it('rejects an expired token and one not yet valid', async () => {
    await expect(tokens.verify(tokens.issue({ room: 'r1', identity: 'bob' }, -5))).rejects.toThrow(/expired/);
    const notYet = hs256('a-secret-of-enough-length', { alg: 'HS256' }, { room: 'r', identity: 'x', exp: future(), nbf: future() - 60 });
    await expect(tokens.verify(notYet)).rejects.toThrow(/not yet valid/);
  });

  it('rejects alg=none, a token without exp, and malformed tokens', async () => {
    const none = `${b64({ alg: 'none' })}.${b64({ room: 'r', identity: 'x', exp: 9e9 })}.`;
    await expect(tokens.verify(none)).rejects.toThrow(UnauthorizedError);
    const noExp = hs256('a-secret-of-enough-length', { alg: 'HS256' }, { room: 'r', identity: 'x' });
    await expect(tokens.verify(noExp)).rejects.toThrow(UnauthorizedError);
    await expect(tokens.verify('not-a-token')).rejects.toThrow(/malformed/);
    await expect(tokens.verify('a.b.c')).rejects.toThrow(UnauthorizedError);
  });

  it('matches the room grant, with * for any room', async () => {
    expect(grantsRoom(await tokens.verify(tokens.issue({ room: '*', identity: 'a' })), 'x')).toBe(true);
    expect(grantsRoom(await tokens.verify(tokens.issue({ room: 'a', identity: 'a' })), 'b')).toBe(false);
  });
});

describe('tokens (keys by id)', () => {
  const ec = pair('ec');
  const ed = pair('ed25519');
  const rsa = pair('rsa');
  const keys: TokenKeyConfig[] = [
    { kid: 'ec-1', alg: 'ES256', publicKey: ec.publicKey, privateKey: ec.privateKey },
    { kid: 'ed-1', alg: 'EdDSA', publicKey: ed.publicKey, privateKey: ed.privateKey },
    { kid: 'rsa-1', alg: 'RS256', publicKey: rsa.publicKey, privateKey: rsa.privateKey },
    { kid: 'hs-1', alg: 'HS256', secret: 'a-hs256-secret-of-at-least-32-chars!' },
  ];
  const issuer = (kid: string) => new TokenService('the-shared-secret-0123', 60, { keys, signingKeyId: kid });
  // A verify-only node: public keys only, as a node behind an auth service would hold them.
  const verifier = new TokenService('the-shared-secret-0123', 60, {
    keys: keys.map((k) => (k.alg === 'HS256' ? k : { kid: k.kid, alg: k.alg, publicKey: k.publicKey })),
  });

  it('issues and verifies ES256, EdDSA, RS256 and HS256 tokens by kid, and jose verifies what we sign', async () => {
    for (const k of keys) {
      const token = issuer(k.kid).issue({ room: 'r', identity: `who-${k.kid}` });
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: k.alg, typ: 'JWT', kid: k.kid });
      expect(await verifier.verify(token)).toMatchObject({ room: 'r', identity: `who-${k.kid}` });
      const key = k.alg === 'HS256' ? new TextEncoder().encode(k.secret) : crypto.createPublicKey(k.publicKey!);
      const { payload } = await jwtVerify(token, key, { algorithms: [k.alg] });
      expect(payload.sub).toBe(`who-${k.kid}`);
    }
  });

  it('never verifies a token under another key or algorithm (alg confusion, wrong kid)', async () => {
    // HS256 with the ES256 public key's PEM as the HMAC secret: the classic confusion attack.
    const confused = hs256(ec.publicKey, { alg: 'HS256', kid: 'ec-1' }, { room: '*', identity: 'mallory', admin: true, exp: future() });
    await expect(verifier.verify(confused)).rejects.toThrow(/algorithm HS256 is not allowed for key ec-1/);
    // A real ES256 signature presented under the EdDSA key's id.
    const [h, p, s] = issuer('ec-1').issue({ room: 'r', identity: 'x' }).split('.');
    const relabelled = `${b64({ ...JSON.parse(Buffer.from(h!, 'base64url').toString()), kid: 'ed-1' })}.${p}.${s}`;
    await expect(verifier.verify(relabelled)).rejects.toThrow(/not allowed for key ed-1/);
    await expect(verifier.verify(hs256('x'.repeat(40), { alg: 'HS256', kid: 'nobody' }, { room: 'r', identity: 'x', exp: future() }))).rejects.toThrow(
      /unknown key id nobody/,
    );
    // A token with kid is never checked against the shared secret.
    await expect(verifier.verify(hs256('the-shared-secret-0123', { alg: 'HS256', kid: 'hs-1' }, { room: 'r', identity: 'x', exp: future() }))).rejects.toThrow(
      /signature/,
    );
  });

  it('accepts tokens of two active keys and rejects those of a removed one (rotation)', async () => {
    const oldToken = issuer('ec-1').issue({ room: 'r', identity: 'old' });
    const newToken = issuer('ed-1').issue({ room: 'r', identity: 'new' });
    expect((await verifier.verify(oldToken)).identity).toBe('old');
    expect((await verifier.verify(newToken)).identity).toBe('new');
    const rotated = new TokenService('the-shared-secret-0123', 60, { keys: keys.filter((k) => k.kid !== 'ec-1') });
    await expect(rotated.verify(oldToken)).rejects.toThrow(/unknown key id ec-1/);
    expect((await rotated.verify(newToken)).identity).toBe('new');
  });

  it('stops accepting shared-secret tokens when acceptSharedSecret is off', async () => {
    const legacy = new TokenService('the-shared-secret-0123', 60).issue({ room: 'r', identity: 'x' });
    expect((await verifier.verify(legacy)).identity).toBe('x');
    const strict = new TokenService('the-shared-secret-0123', 60, { keys, acceptSharedSecret: false });
    await expect(strict.verify(legacy)).rejects.toThrow(/no key id/);
  });

  it('requires the audience when one is configured', async () => {
    const withAud = new TokenService('the-shared-secret-0123', 60, { keys, signingKeyId: 'ed-1', audience: 'subsec-eu' });
    const token = withAud.issue({ room: 'r', identity: 'x' });
    expect((await withAud.verify(token)).identity).toBe('x');
    await expect(new TokenService('the-shared-secret-0123', 60, { keys, audience: 'subsec-us' }).verify(token)).rejects.toThrow(/audience/);
    await expect(withAud.verify(issuer('ed-1').issue({ room: 'r', identity: 'x' }))).rejects.toThrow(/audience|aud/);
  });

  it('refuses key configurations that do not match their algorithm', () => {
    expect(() => new TokenService('s'.repeat(16), 60, { keys: [{ kid: 'k', alg: 'ES256', publicKey: ed.publicKey }] })).toThrow(/cannot be used for ES256/);
    expect(() => new TokenService('s'.repeat(16), 60, { keys: [{ kid: 'k', alg: 'RS256', secret: 'x'.repeat(40) }] })).toThrow();
    expect(() => new TokenService('s'.repeat(16), 60, { keys, signingKeyId: 'missing' })).toThrow(/not among auth.keys/);
    expect(() => new TokenService('s'.repeat(16), 60, { keys: [{ kid: 'v', alg: 'EdDSA', publicKey: ed.publicKey }], signingKeyId: 'v' })).toThrow(
      /no private key/,
    );
  });
});

describe('tokens (JWK Sets)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-jwks-'));
  const ed = pair('ed25519');
  const ec = pair('ec');
  const servers: http.Server[] = [];
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  const signer = (kid: string, p: { publicKey: string; privateKey: string }, alg: 'EdDSA' | 'ES256') =>
    new TokenService('unused-shared-secret', 60, { keys: [{ kid, alg, publicKey: p.publicKey, privateKey: p.privateKey }], signingKeyId: kid });

  it('verifies tokens of an auth service whose public keys come from a JWKS file', async () => {
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [{ ...ed.jwk, kid: 'svc-ed', alg: 'EdDSA', use: 'sig' }] }));
    const node = new TokenService('node-shared-secret-01', 60, { jwksFile: file });
    expect((await node.verify(signer('svc-ed', ed, 'EdDSA').issue({ room: 'r', identity: 'svc' }))).identity).toBe('svc');
    await expect(node.verify(signer('svc-other', ed, 'EdDSA').issue({ room: 'r', identity: 'svc' }))).rejects.toThrow(/unknown key id svc-other/);
  });

  it('fetches a JWKS URL once, caches it, and a node reading it after a rotation trusts the new key', async () => {
    const jwks = { keys: [{ ...ed.jwk, kid: 'k1', alg: 'EdDSA' }] as object[] };
    let fetches = 0;
    const server = http.createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    const node = new TokenService('node-shared-secret-01', 60, { jwksUrl: url });
    expect((await node.verify(signer('k1', ed, 'EdDSA').issue({ room: 'r', identity: 'a' }))).identity).toBe('a');
    expect(fetches).toBe(1);
    expect((await node.verify(signer('k1', ed, 'EdDSA').issue({ room: 'r', identity: 'a2' }))).identity).toBe('a2');
    expect(fetches).toBe(1);
    jwks.keys.push({ ...ec.jwk, kid: 'k2', alg: 'ES256' });
    // (A running node refetches for an unknown kid at most every 30 s, jose's cooldown.)
    const second = new TokenService('node-shared-secret-01', 60, { jwksUrl: url });
    expect((await second.verify(signer('k2', ec, 'ES256').issue({ room: 'r', identity: 'b' }))).identity).toBe('b');
    expect(fetches).toBe(2);
  });
});

describe('jose against the RFCs’ examples', () => {
  it('verifies RFC 7515 A.1 (HS256) with its key', async () => {
    const jws =
      'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const key = await importJWK({ kty: 'oct', k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow' }, 'HS256');
    const { payload } = await jwtVerify(jws, key, { currentDate: new Date(1300819000 * 1000) });
    expect(payload).toEqual({ iss: 'joe', exp: 1300819380, 'http://example.com/is_root': true });
    await expect(jwtVerify(jws, key)).rejects.toThrow(/exp/);
  });

  it('verifies RFC 8037 A.4 (Ed25519) with the A.2 public key', async () => {
    const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }, 'EdDSA');
    const jws =
      'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
    const { payload } = await compactVerify(jws, key);
    expect(new TextDecoder().decode(payload)).toBe('Example of Ed25519 signing');
  });
});
