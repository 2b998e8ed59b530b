/**
 * Client side of the QMux-over-WebSocket transport, for relay-to-relay chaining: dials an
 * upstream relay offering the moq-lite versions we speak.
 *
 * The WebSocket client is `ws`, opened here and handed to @moq/qmux already connected, never
 * the runtime's global WebSocket: Node's built-in one (undici, Node >= 22) makes a second
 * upgrade request when the first is refused (seen with Node 24.22: two handshakes, so two
 * refusals in the upstream's counts and logs, for one refused dial), and a library should not
 * swap a process-wide global. `ws` makes one request and reports the refusal's HTTP status.
 */
import QmuxSession from '@moq/qmux';
import WebSocket from 'ws';
import { ALPNS } from '../wire/messages';
import { appProtocolOf } from './WebSocketListener';
import type { MoqTransport } from './MoqTransport';

/** A dialled transport and its negotiated app protocol. */
export interface DialledTransport {
  transport: MoqTransport;
  protocol: string;
}

/** QMux wire drafts offered for each moq-lite version, preferred first (the listener takes all three). */
const QMUX_DRAFTS = ['qmux-02', 'qmux-01', 'qmux-00'];

/** Connects to `url` (http(s):// or ws(s)://, path = root, query carries the token). */
export async function connectWebSocket(url: URL, timeoutMs: number): Promise<DialledTransport> {
  const wsUrl = new URL(url);
  if (wsUrl.protocol === 'http:') wsUrl.protocol = 'ws:';
  if (wsUrl.protocol === 'https:') wsUrl.protocol = 'wss:';
  const subprotocols = ALPNS.flatMap((a) => QMUX_DRAFTS.map((d) => `${d}.${a.alpn}`));
  const socket = new WebSocket(wsUrl.href, subprotocols, { perMessageDeflate: false });
  let refusal: number | undefined;
  socket.once('unexpected-response', (req, res) => {
    refusal = res.statusCode;
    req.destroy();
  });
  // Handed over while still connecting, so the upstream's first frame cannot arrive unheard.
  const session = new QmuxSession(socket as unknown as ConstructorParameters<typeof QmuxSession>[0]);
  session.closed.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      session.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`upstream ${url.host} did not answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { transport: session as unknown as MoqTransport, protocol: appProtocolOf(socket.protocol) };
  } catch (err) {
    session.close();
    socket.terminate();
    if (refusal !== undefined) throw new Error(`upstream ${url.host} refused the session: HTTP ${refusal}`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
