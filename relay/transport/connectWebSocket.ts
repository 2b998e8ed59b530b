/**
 * Client side of the QMux-over-WebSocket transport, for relay-to-relay chaining: dials an
 * upstream relay offering the moq-lite versions we speak.
 */
import QmuxSession from '@moq/qmux';
import WebSocket from 'ws';
import { ALPNS } from '../wire/messages';
import { appProtocolOf } from './WebSocketListener';
import type { MoqTransport } from './MoqTransport';

/** QMux drafts offered, newest first. */
const QMUX_VERSIONS = ['qmux-02', 'qmux-01', 'qmux-00'];

/** A dialled transport and its negotiated app protocol. */
export interface DialledTransport {
  transport: MoqTransport;
  protocol: string;
}

/** Connects to `url` (http(s):// or ws(s)://, path = root, query carries the token). */
export async function connectWebSocket(url: URL, timeoutMs: number): Promise<DialledTransport> {
  const wsUrl = new URL(url);
  if (wsUrl.protocol === 'http:') wsUrl.protocol = 'ws:';
  if (wsUrl.protocol === 'https:') wsUrl.protocol = 'wss:';
  const protocols = ALPNS.flatMap((a) => QMUX_VERSIONS.map((v) => `${v}.${a.alpn}`));
  const ws = new WebSocket(wsUrl, protocols, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upstream refused the session: HTTP ${res.statusCode}`)));
  });
  ws.on('error', () => undefined);
  const session = new QmuxSession(ws as unknown as ConstructorParameters<typeof QmuxSession>[0]);
  await session.ready;
  return { transport: session as unknown as MoqTransport, protocol: appProtocolOf(ws.protocol) };
}
