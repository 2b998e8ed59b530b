/**
 * The SDK MoQ player's relay liveness check against a real HTTP server: a quiet broadcast on a
 * relay that answers is not a loss; a relay that stops answering, or whose port is closed, is.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayLiveness } from '../../../clients/sdk/src/moq/RelayLiveness';
import { waitFor } from '../../../loadtest/core/waitFor';

const OPTIONS = { silenceMs: 200, probeTimeoutMs: 300 };
const servers: http.Server[] = [];
const watchers: RelayLiveness[] = [];

/** A relay stand-in: answers `GET /info` while `answering` is true, otherwise holds the request. */
async function relayStandIn(): Promise<{ url: URL; probes: () => number; setAnswering: (on: boolean) => void; close: () => Promise<void> }> {
  let answering = true;
  let probes = 0;
  const server = http.createServer((req, res) => {
    probes++;
    if (answering && req.url === '/info') res.end('{}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/room?jwt=x`),
    probes: () => probes,
    setAnswering: (on) => (answering = on),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function watch(url: URL): { gone: () => string | undefined; liveness: RelayLiveness } {
  let why: string | undefined;
  const liveness = new RelayLiveness(url, (w) => (why = w), OPTIONS);
  watchers.push(liveness);
  return { gone: () => why, liveness };
}

afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('RelayLiveness', () => {
  it('a quiet broadcast on a relay that answers is not a loss; the relay is asked only after the silence', async () => {
    const relay = await relayStandIn();
    const { gone, liveness } = watch(relay.url);
    // Media keeps arriving: the relay is never asked.
    const feeding = setInterval(() => liveness.heard(), 50);
    await new Promise((r) => setTimeout(r, 600));
    clearInterval(feeding);
    expect(relay.probes()).toBe(0);
    // Silence: the relay is asked, answers, and playback goes on.
    await waitFor(() => relay.probes() >= 2, { timeoutMs: 5000, what: 'two probes' });
    expect(gone()).toBeUndefined();
  }, 10_000);

  it('a relay that stops answering is gone within the silence plus the probe timeout', async () => {
    const relay = await relayStandIn();
    relay.setAnswering(false);
    const started = Date.now();
    const { gone } = watch(relay.url);
    const why = await waitFor(gone, { timeoutMs: 5000, what: 'the loss' });
    expect(why).toMatch(/^the MoQ relay stopped answering/);
    expect(Date.now() - started).toBeLessThan(OPTIONS.silenceMs + OPTIONS.probeTimeoutMs + 1000);
  }, 10_000);

  it('a relay whose port is closed is gone, and a closed watcher never reports', async () => {
    const relay = await relayStandIn();
    const { gone } = watch(relay.url);
    const closedEarly = watch(relay.url);
    closedEarly.liveness.close();
    await relay.close();
    expect(await waitFor(gone, { timeoutMs: 5000, what: 'the loss' })).toMatch(/stopped answering/);
    expect(closedEarly.gone()).toBeUndefined();
  }, 10_000);
});
