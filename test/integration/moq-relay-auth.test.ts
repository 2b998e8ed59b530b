/** Relay auth: the same JWTs as the SFU, checked at session set-up (WebSocket and WebTransport). */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups } from '../../loadtest/core/moqClient';
import { startRelay, token, tokens } from '../helpers/relay';
import { waitFor } from '../../loadtest/core/waitFor';
import { TokenService } from '../../src/auth/tokens';
import type { RelayServer } from '../../relay/RelayServer';

let relay: RelayServer;
beforeAll(async () => {
  relay = await startRelay({ webtransport: { enabled: true, port: 0 } });
}, 30_000);
afterAll(() => relay?.close());

/** The HTTP status a WebSocket session set-up at `root` with `jwt` gets (101 when accepted). */
function upgradeStatus(root: string, jwt: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${relay.addresses.url}/${root}?jwt=${encodeURIComponent(jwt)}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': 'qmux-01.moq-lite-04',
      },
      timeout: 5_000,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('timeout', () => req.destroy(new Error('upgrade timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** connectMoq's rejection, which must be the relay's refusal, not the client giving up. */
async function refusal(attempt: Promise<unknown>, timeoutMs: number): Promise<Error> {
  const started = Date.now();
  const err = await attempt.then(
    () => new Error('the session was accepted'),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  expect(err.message).not.toBe('the session was accepted');
  expect(err.name).not.toMatch(/TimeoutError|AbortError/);
  expect(Date.now() - started).toBeLessThan(timeoutMs);
  return err;
}

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
        await refusal(connectMoq(relay.addresses, make(), { transport, timeoutMs: 15_000 }), 15_000);
        expect(relay.stats.sessionsRefused).toBe(refused + 1);
        expect(relay.stats.sessionsTotal).toBe(before);
        // The refusal's code, as the set-up answer carries it.
        expect(await upgradeStatus('', make())).toBe(401);
        expect(relay.stats.sessionsRefused).toBe(refused + 2);
      }, 15_000);
    }
  }

  it('refuses a token whose room does not cover the session path (403)', async () => {
    const refused = relay.stats.sessionsRefused;
    const before = relay.stats.sessionsTotal;
    await refusal(connectMoq(relay.addresses, token('auth'), { root: 'elsewhere', timeoutMs: 15_000 }), 15_000);
    expect(relay.stats.sessionsRefused).toBe(refused + 1);
    expect(await upgradeStatus('elsewhere', token('auth'))).toBe(403);
    expect(relay.stats.sessionsRefused).toBe(refused + 2);
    expect(relay.stats.sessionsTotal).toBe(before);
    // The same token at its own path is accepted: the refusal was about the path.
    expect(await upgradeStatus('auth', token('auth'))).toBe(101);
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
