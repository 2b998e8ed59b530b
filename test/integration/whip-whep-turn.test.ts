/**
 * With TURN configured, WHIP and WHEP answers carry `Link` headers with a fresh time-limited
 * credential (coturn REST scheme) for the token's identity, next to the static ICE servers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { fakeOffer, postSdp, tokenFor } from '../helpers/whipWhep';
import { turnPassword } from '../../src/turn/TurnCredentials';
import type { SubsecNode } from '../../src/SubsecNode';

const SECRET = 'a-coturn-static-auth-secret';
let node: SubsecNode;

beforeAll(async () => {
  node = await startNode({
    turn: { enabled: true, urls: ['turn:127.0.0.1:3478?transport=udp', 'stun:127.0.0.1:3478'], secret: SECRET, credentialTtlSeconds: 600 },
    whip: { iceServers: [{ urls: 'stun:stun.example.net:3478' }] },
  });
}, 60_000);

afterAll(async () => {
  await node?.close();
});

/** The TURN Link of a response, parsed. */
function turnLink(link: string | null): { username: string; credential: string } {
  const m = /<turn:127\.0\.0\.1:3478\?transport=udp>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"; credential-type="password"/.exec(link ?? '');
  if (!m) throw new Error(`no TURN link in ${link}`);
  return { username: m[1]!, credential: m[2]! };
}

describe('TURN credentials in WHIP/WHEP Link headers', () => {
  it('gives a WHIP publisher a credential for its identity, valid for the configured lifetime', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await postSdp(`${node.url}/whip/turnroom/cam`, fakeOffer(), tokenFor(node, { room: 'turnroom', identity: 'cam', canPublish: true }));
    expect(res.status).toBe(201);
    const link = res.headers.get('link');
    expect(link).toContain('<stun:stun.example.net:3478>; rel="ice-server"');
    expect(link).toContain('<stun:127.0.0.1:3478>; rel="ice-server"');
    const { username, credential } = turnLink(link);
    const [expiry, identity] = username.split(':');
    expect(identity).toBe('cam');
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600);
    expect(Number(expiry)).toBeLessThanOrEqual(before + 602);
    expect(credential).toBe(turnPassword(SECRET, username));
    await fetch(`${node.url}${res.headers.get('location')}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${tokenFor(node, { room: 'turnroom', identity: 'cam', canPublish: true })}` },
    });
  });

  it('gives a WHEP viewer a credential for its own identity', async () => {
    const publisher = tokenFor(node, { room: 'turnroom', identity: 'cam2', canPublish: true });
    const pub = await postSdp(`${node.url}/whip/turnroom/cam2`, fakeOffer(), publisher);
    expect(pub.status).toBe(201);
    const res = await postSdp(
      `${node.url}/whep/turnroom/cam2`,
      fakeOffer({ direction: 'recvonly' }),
      tokenFor(node, { room: 'turnroom', identity: 'viewer-7' }),
    );
    expect(res.status).toBe(201);
    const { username, credential } = turnLink(res.headers.get('link'));
    expect(username.split(':')[1]).toBe('viewer-7');
    expect(credential).toBe(turnPassword(SECRET, username));
  });
});
