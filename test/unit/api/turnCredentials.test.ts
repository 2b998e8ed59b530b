import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { iceServerLinks, turnPassword, TurnCredentials } from '../../../src/turn/TurnCredentials';

describe('TURN credentials (coturn REST API scheme)', () => {
  const turn = new TurnCredentials({
    urls: ['stun:stun.example.com:3478', 'turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp'],
    secret: 'coturn-shared-secret',
    ttlSeconds: 3600,
  });

  it('uses username "<expiry>:<identity>" and password base64(HMAC-SHA1(secret, username))', () => {
    const now = Date.UTC(2026, 5, 1);
    const c = turn.issue('alice', now);
    expect(c.username).toBe(`${now / 1000 + 3600}:alice`);
    expect(c.credential).toBe(crypto.createHmac('sha1', 'coturn-shared-secret').update(c.username).digest('base64'));
    expect(turnPassword('coturn-shared-secret', c.username)).toBe(c.credential);
    expect(c.expiresAt).toBe(now / 1000 + 3600);
  });

  it('gives STUN URLs without and TURN URLs with a credential', () => {
    const servers = turn.iceServers('bob');
    expect(servers[0]).toEqual({ urls: ['stun:stun.example.com:3478'] });
    expect(servers[1]!.urls).toEqual(['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349?transport=tcp']);
    expect(servers[1]!.username).toMatch(/^\d+:bob$/);
  });

  it('renders WHIP/WHEP ice-server Link headers', () => {
    const links = iceServerLinks([{ urls: ['turn:t.example:3478?transport=udp'], username: '1:a"b', credential: 'c' }, { urls: ['stun:s.example'] }]);
    expect(links).toEqual([
      '<turn:t.example:3478?transport=udp>; rel="ice-server"; username="1:a\\"b"; credential="c"; credential-type="password"',
      '<stun:s.example>; rel="ice-server"',
    ]);
  });
});
