import { describe, expect, it } from 'vitest';
import { RelayAuth, SessionRefused } from '../../../relay/RelayAuth';
import { TokenService } from '../../../src/auth/tokens';
import { BanMirror, InMemoryBanStore } from '../../../src/moderation/BanStore';
import { RoomAdmission } from '../../../src/moderation/RoomAdmission';
import { RedisKeys } from '../../../src/redis/redisKeys';

const ban = (room: string, identity: string, ms: number) => ({ room, identity, reason: 'kicked', createdAt: Date.now(), expiresAt: Date.now() + ms });

describe('bans', () => {
  it('the mirror forgets bans once they end and lists the live ones sorted', () => {
    const m = new BanMirror();
    m.set(ban('r', 'b', 60_000));
    m.set(ban('r', 'a', 60_000));
    m.set(ban('q', 'z', 60_000));
    m.set(ban('r', 'gone', -1));
    expect(m.list().map((b) => `${b.room}/${b.identity}`)).toEqual(['q/z', 'r/a', 'r/b']);
    expect(m.get('r', 'gone')).toBeUndefined();
    expect(m.get('r', 'a', Date.now() + 120_000)).toBeUndefined();
    expect(m.list('r').map((b) => b.identity)).toEqual(['b']);
  });

  it('remembers the latest token expiry an identity entered a room with', async () => {
    const tokens = new TokenService('unit-secret-0123456789', 60);
    const admission = new RoomAdmission(new InMemoryBanStore());
    admission.assert(await tokens.verify(tokens.issue({ room: 'r', identity: 'al' }, 100)), 'r');
    await admission.check(await tokens.verify(tokens.issue({ room: 'r', identity: 'al' }, 300)), 'r');
    admission.assert(await tokens.verify(tokens.issue({ room: 'r', identity: 'al' }, 200)), 'r');
    const exp = admission.tokenExpiry('r', 'al')!;
    expect(exp - Date.now()).toBeGreaterThan(298_000);
    expect(admission.tokenExpiry('other', 'al')).toBeUndefined();
  });

  it('the MoQ relay refuses a banned identity with 403 for its token room or any room its path names', async () => {
    const store = new InMemoryBanStore();
    const tokens = new TokenService('unit-secret-0123456789', 60, {}, new RoomAdmission(store));
    await store.add(ban('studio', 'cam', 60_000));
    const auth = new RelayAuth({ tokens, requireAuth: true });
    const status = async (path: string, t: string) => {
      try {
        await auth.authorize(new URL(`http://relay${path}?jwt=${t}`));
        return 200;
      } catch (err) {
        return (err as SessionRefused).status;
      }
    };
    expect(await status('/studio', tokens.issue({ room: 'studio', identity: 'cam', canPublish: true }))).toBe(403);
    expect(await status('/live/studio', tokens.issue({ room: '*', identity: 'cam' }))).toBe(403);
    expect(await status('/studio', tokens.issue({ room: 'studio', identity: 'other' }))).toBe(200);
    expect(await status('/elsewhere', tokens.issue({ room: '*', identity: 'cam' }))).toBe(200);
  });

  it('Redis ban keys share the room hash tag and index members round-trip odd names', () => {
    const k = new RedisKeys('p:');
    expect(k.ban('a b', 'x/y')).toBe('p:{r:a%20b}:ban:x%2Fy');
    expect(k.parseBanMember(k.banMember('a b', 'x y'))).toEqual({ room: 'a b', identity: 'x y' });
    expect(k.parseBanMember('bad')).toBeUndefined();
  });
});
