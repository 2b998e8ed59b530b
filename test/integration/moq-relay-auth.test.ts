/** Relay auth: the same JWTs as the SFU, checked at session set-up (WebSocket and WebTransport). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups } from '../helpers/moqClient';
import { startRelay, token, tokens } from '../helpers/relay';
import { waitFor } from '../helpers/waitFor';
import { TokenService } from '../../src/auth/tokens';
import type { RelayServer } from '../../relay/RelayServer';

let relay: RelayServer;
beforeAll(async () => {
  relay = await startRelay({ webtransport: { enabled: true, port: 0 } });
}, 30_000);
afterAll(() => relay?.close());

const forged = new TokenService('another-secret-0123456789', 600).issue({ room: 'auth', identity: 'mallory', canPublish: true, canSubscribe: true });

describe('relay auth', () => {
  const bad: Array<[string, () => string]> = [
    ['a forged signature', () => forged],
    ['an expired token', () => tokens.issue({ room: 'auth', identity: 'late', canSubscribe: true }, -1)],
    ['garbage', () => 'not.a.jwt'],
    ['no token', () => ''],
  ];
  for (const transport of ['websocket', 'webtransport'] as const) {
    for (const [name, make] of bad) {
      it(`refuses ${name} at session set-up over ${transport}`, async () => {
        const refused = relay.stats.sessionsRefused;
        const before = relay.stats.sessionsTotal;
        await expect(connectMoq(relay.addresses, make(), { transport, timeoutMs: 5_000 })).rejects.toBeDefined();
        expect(relay.stats.sessionsRefused).toBe(refused + 1);
        expect(relay.stats.sessionsTotal).toBe(before);
      }, 15_000);
    }
  }

  it('refuses a token whose room does not cover the session path', async () => {
    await expect(connectMoq(relay.addresses, token('auth'), { root: 'elsewhere', timeoutMs: 5_000 })).rejects.toBeDefined();
  });

  it('lets a publish-only token publish but not subscribe, and a subscribe-only token subscribe but not publish', async () => {
    const publisher = await connectMoq(relay.addresses, token('auth', { canPublish: true, canSubscribe: false }));
    const listener = await connectMoq(relay.addresses, token('auth', { canPublish: false, canSubscribe: true }));
    try {
      const pub = publishTestBroadcast(publisher, 'auth/cam');
      const sneaky = publishTestBroadcast(listener, 'auth/sneaky');
      await waitFor(() => relay.origin.get('auth/cam'), { what: 'publish' });
      // The subscribe-only session is never asked for its broadcasts.
      expect(relay.origin.get('auth/sneaky')).toBeUndefined();
      const denied = publisher.consume(Moq.Path.from('auth/cam')).track('video').subscribe({ priority: 1 });
      await expect(readGroups(denied, () => true, 5_000)).rejects.toThrow(/remote error: 58/);
      const allowed = listener.consume(Moq.Path.from('auth/cam')).track('video').subscribe({ priority: 1 });
      expect((await readGroups(allowed, (g) => g.length >= 2, 10_000)).length).toBe(2);
      // Outside the token's room.
      const outside = listener.consume(Moq.Path.from('other/cam')).track('video').subscribe({ priority: 1 });
      await expect(readGroups(outside, () => true, 5_000)).rejects.toThrow(/remote error: 58/);
      pub.stop();
      sneaky.stop();
    } finally {
      publisher.close();
      listener.close();
    }
  }, 30_000);
});
