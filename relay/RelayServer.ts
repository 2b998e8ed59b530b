/**
 * The MoQ relay: accepts moq-lite sessions over WebSocket (QMux) and WebTransport over HTTP/2,
 * serves broadcasts announced by publishing sessions or created in-process, and pulls missing
 * broadcasts from upstream relays found through a {@link RelayDirectory}. Knows nothing about
 * media: tracks carry opaque frames.
 */
import crypto from 'node:crypto';
import type { Logger } from '../src/core/logger';
import './polyfills';
import { Broadcast, type BroadcastSource } from './model/Broadcast';
import { Origin } from './Origin';
import { RelayAuth, SessionRefused, type TokenVerifier } from './RelayAuth';
import type { RelayConfig } from './RelayConfig';
import { InMemoryRelayDirectory, type RelayDirectory } from './RelayDirectory';
import { RelayStats } from './RelayStats';
import { IetfSession, negotiatePreAlpnSetup } from './IetfSession';
import { Session } from './Session';
import type { SessionContext, SessionGrant, SessionLimits } from './SessionContext';
import { SessionCode } from './errors';
import { loadCertificate, type RelayCertificate } from './transport/certificate';
import { CertificateStore } from './transport/CertificateStore';
import { Http3Listener } from './transport/Http3Listener';
import { connectWebSocket } from './transport/connectWebSocket';
import { connectWebTransportH3 } from './transport/connectWebTransportH3';
import type { AcceptedTransport } from './transport/MoqTransport';
import { WebSocketListener } from './transport/WebSocketListener';
import { WebTransportListener } from './transport/WebTransportListener';
import { UpstreamPool } from './UpstreamPool';
import { isIetfAlpn, LISTENER_ALPNS } from './wire/alpn';
import { versionName, versionOfAlpn } from './wire/messages';

/** Issues the short-lived token a relay presents to an upstream relay (the node's TokenService). */
export interface TokenIssuer {
  issue(grants: { room: string; identity: string; canPublish?: boolean; canSubscribe?: boolean }, ttlSeconds?: number): string;
}

/** Options of {@link RelayServer}. */
export interface RelayServerOptions {
  config: RelayConfig;
  /** Verifies session tokens and mints upstream tokens (same secret as the SFU). */
  tokens: TokenVerifier & TokenIssuer;
  /** Where broadcasts live across relays (default: in-memory with the config's static routes). */
  directory?: RelayDirectory;
  /** Name used in upstream tokens and logs. */
  name?: string;
  /** Path prefix under which a token's room lives (inside a node: `moq.bridge.prefix`). */
  roomPrefix?: string;
  log: Logger;
}

/** Addresses of a started relay. */
export interface RelayAddresses {
  /** Base URL of the WebSocket listener (http://host:port); clients use it as the session URL. */
  url: string;
  /** https://host:port of the WebTransport-over-HTTP/3 (UDP) listener, when enabled. */
  http3Url?: string;
  /** https://host:port of the WebTransport (HTTP/2) listener, when enabled. */
  webtransportUrl?: string;
  /** SHA-256 fingerprint (hex) of the WebTransport certificate, when enabled. */
  fingerprint?: string;
}

/** A running relay. */
export class RelayServer {
  readonly origin = new Origin();
  readonly stats = new RelayStats();
  readonly directory: RelayDirectory;
  /** This relay's moq-lite origin id (hop chains). */
  readonly originId: bigint;
  readonly #config: RelayConfig;
  readonly #tokens: TokenVerifier & TokenIssuer;
  readonly #auth: RelayAuth;
  readonly #log: Logger;
  readonly #name: string;
  readonly #sessions = new Set<Session | IetfSession>();
  readonly #upstream: UpstreamPool;
  readonly #context: SessionContext;
  #ws: WebSocketListener | undefined;
  #wt: WebTransportListener | undefined;
  #h3: Http3Listener | undefined;
  #certificates: CertificateStore | undefined;
  #certificate: RelayCertificate | undefined;
  #addresses: RelayAddresses | undefined;
  #nextSessionId = 1;
  #closed = false;

