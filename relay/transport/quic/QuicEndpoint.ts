/**
 * A QUIC server endpoint on one UDP socket (node:dgram): parses each datagram's header, routes it
 * to its connection by destination connection ID, and accepts new connections — answering
 * unsupported versions with Version Negotiation, validating the client's address with a
 * stateless Retry (an HMAC-signed token naming its address and original connection ID) before
 * any state is kept, and enforcing limits on connections in total and per address. Datagrams
 * that are not QUIC, or belong to no connection, are counted and dropped; they never affect
 * other connections.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import type { Logger } from '../../../src/core/logger';
import { QuicConnection } from './QuicConnection';
import { loadQuiche, type HostPort, type Quiche, type QuicheConfig } from './quiche';

/** Limits and behaviour of a {@link QuicEndpoint}. */
export interface QuicEndpointOptions {
  host: string;
  port: number;
  /** quiche settings for new connections (called per connection: a rotated certificate applies to new ones only). */
  config: () => QuicheConfig;
  /** Validate client addresses with Retry before keeping state. */
  retry: boolean;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Ping a connection that sent nothing this long (ms); a third of the idle timeout. */
  keepAliveMs?: number;
  /** A new connection (set its handler synchronously). */
  onConnection: (conn: QuicConnection) => void;
  log: Logger;
}

/** Counters of an endpoint. */
export interface QuicEndpointStats {
  datagramsIn: number;
  /** Datagrams that were not QUIC or matched no connection. */
  datagramsDropped: number;
  retriesSent: number;
  versionNegotiations: number;
  connectionsAccepted: number;
  /** Initials refused by a limit or an invalid Retry token. */
  connectionsRefused: number;
  connections: number;
}

const CID_LEN = 20;
const TOKEN_TTL_MS = 10_000;
const MAX_UDP_PAYLOAD = 1350;

/** One UDP socket serving QUIC connections. */
export class QuicEndpoint {
  readonly stats: QuicEndpointStats = {
    datagramsIn: 0,
    datagramsDropped: 0,
    retriesSent: 0,
    versionNegotiations: 0,
    connectionsAccepted: 0,
    connectionsRefused: 0,
    connections: 0,
  };
  readonly #o: QuicEndpointOptions;
  readonly #quiche: Quiche;
  readonly #socket: dgram.Socket;
  readonly #byCid = new Map<string, QuicConnection>();
  readonly #cidsOf = new Map<QuicConnection, string[]>();
  readonly #perAddress = new Map<string, number>();
  readonly #tokenKey = crypto.randomBytes(32);
  #local: HostPort = { host: '127.0.0.1', port: 0 };
  #closed = false;

  constructor(options: QuicEndpointOptions) {
    this.#o = options;
    this.#quiche = loadQuiche();
    this.#socket = dgram.createSocket({ type: options.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    this.#socket.on('message', (msg, rinfo) => this.#onDatagram(msg, { host: rinfo.address, port: rinfo.port }));
    this.#socket.on('error', (err) => options.log.warn('QUIC socket error', { error: err }));
  }

  /** The bound UDP port (after start). */
  get port(): number {
    return this.#local.port;
  }

