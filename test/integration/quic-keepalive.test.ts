/**
 * QUIC liveness of the relay's WebTransport over HTTP/3: a quiet session outlives the idle timeout
 * (the relay pings connections that sent nothing for a third of it), and a client notices a relay
 * that vanished without a word (SIGKILL: no CONNECTION_CLOSE) within that timeout instead of
 * hanging — the same timeout a browser's QUIC stack follows, as it takes the smaller of both ends'.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connectWebTransportH3 } from '../../relay/transport/connectWebTransportH3';
import { TokenService } from '../../src/auth/tokens';
import { startRelayProcess, type RelayProcess } from '../../loadtest/core/relayProcess';
import { waitFor } from '../../loadtest/core/waitFor';

const SECRET = 'quic-keepalive-secret-0123456789';
const IDLE_MS = 1500;

let relay: RelayProcess | undefined;

afterAll(() => relay?.kill());

describe('QUIC keepalive and idle timeout (relay process)', () => {
  it('a quiet session outlives the idle timeout; a SIGKILLed relay is noticed within it', async () => {
    relay = await startRelayProcess({ secret: SECRET, relayYaml: `    http3:\n      idleTimeoutMs: ${IDLE_MS}` });
    const jwt = new TokenService(SECRET, 600).issue({ room: 'quiet', identity: 'idle-client', canPublish: false, canSubscribe: true });
    // The client's own idle timeout (10 s by default) is longer: the relay's 1.5 s is what both ends use.
    const { transport } = await connectWebTransportH3(new URL(`${relay.url}/quiet?jwt=${jwt}`), 10_000);
    let closedAt: number | undefined;
    const noteClosed = () => (closedAt ??= Date.now());
    transport.closed.then(noteClosed, noteClosed);

    // Three idle timeouts with nothing to say: only the relay's PINGs keep the connection alive.
    await new Promise((r) => setTimeout(r, 3 * IDLE_MS));
    expect(closedAt, 'the quiet session was closed by the idle timeout').toBeUndefined();

    const killedAt = Date.now();
    relay.kill();
    relay = undefined;
    await waitFor(() => closedAt, { timeoutMs: 4 * IDLE_MS, what: 'the client to notice the vanished relay' });
    // Idle timeout, plus a margin for a loaded machine (quiche may wait up to 3 PTO past it).
    expect(closedAt! - killedAt).toBeLessThan(IDLE_MS + 1500);
  }, 40_000);
});
