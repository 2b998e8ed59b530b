import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth/tokens';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';

/** A fresh key pair in the PEM form `auth.keys` takes. */
function keyPair(type: 'ec' | 'ed25519') {
  const { publicKey, privateKey } = type === 'ec' ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) : crypto.generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

describe('a node with several token keys (rotation)', () => {
  const oldKey = { kid: '2026-11', alg: 'EdDSA' as const, ...keyPair('ed25519') };
  const newKey = { kid: '2026-12', alg: 'ES256' as const, ...keyPair('ec') };
  const nodes: SubsecNode[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });
  // An auth service outside the node signs with the private keys; the node holds public keys only.
  const authService = (key: typeof oldKey | typeof newKey) => new TokenService('auth-service-unused-secret', 600, { keys: [key], signingKeyId: key.kid });
  const publicOnly = (key: typeof oldKey | typeof newKey) => ({ kid: key.kid, alg: key.alg, publicKey: key.publicKey });
  const iceServers = (node: SubsecNode, token: string) => fetch(`${node.url}/v1/ice-servers`, { headers: { authorization: `Bearer ${token}` } });

  it('accepts tokens of both active keys, refuses a removed key and shared-secret tokens once turned off', async () => {
    const both = await startNode({ auth: { keys: [publicOnly(oldKey), publicOnly(newKey)], acceptJwtSecret: false } });
    nodes.push(both);
    const oldToken = authService(oldKey).issue({ room: 'r', identity: 'old-client' });
    const newToken = authService(newKey).issue({ room: 'r', identity: 'new-client' });
    expect((await iceServers(both, oldToken)).status).toBe(200);
    expect((await iceServers(both, newToken)).status).toBe(200);
    const shared = new TokenService('subsec-dev-secret-change-me', 600).issue({ room: 'r', identity: 'legacy' });
    const refusedShared = await iceServers(both, shared);
    expect(refusedShared.status).toBe(401);
    expect(await refusedShared.json()).toMatchObject({ code: 'UNAUTHENTICATED', message: 'token has no key id' });

    const rotated = await startNode({ auth: { keys: [publicOnly(newKey)] } });
    nodes.push(rotated);
    const refusedOld = await iceServers(rotated, oldToken);
    expect(refusedOld.status).toBe(401);
    expect(await refusedOld.json()).toMatchObject({ code: 'UNAUTHENTICATED', message: 'unknown key id 2026-11' });
    expect((await iceServers(rotated, newToken)).status).toBe(200);
  });

  it("signs the node's own tokens (REST POST /v1/tokens) with the configured signing key", async () => {
    const node = await startNode({ auth: { keys: [newKey], signingKeyId: newKey.kid } });
    nodes.push(node);
    const res = await fetch(`${node.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: 'Bearer subsec-dev-admin-key', 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'r', identity: 'alice' }),
    });
    expect(res.status).toBe(201);
    const { token } = (await res.json()) as { token: string };
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'ES256', kid: '2026-12' });
    expect((await iceServers(node, token)).status).toBe(200);
  });
});
