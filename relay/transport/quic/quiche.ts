/**
 * The native QUIC implementation: Cloudflare's quiche (TLS 1.3 through BoringSSL) in the prebuilt
 * N-API binding `@matrixai/quic-<os>-<arch>`, loaded with createRequire. Only the calls the
 * relay uses are typed here. The UDP socket, timers, streams' buffering and everything above QUIC
 * (HTTP/3, WebTransport) are ours.
 */
import { createRequire } from 'node:module';

/** Address of one end of a UDP path. */
export interface HostPort {
  host: string;
  port: number;
}

/** A connection error as quiche reports it. */
export interface QuicheError {
  isApp: boolean;
  errorCode: number;
  reason: Uint8Array;
}

/** quiche's per-connection settings (one per certificate; connections keep the one they started with). */
export interface QuicheConfig {
  setApplicationProtos(protos: string[]): void;
  setMaxIdleTimeout(ms: number): void;
  setMaxRecvUdpPayloadSize(size: number): void;
  setMaxSendUdpPayloadSize(size: number): void;
  setInitialMaxData(v: number): void;
  setInitialMaxStreamDataBidiLocal(v: number): void;
  setInitialMaxStreamDataBidiRemote(v: number): void;
  setInitialMaxStreamDataUni(v: number): void;
  setInitialMaxStreamsBidi(v: number): void;
  setInitialMaxStreamsUni(v: number): void;
  setDisableActiveMigration(v: boolean): void;
  enableDgram(enabled: boolean, recvQueueLen: number, sendQueueLen: number): void;
  enablePacing(v: boolean): void;
  setMaxStreamWindow(v: number): void;
  setMaxConnectionWindow(v: number): void;
  verifyPeer(verify: boolean): void;
}

/** One quiche connection (sans I/O: we feed it datagrams and send what it produces). */
export interface QuicheConnection {
  recv(data: Uint8Array, info: { from: HostPort; to: HostPort }): number;
  send(out: Uint8Array): [number, { from: HostPort; to: HostPort }] | null;
  streamRecv(streamId: number, out: Uint8Array): [number, boolean] | null;
  streamSend(streamId: number, data: Uint8Array, fin: boolean): number | null;
  streamPriority(streamId: number, urgency: number, incremental: boolean): void;
  streamShutdown(streamId: number, direction: 0 | 1, err: number): void | null;
  peerStreamsLeftBidi(): number;
  peerStreamsLeftUni(): number;
  readable(): Iterable<number>;
  dgramRecvVec(): Uint8Array | null;
  dgramRecvQueueLen(): number;
  dgramSend(data: Uint8Array): void | null;
  dgramMaxWritableLen(): number | null;
  timeout(): number | null;
  onTimeout(): void;
  /** Queues a PING (an ack-eliciting packet) for the next send. */
  sendAckEliciting(): void;
  close(app: boolean, err: number, reason: Uint8Array): void | null;
  applicationProto(): Uint8Array;
  peerCertChain(): Uint8Array[] | null;
  isEstablished(): boolean;
  isReadable(): boolean;
  isClosed(): boolean;
  isDraining(): boolean;
  isTimedOut(): boolean;
  peerError(): QuicheError | null;
  localError(): QuicheError | null;
  stats(): { recv: number; sent: number; lost: number; sentBytes: number; recvBytes: number };
}

/** A parsed long or short QUIC packet header. */
export interface QuicheHeader {
  ty: number;
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  token?: Uint8Array;
}

/** The binding's entry points. */
export interface Quiche {
  readonly MAX_CONN_ID_LEN: number;
  readonly MAX_DATAGRAM_SIZE: number;
  readonly PROTOCOL_VERSION: number;
  readonly Type: { Initial: number; Retry: number; Handshake: number; ZeroRTT: number; VersionNegotiation: number; Short: number };
  negotiateVersion(scid: Uint8Array, dcid: Uint8Array, out: Uint8Array): number;
  retry(scid: Uint8Array, dcid: Uint8Array, newScid: Uint8Array, token: Uint8Array, version: number, out: Uint8Array): number;
  versionIsSupported(version: number): boolean;
  Config: {
    withBoringSslCtx(
      verifyPeer: boolean,
      verifyAllowFail: boolean,
      ca: Uint8Array | null,
      key: Uint8Array[] | null,
      cert: Uint8Array[] | null,
      sigalgs: string | null,
    ): QuicheConfig;
  };
  Connection: {
    accept(scid: Uint8Array, odcid: Uint8Array | null, local: HostPort, peer: HostPort, config: QuicheConfig): QuicheConnection;
    connect(serverName: string | null, scid: Uint8Array, local: HostPort, peer: HostPort, config: QuicheConfig): QuicheConnection;
  };
  Header: { fromSlice(data: Uint8Array, dcidLen: number): QuicheHeader };
}

/** quiche's "nothing to do" error (returned where a call has no work). */
export const QUICHE_DONE = 'Done';

let loaded: Quiche | undefined;

/** The binding for this platform; throws a clear error where none is installed. */
export function loadQuiche(): Quiche {
  if (loaded) return loaded;
  const pkg = `@matrixai/quic-${process.platform}-${process.arch}`;
  try {
    loaded = createRequire(import.meta.url)(pkg) as Quiche;
  } catch (err) {
    throw new Error(`QUIC unavailable: ${pkg} is not installed (${(err as Error).message})`, { cause: err });
  }
  return loaded;
}

/** The stream code in a quiche StreamReset(n)/StreamStopped(n) error, if that is what `err` is. */
export function quicheStreamCode(err: unknown, kind: 'StreamReset' | 'StreamStopped'): number | undefined {
  const m = new RegExp(`${kind}\\((\\d+)\\)`).exec(String((err as Error)?.message ?? err));
  return m ? Number(m[1]) : undefined;
}
