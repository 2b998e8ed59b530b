import { describe, expect, it } from 'vitest';
import { RelayAuth, SessionRefused } from '../../../relay/RelayAuth';
import { TokenService } from '../../../src/auth/tokens';

const tokens = new TokenService('unit-secret-0123456789', 60);
const auth = new RelayAuth({ tokens, requireAuth: true });
const url = (path: string, jwt?: string) => new URL(`http://relay${path}${jwt ? `?jwt=${jwt}` : ''}`);

describe('RelayAuth', () => {
  it('maps a room token to a path prefix and its grants', async () => {
    const t = tokens.issue({ room: 'studio', identity: 'cam', canPublish: true, canSubscribe: false });
    expect(await auth.authorize(url('/studio', t))).toEqual({ identity: 'cam', root: 'studio', prefix: 'studio', canPublish: true, canSubscribe: false });
    // A broader root is fine: operations are checked against the prefix.
    expect((await auth.authorize(url('/', t))).root).toBe('');
    expect((await auth.authorize(url('/', tokens.issue({ room: '*', identity: 'ops' })))).prefix).toBe('');
  });

  it('refuses missing, invalid and foreign-room tokens with HTTP statuses', async () => {
    const refuse = async (u: URL) => {
      try {
        await auth.authorize(u);
      } catch (err) {
        return (err as SessionRefused).status;
      }
      return 200;
    };
    expect(await refuse(url('/studio'))).toBe(401);
    expect(await refuse(url('/studio', 'x.y.z'))).toBe(401);
    expect(await refuse(url('/other', tokens.issue({ room: 'studio', identity: 'a' })))).toBe(403);
    expect(await refuse(url('/studio', tokens.issue({ room: 'studio', identity: 'a', canSubscribe: false })))).toBe(403);
  });

  it("puts a token's room under the node's bridge prefix", async () => {
    const prefixed = new RelayAuth({ tokens, requireAuth: true, roomPrefix: 'live' });
    const t = tokens.issue({ room: 'studio', identity: 'viewer', canSubscribe: true });
    expect(await prefixed.authorize(url('/live/studio', t))).toMatchObject({ root: 'live/studio', prefix: 'live/studio' });
    await expect(prefixed.authorize(url('/studio', t))).rejects.toThrow(SessionRefused);
    await expect(prefixed.authorize(url('/live/other', t))).rejects.toThrow(SessionRefused);
  });

  it('grants everything to tokenless sessions only when auth is off', async () => {
    expect(await new RelayAuth({ tokens, requireAuth: false }).authorize(url('/x'))).toMatchObject({ prefix: '', canPublish: true, canSubscribe: true });
  });
});