  /** Open connections. */
  get connections(): QuicConnection[] {
    return [...this.#cidsOf.keys()];
  }

  /** Binds the socket; resolves with the port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(this.#o.port, this.#o.host, () => {
        this.#socket.off('error', reject);
        resolve();
      });
    });
    const addr = this.#socket.address();
    this.#local = { host: addr.address, port: addr.port };
    return addr.port;
  }

  /**
   * Closes every connection with `code` (an HTTP/3 code), waits up to `graceMs` for the close
   * frames to go out and the peers to acknowledge, then drops what is left and the socket.
   */
  async close(code = 0x100, reason = 'shutting down', graceMs = 500): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const conns = this.connections;
    for (const c of conns) c.close(code, reason);
    const deadline = Date.now() + graceMs;
    while (conns.some((c) => !c.closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of conns) if (!c.closed) c.destroy(reason);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onDatagram(msg: Buffer, from: HostPort): void {
    this.stats.datagramsIn++;
    let header;
    try {
      header = this.#quiche.Header.fromSlice(msg, CID_LEN);
    } catch {
      this.stats.datagramsDropped++;
      return;
    }
    const conn = this.#byCid.get(Buffer.from(header.dcid).toString('hex'));
    if (conn) {
      conn.receive(msg, from);
      return;
    }
    if (this.#closed || header.ty !== this.#quiche.Type.Initial) {
      this.stats.datagramsDropped++;
      return;
    }
    // A client's Initial must be padded to 1200 bytes (RFC 9000 §14.1): anything shorter is junk.
    if (msg.byteLength < 1200) {
      this.stats.datagramsDropped++;
      return;
    }
    if (!this.#quiche.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(MAX_UDP_PAYLOAD);
      const n = this.#quiche.negotiateVersion(header.scid, header.dcid, out);
      this.stats.versionNegotiations++;
      this.#socket.send(out, 0, n, from.port, from.host, () => undefined);
      return;
    }
    this.#accept(msg, from, header.dcid, header.scid, header.token ?? new Uint8Array(0), header.version);
  }

  #accept(msg: Buffer, from: HostPort, dcid: Uint8Array, scid: Uint8Array, token: Uint8Array, version: number): void {
    const o = this.#o;
    const perAddress = this.#perAddress.get(from.host) ?? 0;
    if (this.#cidsOf.size >= o.maxConnections || perAddress >= o.maxConnectionsPerAddress) {
      this.stats.connectionsRefused++;
      o.log.debug('QUIC connection refused: limit reached', { peer: `${from.host}:${from.port}` });
      return;
    }
    let odcid: Uint8Array | null = null;
    let newScid: Uint8Array;
    if (o.retry) {
      if (token.byteLength === 0) {
        newScid = crypto.randomBytes(CID_LEN);
        const out = Buffer.allocUnsafe(MAX_UDP_PAYLOAD);
        const n = this.#quiche.retry(scid, dcid, newScid, this.#mintToken(from, dcid), version, out);
        this.stats.retriesSent++;
        this.#socket.send(out, 0, n, from.port, from.host, () => undefined);
        return;
      }
      odcid = this.#validateToken(from, token);
      if (!odcid || dcid.byteLength !== CID_LEN) {
        this.stats.connectionsRefused++;
        return;
      }
      newScid = dcid;
    } else {
      newScid = crypto.randomBytes(CID_LEN);
    }
    let quicheConn;
    try {
      quicheConn = this.#quiche.Connection.accept(newScid, odcid, this.#local, from, o.config());
    } catch (err) {
      this.stats.connectionsRefused++;
      o.log.warn('QUIC accept failed', { error: err });
      return;
    }
    const conn: QuicConnection = new QuicConnection({
      conn: quicheConn,
      socket: this.#socket,
      local: this.#local,
      peer: from,
      isServer: true,
      maxPacket: MAX_UDP_PAYLOAD,
      onGone: () => this.#forget(conn),
      keepAliveMs: o.keepAliveMs,
    });
    const cids = [Buffer.from(newScid).toString('hex')];
    if (!o.retry) cids.push(Buffer.from(dcid).toString('hex'));
    for (const c of cids) this.#byCid.set(c, conn);
    this.#cidsOf.set(conn, cids);
    this.#perAddress.set(from.host, perAddress + 1);
    this.stats.connectionsAccepted++;
    this.stats.connections++;
    o.onConnection(conn);
    conn.receive(msg, from);
  }

  #forget(conn: QuicConnection): void {
    const cids = this.#cidsOf.get(conn);
    if (!cids) return;
    for (const c of cids) this.#byCid.delete(c);
    this.#cidsOf.delete(conn);
    this.stats.connections--;
    const n = (this.#perAddress.get(conn.peer.host) ?? 1) - 1;
    if (n <= 0) this.#perAddress.delete(conn.peer.host);
    else this.#perAddress.set(conn.peer.host, n);
  }

  #mac(from: HostPort, issued: Buffer, odcid: Uint8Array): Buffer {
    return crypto.createHmac('sha256', this.#tokenKey).update(issued).update(`${from.host}|${from.port}|`).update(odcid).digest().subarray(0, 16);
  }

  /** Retry token: issued-at (8) · odcid length (1) · odcid · HMAC (16). */
  #mintToken(from: HostPort, odcid: Uint8Array): Buffer {
    const issued = Buffer.alloc(8);
    issued.writeBigUInt64BE(BigInt(Date.now()));
    return Buffer.concat([issued, Buffer.of(odcid.byteLength), odcid, this.#mac(from, issued, odcid)]);
  }

  #validateToken(from: HostPort, token: Uint8Array): Uint8Array | null {
    const t = Buffer.from(token);
    if (t.byteLength < 9) return null;
    const len = t[8]!;
    if (len > CID_LEN || t.byteLength !== 9 + len + 16) return null;
    const issued = t.subarray(0, 8);
    const age = Date.now() - Number(issued.readBigUInt64BE());
    if (age < 0 || age > TOKEN_TTL_MS) return null;
    const odcid = t.subarray(9, 9 + len);
    const mac = t.subarray(9 + len);
    return crypto.timingSafeEqual(mac, this.#mac(from, issued, odcid)) ? Uint8Array.from(odcid) : null;
  }
}