  constructor(options: RelayServerOptions) {
    this.#config = options.config;
    this.#tokens = options.tokens;
    this.#log = options.log;
    this.#name = options.name ?? 'relay';
    this.directory = options.directory ?? new InMemoryRelayDirectory(options.config.upstreams);
    this.originId = BigInt('0x' + crypto.randomBytes(8).toString('hex')) & ((1n << 62n) - 1n) || 1n;
    this.#auth = new RelayAuth({ tokens: options.tokens, requireAuth: options.config.requireAuth, roomPrefix: options.roomPrefix });
    const limits: SessionLimits = {
      maxMessageBytes: this.#config.maxMessageBytes,
      maxFrameBytes: this.#config.maxFrameBytes,
      staleGroupMs: this.#config.staleGroupMs,
      maxSubscriptions: this.#config.maxSubscriptionsPerSession,
      requestTimeoutMs: this.#config.requestTimeoutMs,
    };
    this.#context = {
      origin: this.origin,
      resolve: (path) => this.#resolve(path),
      createBroadcast: (path, hops, source) => this.#newBroadcast(path, source, hops),
      limits,
      originId: this.originId,
      stats: this.stats,
      log: this.#log,
    };
    this.#upstream = new UpstreamPool({
      directory: this.directory,
      selfUrls: () => (this.#addresses ? [this.#addresses.url, this.#publicUrl()] : []),
      dial: (url) => this.#dial(url),
      createBroadcast: (path, session) => this.#newBroadcast(path, session.subscriber, []),
      log: this.#log.child('upstream'),
    });
    this.origin.on('announced', (b) => {
      this.directory.register(b.path, this.#publicUrl()).catch((err: unknown) => this.#log.warn('directory register failed', { path: b.path, error: err }));
    });
    this.origin.on('unannounced', (b) => {
      this.directory.unregister(b.path, this.#publicUrl()).catch((err: unknown) => this.#log.warn('directory unregister failed', { path: b.path, error: err }));
    });
  }

  /** Addresses (after start). */
  get addresses(): RelayAddresses {
    if (!this.#addresses) throw new Error('relay not started');
    return this.#addresses;
  }

  /** Sessions currently open. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** SHA-256 (hex) of the certificate new WebTransport-over-HTTP/3 connections get; undefined without that listener. */
  get certificateSha256(): string | undefined {
    return this.#h3 ? this.#certificates?.current.fingerprint : undefined;
  }

  /** QUIC counters of the HTTP/3 listener (datagrams, Retry, refusals, connections). */
  get quicStats(): import('./transport/quic/QuicEndpoint').QuicEndpointStats | undefined {
    return this.#h3?.stats;
  }

  /** Replaces the HTTP/3 certificate now (open sessions keep theirs); resolves with the new SHA-256. */
  async rotateCertificate(): Promise<string> {
    if (!this.#certificates) throw new Error('the HTTP/3 listener is not enabled');
    return (await this.#certificates.rotate()).fingerprint;
  }

  /** The open sessions: transport kind, negotiated version, role and the peer's token identity (not served over HTTP). */
  sessionList(): Array<{ id: number; kind: string; version: string; role: 'server' | 'client'; identity: string }> {
    return [...this.#sessions].map((s) => ({ id: s.id, kind: s.kind, version: versionNameOf(s), role: s.role, identity: s.grant.identity }));
  }

  /** What `GET /info` serves: transports, certificate pin and session counts. */
  info(): Record<string, unknown> {
    const a = this.#addresses;
    return {
      websocket: a?.url,
      webtransport: a?.http3Url ? { url: a.http3Url, certificateSha256: this.certificateSha256, draft: 'draft02', protocols: [...LISTENER_ALPNS] } : undefined,
      protocols: [...LISTENER_ALPNS],
      sessions: this.#sessions.size,
      sessionsByTransport: this.stats.sessionsByTransport,
      sessionsTotalByTransport: this.stats.sessionsTotalByTransport,
      sessionsByVersion: this.stats.sessionsByVersion,
      sessionsTotalByVersion: this.stats.sessionsTotalByVersion,
      quic: this.#h3?.stats,
    };
  }

  /** Starts the listeners. */
  async start(): Promise<RelayAddresses> {
    const cfg = this.#config;
    const admit = (url: URL) => this.#admit(url);
    const onSession = (a: AcceptedTransport, g: SessionGrant) => this.#onTransport(a, g);
    const routes: Record<string, () => string | undefined> = {
      '/health': () => 'ok\n',
      '/certificate.sha256': () => this.certificateSha256 ?? this.#certificate?.fingerprint,
      '/info': () => JSON.stringify(this.info()),
    };
    this.#ws = new WebSocketListener({
      host: cfg.host,
      port: cfg.port,
      admit,
      onSession,
      routes,
      maxPayload: cfg.maxFrameBytes + 1024 * 1024,
      log: this.#log.child('ws'),
    });
    const wsPort = await this.#ws.start();
    const addresses: RelayAddresses = { url: `http://${hostForUrl(cfg.host)}:${wsPort}` };
    if (cfg.http3.enabled) {
      try {
        const udpPort = await this.#startHttp3(wsPort, admit, onSession);
        addresses.http3Url = `https://${hostForUrl(cfg.host)}:${udpPort}`;
      } catch (err) {
        this.#log.warn('WebTransport over HTTP/3 disabled', { error: err });
        this.#h3 = undefined;
      }
    }
    if (cfg.webtransport.enabled) {
      try {
        this.#certificate = await loadCertificate({ certFile: cfg.webtransport.certFile, keyFile: cfg.webtransport.keyFile, host: cfg.host });
        this.#wt = new WebTransportListener({
          host: cfg.host,
          port: cfg.webtransport.port,
          certificate: this.#certificate,
          admit,
          onSession,
          log: this.#log.child('wt'),
        });
        const wtPort = await this.#wt.start();
        addresses.webtransportUrl = `https://${hostForUrl(cfg.host)}:${wtPort}`;
        addresses.fingerprint = this.#certificate.fingerprint;
      } catch (err) {
        this.#log.warn('WebTransport listener disabled', { error: err });
        this.#wt = undefined;
      }
    }
    this.#addresses = addresses;
    this.#log.info('relay listening', { ...addresses });
    return addresses;
  }

  /**
   * Publishes an in-process broadcast (e.g. the SFU bridge): its tracks are created with
   * `createTrack` and written directly. Close it to unpublish.
   */
  publish(path: string): Broadcast {
    const b = this.#newBroadcast(path, undefined, []);
    this.origin.publish(b);
    return b;
  }

  /** Starts draining: WebTransport peers get GOAWAY and a DRAIN capsule (go elsewhere soon); new requests on those connections are refused. */
  drain(): void {
    this.#h3?.drain();
  }

  /** Closes every session and listener. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#upstream.close();
    // QUIC peers get a CONNECTION_CLOSE before anything else: Debian's Chromium 150 crashed the tab
    // in most runs when a WebTransport session's close capsule (and its streams' resets) came first
    // and the connection stayed up meanwhile (docs/moq.md, "Shutdown").
    const h3Closed = this.#h3?.close();
    for (const s of [...this.#sessions]) s.close(SessionCode.NO_ERROR, 'relay shutting down');
    for (const b of this.origin.list()) b.close();
    this.#certificates?.close();
    await Promise.allSettled([this.#ws?.close(), this.#wt?.close(), h3Closed]);
  }

  async #startHttp3(wsPort: number, admit: (url: URL) => Promise<SessionGrant>, onSession: (a: AcceptedTransport, g: SessionGrant) => void): Promise<number> {
    const h = this.#config.http3;
    this.#certificates = new CertificateStore({
      host: this.#config.host,
      certFile: h.certFile,
      keyFile: h.keyFile,
      validityDays: h.certificateValidityDays,
      rotateBeforeMs: h.rotateBeforeHours * 3_600_000,
      log: this.#log.child('cert'),
    });
    await this.#certificates.start();
    const limits = {
      retry: h.retry,
      idleTimeoutMs: h.idleTimeoutMs,
      maxConnections: h.maxConnections,
      maxConnectionsPerAddress: h.maxConnectionsPerAddress,
      maxStreamsPerConnection: h.maxStreamsPerConnection,
    };
    const make = (port: number) =>
      new Http3Listener({ host: this.#config.host, port, certificates: this.#certificates!, limits, admit, onSession, log: this.#log.child('h3') });
    this.#h3 = make(h.port ?? wsPort);
    try {
      return await this.#h3.start();
    } catch (err) {
      // The default shares the WebSocket port's number; when that UDP port is taken, use a free one.
      if (h.port !== undefined) throw err;
      this.#log.warn('UDP port of the WebSocket listener is taken; HTTP/3 on a free port', { port: wsPort, error: err });
      this.#h3 = make(0);
      return this.#h3.start();
    }
  }

  #publicUrl(): string {
    return this.#config.publicUrl ?? this.#addresses?.url ?? '';
  }

  #newBroadcast(path: string, source: BroadcastSource | undefined, hops: bigint[]): Broadcast {
    return new Broadcast({
      path,
      source,
      hops,
      lingerMs: this.#config.upstreamLingerMs,
      trackOptions: { cacheGroups: this.#config.cacheGroups, groupLimits: { maxBytes: this.#config.maxGroupBytes, maxFrames: 65_536 } },
    });
  }

  async #resolve(path: string): Promise<Broadcast | undefined> {
    return this.origin.get(path) ?? (await this.#upstream.broadcast(path));
  }

  async #admit(url: URL): Promise<SessionGrant> {
    if (this.#closed) throw new SessionRefused(503, 'relay shutting down');
    if (this.#sessions.size >= this.#config.maxSessions) {
      this.stats.sessionsRefused++;
      throw new SessionRefused(503, 'relay full');
    }
    try {
      return await this.#auth.authorize(url);
    } catch (err) {
      this.stats.sessionsRefused++;
      throw err;
    }
  }

  #onTransport(accepted: AcceptedTransport, grant: SessionGrant): void {
    const { transport, kind } = accepted;
    if (isIetfAlpn(accepted.protocol)) {
      this.#startSession(new IetfSession({ id: this.#nextSessionId++, transport, draft: 16, grant, context: this.#context, kind }));
      return;
    }
    const version = versionOfAlpn(accepted.protocol);
    if (version === undefined) {
      // No version by ALPN: the client lists versions in a pre-ALPN CLIENT_SETUP; moq-transport-14 is the one spoken there.
      void negotiatePreAlpnSetup(transport, this.#config.requestTimeoutMs, this.#config.maxMessageBytes, LISTENER_ALPNS).then((result) => {
        if (typeof result === 'string') {
          this.stats.sessionsRefused++;
          this.#log.info('session refused', { kind, peer: accepted.peer, reason: result });
          return;
        }
        if (this.#closed) {
          transport.close({ closeCode: SessionCode.NO_ERROR, reason: 'relay shutting down' });
          return;
        }
        this.#startSession(new IetfSession({ id: this.#nextSessionId++, transport, draft: 14, control: result.control, grant, context: this.#context, kind }));
      });
      return;
    }
    this.#startSession(new Session({ id: this.#nextSessionId++, transport, version, role: 'server', grant, context: this.#context, kind }));
  }

  #startSession(session: Session | IetfSession): void {
    this.#sessions.add(session);
    this.stats.sessions++;
    this.stats.sessionsTotal++;
    const byKind = this.stats.sessionsByTransport;
    byKind[session.kind] = (byKind[session.kind] ?? 0) + 1;
    this.stats.sessionsTotalByTransport[session.kind] = (this.stats.sessionsTotalByTransport[session.kind] ?? 0) + 1;
    const version = versionNameOf(session);
    const byVersion = this.stats.sessionsByVersion;
    byVersion[version] = (byVersion[version] ?? 0) + 1;
    this.stats.sessionsTotalByVersion[version] = (this.stats.sessionsTotalByVersion[version] ?? 0) + 1;
    void session.closed.then(() => {
      this.#sessions.delete(session);
      this.stats.sessions--;
      byKind[session.kind] = (byKind[session.kind] ?? 1) - 1;
      byVersion[version] = (byVersion[version] ?? 1) - 1;
    });
    session.start();
  }

  async #dial(url: string): Promise<Session> {
    const target = new URL(url);
    target.searchParams.set('jwt', this.#tokens.issue({ room: '*', identity: `relay:${this.#name}`, canPublish: false, canSubscribe: true }, 3600));
    const how = this.#config.upstreamTransport;
    let dialled: { transport: import('./transport/MoqTransport').MoqTransport; protocol: string } | undefined;
    let kind = 'upstream-h3';
    if (how !== 'websocket') {
      try {
        dialled = await connectWebTransportH3(target, Math.min(this.#config.requestTimeoutMs, 3000));
      } catch (err) {
        if (how === 'quic') throw err;
        this.#log.info('upstream over QUIC failed; using WebSocket', { upstream: target.host, error: (err as Error).message });
      }
    }
    if (!dialled) {
      kind = 'upstream-websocket';
      dialled = await connectWebSocket(target, this.#config.requestTimeoutMs);
    }
    const { transport, protocol } = dialled;
    const version = versionOfAlpn(protocol);
    if (version === undefined) {
      transport.close({ closeCode: SessionCode.VERSION_NEGOTIATION_FAILED, reason: 'no common version' });
      throw new Error(`upstream ${url} negotiated no moq-lite version`);
    }
    const grant: SessionGrant = { identity: `upstream:${target.host}`, root: '', prefix: '', canPublish: true, canSubscribe: false };
    const session = new Session({ id: this.#nextSessionId++, transport, version, role: 'client', grant, context: this.#context, kind });
    this.#startSession(session);
    return session;
  }
}

/** The negotiated version of a session as its ALPN ('moq-lite-05', 'moqt-16'). */
function versionNameOf(s: Session | IetfSession): string {
  return s instanceof IetfSession ? s.versionName : versionName(s.version);
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
