/**
 * Client side of the QMux-over-WebSocket transport, for relay-to-relay chaining: dials an
 * upstream relay offering the moq-lite versions we speak.
 */
import QmuxSession from '@moq/qmux';
import WebSocket from 'ws';
import { ALPNS } from '../wire/messages';
import type { MoqTransport } from './MoqTransport';

/** A dialled transport and its negotiated app protocol. */
export interface DialledTransport {
  transport: MoqTransport;
  protocol: string;
}

/** Connects to `url` (http(s):// or ws(s)://, path = root, query carries the token). */
export async function connectWebSocket(url: URL, timeoutMs: number): Promise<DialledTransport> {
  // @moq/qmux dials through the global WebSocket, which Node 20 lacks (Node 22 has one).
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const wsUrl = new URL(url);
  if (wsUrl.protocol === 'http:') wsUrl.protocol = 'ws:';
  if (wsUrl.protocol === 'https:') wsUrl.protocol = 'wss:';
  const session = new QmuxSession(wsUrl.href, {
    protocols: ALPNS.map((a) => a.alpn),
    versions: Object.fromEntries(ALPNS.map((a) => [a.alpn, null])),
    requireProtocol: true,
  });
  session.closed.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      session.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`upstream ${url.host} did not answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    session.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { transport: session as unknown as MoqTransport, protocol: session.protocol };
}
