import { describe, expect, it } from 'vitest';
import { TokenService, grantsRoom } from '../../src/auth/tokens';
import { UnauthorizedError } from '../../src/core/errors';

const tokens = new TokenService('a-secret-of-enough-length', 60);

describe('tokens', () => {
  it('round-trips grants with defaults applied', () => {
    const t = tokens.verify(tokens.issue({ room: 'r1', identity: 'alice', canPublish: true }));
    expect(t).toMatchObject({ room: 'r1', identity: 'alice', canPublish: true, canSubscribe: true, canPublishData: false, admin: false });
    expect(t.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('rejects a token signed with another secret', () => {
    const other = new TokenService('another-secret-of-length', 60).issue({ room: 'r1', identity: 'eve', admin: true });
    expect(() => tokens.verify(other)).toThrowError(UnauthorizedError);
  });

  it('rejects a tampered payload', () => {
    const [h, , s] = tokens.issue({ room: 'r1', identity: 'bob' }).split('.');
    const forged = Buffer.from(JSON.stringify({ room: '*', identity: 'bob', admin: true, exp: 9e9 })).toString('base64url');
    expect(() => tokens.verify(`${h}.${forged}.${s}`)).toThrowError(/signature/);
  });

  it('rejects an expired token', () => {
    const expired = tokens.issue({ room: 'r1', identity: 'bob' }, -5);
    expect(() => tokens.verify(expired)).toThrowError(/expired/);
  });

  it('rejects alg=none and malformed tokens', () => {
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"room":"r","identity":"x","exp":9e9}').toString('base64url')}.`;
    expect(() => tokens.verify(none)).toThrowError(UnauthorizedError);
    expect(() => tokens.verify('not-a-token')).toThrowError(/malformed/);
  });

  it('matches the room grant, with * for any room', () => {
    expect(grantsRoom(tokens.verify(tokens.issue({ room: '*', identity: 'a' })), 'x')).toBe(true);
    expect(grantsRoom(tokens.verify(tokens.issue({ room: 'a', identity: 'a' })), 'b')).toBe(false);
  });
});
