/**
 * Client side of QUIC: dials a server from its own UDP socket with the given ALPN and, when a
 * certificate hash is given, accepts only a server whose leaf certificate has that SHA-256 (the
 * same pinning browsers do with `serverCertificateHashes`; no CA is consulted).
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { QuicConnection, type QuicCloseInfo, type QuicConnectionHandler } from './QuicConnection';
import { loadQuiche } from './quiche';

/** Options of {@link dialQuic}. */
export interface DialQuicOptions {
  host: string;
  port: number;
  alpn: string[];
  /** SHA-256 (hex) the server's certificate must have; without it any certificate is accepted. */
  certificateSha256?: string;
  timeoutMs: number;
  /** Streams of each direction the server may open. */
  maxStreams?: number;
  idleTimeoutMs?: number;
  /** Receives the connection's events (set before the first packet)… */
  handler?: QuicConnectionHandler;
  /** …or installs its own handler on the new connection (e.g. an HTTP/3 layer). */
  attach?: (conn: QuicConnection) => void;
}

/** Connects; resolves once the handshake completed (and the pin matched). The socket closes with the connection. */
export async function dialQuic(o: DialQuicOptions): Promise<QuicConnection> {
  const quiche = loadQuiche();
  const cfg = quiche.Config.withBoringSslCtx(false, false, null, null, null, null);
  cfg.verifyPeer(false);
  cfg.setApplicationProtos(o.alpn);
  const idleTimeoutMs = o.idleTimeoutMs ?? 10_000;
  cfg.setMaxIdleTimeout(idleTimeoutMs);
  cfg.setMaxRecvUdpPayloadSize(1500);
  cfg.setMaxSendUdpPayloadSize(1350);
  cfg.setInitialMaxData(16 * 1024 * 1024);
  cfg.setInitialMaxStreamDataBidiLocal(1024 * 1024);
  cfg.setInitialMaxStreamDataBidiRemote(1024 * 1024);
  cfg.setInitialMaxStreamDataUni(1024 * 1024);
  cfg.setInitialMaxStreamsBidi(o.maxStreams ?? 256);
  cfg.setInitialMaxStreamsUni(o.maxStreams ?? 256);
  cfg.setDisableActiveMigration(true);
  cfg.enableDgram(true, 256, 256);
  const socket = dgram.createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, o.host.includes(':') ? '::' : '0.0.0.0', () => resolve());
  });
  socket.on('error', () => undefined);
  const local = { host: o.host.includes(':') ? '::1' : '127.0.0.1', port: socket.address().port };
  const peer = { host: o.host, port: o.port };
  const qc = quiche.Connection.connect(/^[\d.:]+$/.test(o.host) ? null : o.host, crypto.randomBytes(20), local, peer, cfg);
  let settle!: { resolve: () => void; reject: (err: Error) => void };
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const conn = new QuicConnection({
    conn: qc,
    socket,
    local,
    peer,
    isServer: false,
    maxPacket: 1350,
    onGone: () => socket.close(),
    keepAliveMs: Math.round(idleTimeoutMs / 3),
  });
  if (o.attach) o.attach(conn);
  const user = o.handler ?? conn.handler;
  if (!user) throw new Error('dialQuic needs a handler or attach');
  conn.handler = {
    established: () => {
      if (o.certificateSha256) {
        const leaf = qc.peerCertChain()?.[0];
        const got = leaf ? crypto.createHash('sha256').update(leaf).digest('hex') : '';
        if (got !== o.certificateSha256.toLowerCase()) {
          conn.close(0x0128 /* TLS bad_certificate as a QUIC crypto error */, 'certificate hash mismatch', false);
          settle.reject(new Error(`QUIC: certificate of ${o.host}:${o.port} does not match the pinned hash`));
          return;
        }
      }
      user.established();
      settle.resolve();
    },
    stream: (id, bidi) => user.stream(id, bidi),
    datagram: (d) => user.datagram(d),
    closed: (info: QuicCloseInfo) => {
      settle.reject(new Error(`QUIC connection to ${o.host}:${o.port} closed: ${info.reason || info.code}`));
      user.closed(info);
    },
  };
  socket.on('message', (msg, rinfo) => conn.receive(msg, { host: rinfo.address, port: rinfo.port }));
  conn.kick();
  const timer = setTimeout(() => {
    settle.reject(new Error(`QUIC: no handshake with ${o.host}:${o.port} in ${o.timeoutMs} ms`));
    conn.destroy('handshake timeout');
  }, o.timeoutMs);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  return conn;
}
