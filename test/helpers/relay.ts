/** Starts standalone MoQ relays (no SFU) on free ports, and a raw moq-lite client for malformed-input tests. */
import '../../relay/polyfills';
import QmuxSession from '@moq/qmux';
import WebSocket from 'ws';
import { RelayServer } from '../../relay/RelayServer';
import { relayConfigSchema, type RelayConfigInput } from '../../relay/RelayConfig';
import type { RelayDirectory } from '../../relay/RelayDirectory';
import type { MoqTransport } from '../../relay/transport/MoqTransport';
import { Encoder } from '../../relay/wire/Encoder';
import { TokenService } from '../../src/auth/tokens';
import { createLogger } from '../../src/core/logger';

/** The secret every test relay shares (so tokens work on all of them). */
export const tokens = new TokenService('moq-test-secret-0123456789', 600);

/** Starts a relay on free ports. */
export async function startRelay(config: RelayConfigInput = {}, directory?: RelayDirectory, name = 'relay'): Promise<RelayServer> {
  const relay = new RelayServer({
    config: relayConfigSchema.parse({ port: 0, ...config, webtransport: { enabled: false, port: 0, ...config.webtransport } }),
    tokens,
    directory,
    name,
    log: createLogger(`test-${name}`),
  });
  await relay.start();
  return relay;
}

/** A token for `room` with the given grants. */
export function token(room: string, grants: { canPublish?: boolean; canSubscribe?: boolean; identity?: string } = {}, ttl?: number): string {
  return tokens.issue({ room, identity: grants.identity ?? 'tester', canPublish: grants.canPublish ?? false, canSubscribe: grants.canSubscribe ?? true }, ttl);
}

/**
 * A raw QMux session offering exactly `subprotocols` ('qmux-01.moq-lite-04'; a bare 'qmux-01'
 * negotiates no moq version). Refusals reject with `status` (HTTP status of the upgrade).
 */
export async function rawSession(url: string, subprotocols: string[]): Promise<MoqTransport> {
  // `ws`, not Node's built-in WebSocket (see moqClient.ts).
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
  const wsUrl = url.replace(/^http/, 'ws');
  // Probe the upgrade first so a refusal surfaces its HTTP status.
  await new Promise<void>((resolve, reject) => {
    const probe = new WebSocket(wsUrl, subprotocols, { perMessageDeflate: false });
    probe.once('open', () => {
      probe.terminate();
      resolve();
    });
    probe.once('error', reject);
    probe.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
  const bare = subprotocols.every((p) => !p.includes('.'));
  const session = new QmuxSession(
    wsUrl,
    bare ? { protocols: [], versions: {}, requireProtocol: false } : { protocols: subprotocols, versions: {}, requireProtocol: true },
  );
  session.closed.catch(() => undefined);
  await session.ready;
  return session as unknown as MoqTransport;
}

/** The close code a session ended with (graceful or not). */
export async function closeCodeOf(transport: MoqTransport): Promise<number | undefined> {
  try {
    const info = (await transport.closed) as { closeCode?: number };
    return info?.closeCode;
  } catch (err) {
    const e = err as { closeCode?: number; message?: string };
    if (typeof e.closeCode === 'number') return e.closeCode;
    const m = /closed: (\d+)/.exec(e.message ?? '');
    return m ? Number(m[1]) : undefined;
  }
}

/** Bytes: varints then raw bytes, in order. */
export function bytes(...parts: Array<number | bigint | Uint8Array>): Uint8Array {
  const e = new Encoder();
  for (const p of parts) {
    if (p instanceof Uint8Array) e.bytes(p);
    else e.varint(p);
  }
  return e.finish();
}
