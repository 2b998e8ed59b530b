/**
 * The WebTransport-over-HTTP/3 listener (UDP): a {@link QuicEndpoint} with the relay's current
 * certificate and ALPN `h3`, an {@link Http3Connection} per connection, and admission of each
 * extended CONNECT through the relay's token check. The moq-lite version is the protocol chosen
 * from the client's `wt-available-protocols` (answered in `wt-protocol`); a client that offers
 * none gets a session with no protocol, which the relay refuses with VERSION_NEGOTIATION_FAILED.
 */
import type { Logger } from '../../src/core/logger';
import { SessionRefused } from '../RelayAuth';
import type { SessionGrant } from '../SessionContext';
import { selectAlpn } from '../wire/alpn';
import type { CertificateStore } from './CertificateStore';
import type { RelayCertificate } from './certificate';
import type { AcceptedTransport } from './MoqTransport';
import { Http3Connection } from './h3/Http3Connection';
import { QuicEndpoint, type QuicEndpointStats } from './quic/QuicEndpoint';
import { loadQuiche, type QuicheConfig } from './quic/quiche';

/** QUIC limits of the listener. */
export interface Http3Limits {
  retry: boolean;
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Streams of each direction a client may have open at once. */
  maxStreamsPerConnection: number;
}

/** Options of {@link Http3Listener}. */
export interface Http3ListenerOptions {
  host: string;
  port: number;
  certificates: CertificateStore;
  limits: Http3Limits;
  admit: (url: URL) => Promise<SessionGrant>;
  onSession: (accepted: AcceptedTransport, grant: SessionGrant) => void;
  log: Logger;
}

/** UDP listener serving WebTransport over HTTP/3. */
export class Http3Listener {
  readonly #o: Http3ListenerOptions;
  readonly #endpoint: QuicEndpoint;
  readonly #connections = new Set<Http3Connection>();
  readonly #configs = new WeakMap<RelayCertificate, QuicheConfig>();
  #port = 0;

  constructor(options: Http3ListenerOptions) {
    this.#o = options;
    const l = options.limits;
    this.#endpoint = new QuicEndpoint({
      host: options.host,
      port: options.port,
      config: () => this.#config(options.certificates.current),
      retry: l.retry,
      maxConnections: l.maxConnections,
      maxConnectionsPerAddress: l.maxConnectionsPerAddress,
      keepAliveMs: Math.round(l.idleTimeoutMs / 3),
      onConnection: (conn) => {
        const h3 = new Http3Connection(conn, {
          onConnect: async (req) => {
            let grant: SessionGrant;
            try {
              grant = await options.admit(req.url);
            } catch (err) {
              const status = err instanceof SessionRefused ? err.status : 500;
              options.log.info('webtransport session refused', { status, reason: (err as Error).message, peer: `${conn.peer.host}:${conn.peer.port}` });
              return { status, reason: (err as Error).message };
            }
            const protocol = selectAlpn(req.protocols);
            return {
              status: 200,
              protocol,
              accept: (session) =>
                options.onSession({ transport: session, protocol, url: req.url, kind: 'webtransport-h3', peer: `${conn.peer.host}:${conn.peer.port}` }, grant),
            };
          },
          onClosed: (info) => {
            this.#connections.delete(h3);
            if (info.code !== 0 && info.code !== 0x100) options.log.debug('QUIC connection closed', { peer: `${conn.peer.host}:${conn.peer.port}`, ...info });
          },
        });
        this.#connections.add(h3);
      },
      log: options.log,
    });
  }

  /** The bound UDP port (after start). */
  get port(): number {
    return this.#port;
  }

  /** QUIC counters (datagrams, refusals, connections). */
  get stats(): QuicEndpointStats {
    return this.#endpoint.stats;
  }

  /** Starts listening; resolves with the bound UDP port. */
  async start(): Promise<number> {
    loadQuiche();
    this.#port = await this.#endpoint.start();
    return this.#port;
  }

  /** Starts draining: GOAWAY on every connection and a drain capsule to each session; no new requests are served. */
  drain(): void {
    for (const c of this.#connections) c.goaway();
  }

  /** Closes every connection at once (CONNECTION_CLOSE with H3_NO_ERROR), lets the close frames go out, then closes the socket. */
  async close(): Promise<void> {
    await this.#endpoint.close(0x100, 'relay shutting down');
  }

  #config(cert: RelayCertificate): QuicheConfig {
    const cached = this.#configs.get(cert);
    if (cached) return cached;
    const quiche = loadQuiche();
    const l = this.#o.limits;
    const cfg = quiche.Config.withBoringSslCtx(false, false, null, [Buffer.from(cert.key)], [Buffer.from(cert.cert)], null);
    cfg.setApplicationProtos(['h3']);
    cfg.setMaxIdleTimeout(l.idleTimeoutMs);
    cfg.setMaxRecvUdpPayloadSize(1500);
    cfg.setMaxSendUdpPayloadSize(1350);
    cfg.setInitialMaxData(16 * 1024 * 1024);
    cfg.setInitialMaxStreamDataBidiLocal(1024 * 1024);
    cfg.setInitialMaxStreamDataBidiRemote(1024 * 1024);
    cfg.setInitialMaxStreamDataUni(1024 * 1024);
    cfg.setInitialMaxStreamsBidi(l.maxStreamsPerConnection);
    cfg.setInitialMaxStreamsUni(l.maxStreamsPerConnection);
    cfg.setDisableActiveMigration(true);
    cfg.enableDgram(true, 256, 256);
    this.#configs.set(cert, cfg);
    return cfg;
  }
}
