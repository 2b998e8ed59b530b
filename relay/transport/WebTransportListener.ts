/**
 * The WebTransport listener over HTTP/2 (TLS, extended CONNECT) using
 * @fails-components/webtransport. Its HTTP/3 transport needs a native module that cannot be
 * built here, so this serves WebTransport-over-HTTP/2 only. The moq-lite version is the
 * WebTransport protocol chosen from the client's `wt-available-protocols`.
 */
import { silenceHttp3Probe } from './quietHttp3Probe';
import crypto from 'node:crypto';
import type { Logger } from '../../src/core/logger';
import { SessionRefused } from '../RelayAuth';
import type { SessionGrant } from '../SessionContext';
import { selectAlpn } from '../wire/alpn';
import type { RelayCertificate } from './certificate';
import type { AcceptedTransport, MoqTransport } from './MoqTransport';

/** Options of {@link WebTransportListener}. */
export interface WebTransportListenerOptions {
  host: string;
  port: number;
  certificate: RelayCertificate;
  admit: (url: URL) => Promise<SessionGrant>;
  onSession: (accepted: AcceptedTransport, grant: SessionGrant) => void;
  log: Logger;
}

interface FailsSession extends MoqTransport {
  ready: Promise<void>;
  userData?: { grant: SessionGrant; protocol: string; url: string; peer: string };
}

interface FailsServer {
  ready: Promise<void>;
  startServer(): void;
  stopServer(): void;
  address(): { port: number } | null;
  setRequestCallback(cb: (args: { header: Record<string, unknown> }) => Promise<Record<string, unknown>>): void;
  sessionStream(path: string): ReadableStream<FailsSession>;
}

const SESSION_PATH = '/moq';

/** HTTP/2 server accepting WebTransport sessions. */
export class WebTransportListener {
  readonly #o: WebTransportListenerOptions;
  #server: FailsServer | undefined;
  #port = 0;

  constructor(options: WebTransportListenerOptions) {
    this.#o = options;
  }

  /** The bound port (after start). */
  get port(): number {
    return this.#port;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    // Loaded lazily: the package probes for its optional HTTP/3 module on import.
    // (A variable specifier: the package's types only resolve under the 'node' export condition.)
    const specifier = '@fails-components/webtransport';
    silenceHttp3Probe();
    const { Http2Server } = (await import(specifier)) as { Http2Server: new (o: object) => FailsServer };
    const { certificate, host, port } = this.#o;
    const server = new Http2Server({ port, host, secret: crypto.randomBytes(16).toString('hex'), cert: certificate.cert, privKey: certificate.key });
    this.#server = server;
    server.setRequestCallback(async ({ header }) => this.#request(header));
    server.startServer();
    await server.ready;
    this.#port = server.address()?.port ?? 0;
    void this.#accept(server.sessionStream(SESSION_PATH));
    return this.#port;
  }

  /** Stops the server. */
  async close(): Promise<void> {
    try {
      this.#server?.stopServer();
    } catch {
      // Not started.
    }
  }

  async #request(header: Record<string, unknown>): Promise<Record<string, unknown>> {
    const url = new URL(String(header[':path'] ?? '/'), `https://${String(header[':authority'] ?? 'relay')}`);
    let grant: SessionGrant;
    try {
      grant = await this.#o.admit(url);
    } catch (err) {
      const status = err instanceof SessionRefused ? err.status : 500;
      this.#o.log.info('webtransport session refused', { status, reason: (err as Error).message });
      return { status };
    }
    const offered = Array.isArray(header['wt-available-protocols']) ? (header['wt-available-protocols'] as string[]) : [];
    const protocol = selectAlpn(offered);
    return {
      status: 200,
      path: SESSION_PATH,
      ...(protocol ? { selectedProtocol: protocol } : {}),
      userData: { grant, protocol, url: url.href, peer: '' },
    };
  }

  async #accept(stream: ReadableStream<FailsSession>): Promise<void> {
    const reader = stream.getReader();
    for (;;) {
      const { value: session, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done || !session) return;
      session.closed.catch(() => undefined);
      session.ready.then(
        () => {
          const data = session.userData;
          if (!data) {
            session.close({ closeCode: 1, reason: 'no session data' });
            return;
          }
          this.#o.onSession({ transport: session, protocol: data.protocol, url: new URL(data.url), kind: 'webtransport-h2', peer: data.peer }, data.grant);
        },
        (err: unknown) => this.#o.log.debug('webtransport session failed before ready', { error: err }),
      );
    }
  }
}
