/**
 * The WebSocket listener: HTTP/1.1 upgrade to a WebSocket carrying QMux (the QUIC stream
 * layer over a reliable byte stream), which is what @moq/net falls back to when WebTransport
 * is unavailable, and what browsers here use. The moq-lite version is negotiated in the
 * WebSocket subprotocol (`qmux-02.moq-lite-05`, …). Refusals (bad token, no common version)
 * are plain HTTP answers: no session is created.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import QmuxSession, { selectSubprotocol } from '@moq/qmux';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../src/core/logger';
import { SessionRefused } from '../RelayAuth';
import type { SessionGrant } from '../SessionContext';
import { LISTENER_ALPNS } from '../wire/alpn';
import type { AcceptedTransport, MoqTransport } from './MoqTransport';

/** Options of {@link WebSocketListener}. */
export interface WebSocketListenerOptions {
  host: string;
  port: number;
  /** Grants or refuses a session (throws {@link SessionRefused}). */
  admit: (url: URL) => Promise<SessionGrant>;
  /** A new transport session with its grant. */
  onSession: (accepted: AcceptedTransport, grant: SessionGrant) => void;
  /** Plain HTTP routes (GET path → body). */
  routes?: Record<string, () => string | undefined>;
  /** Largest WebSocket message accepted (bytes). */
  maxPayload: number;
  log: Logger;
}

const QMUX = { protocols: [...LISTENER_ALPNS], versions: Object.fromEntries(LISTENER_ALPNS.map((a) => [a, null])) };

/** The app protocol inside a negotiated subprotocol ('qmux-02.moq-lite-04' → 'moq-lite-04'). */
export function appProtocolOf(subprotocol: string): string {
  const m = /^qmux-\d\d\.(.+)$/.exec(subprotocol);
  return m ? m[1]! : '';
}

/** HTTP server accepting QMux-over-WebSocket sessions. */
export class WebSocketListener {
  readonly #o: WebSocketListenerOptions;
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #selected = new WeakMap<http.IncomingMessage, string>();
  #port = 0;

  constructor(options: WebSocketListenerOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => this.#selected.get(req) ?? false,
    });
    this.#server = http.createServer((req, res) => this.#http(req, res));
    // The upgrade awaits the token check: a failure after it must not become an unhandled rejection.
    this.#server.on('upgrade', (req, socket, head) => {
      this.#upgrade(req, socket, head).catch((err: unknown) => {
        this.#o.log.warn('websocket upgrade failed', { error: err, peer: req.socket.remoteAddress });
        socket.destroy();
      });
    });
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** The bound port (after start). */
  get port(): number {
    return this.#port;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as { port: number }).port;
    return this.#port;
  }

  /** Stops accepting and drops open sockets. */
  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #http(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://relay');
    const route = req.method === 'GET' ? this.#o.routes?.[url.pathname] : undefined;
    const body = route?.();
    res.setHeader('access-control-allow-origin', '*');
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/plain', 'cache-control': 'no-store' }).end(body);
  }

  #refuse(socket: Duplex, status: number, message: string): void {
    const text = `${message}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
    );
    socket.destroy();
  }

  async #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'relay'}`);
    let grant: SessionGrant;
    try {
      grant = await this.#o.admit(url);
    } catch (err) {
      const status = err instanceof SessionRefused ? err.status : 500;
      this.#o.log.info('websocket session refused', { status, reason: (err as Error).message, peer: req.socket.remoteAddress });
      this.#refuse(socket, status, (err as Error).message);
      return;
    }
    const selected = selectSubprotocol(req.headers['sec-websocket-protocol'], { ...QMUX, requireProtocol: false });
    if (!selected) {
      this.#o.log.info('websocket session refused', { status: 400, reason: 'no common subprotocol', offered: req.headers['sec-websocket-protocol'] });
      this.#refuse(socket, 400, `no supported subprotocol: this relay speaks qmux-0x.<alpn> for ${LISTENER_ALPNS.join(', ')}`);
      return;
    }
    this.#selected.set(req, selected);
    this.#wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const session = QmuxSession.accept(ws as unknown as Parameters<typeof QmuxSession.accept>[0], { protocol: selected });
      this.#o.onSession(
        {
          transport: session as unknown as MoqTransport,
          protocol: appProtocolOf(selected),
          url,
          kind: 'websocket',
          peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
        },
        grant,
      );
    });
  }
}
