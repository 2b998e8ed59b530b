/**
 * The WebTransport surface a moq-lite session needs. Satisfied by @moq/qmux sessions
 * (WebSocket), @fails-components/webtransport sessions (HTTP/2, HTTP/3) and browsers'
 * WebTransport, so the session code is transport-agnostic.
 */

/** A bidirectional stream. */
export interface MoqBidiStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** Options when opening a stream. */
export interface MoqSendOptions {
  /** Higher is sent first (WebTransport send order). */
  sendOrder?: number;
  /** Wait for stream credit instead of failing. */
  waitUntilAvailable?: boolean;
}

/** A WebTransport-shaped session. */
export interface MoqTransport {
  readonly incomingBidirectionalStreams: ReadableStream<MoqBidiStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  createBidirectionalStream(options?: MoqSendOptions): Promise<MoqBidiStream>;
  createUnidirectionalStream(options?: MoqSendOptions): Promise<WritableStream<Uint8Array>>;
  close(info?: { closeCode?: number; reason?: string }): void;
  readonly closed: Promise<unknown>;
}

/** How a transport session was established, as the listener saw it. */
export interface AcceptedTransport {
  readonly transport: MoqTransport;
  /** Negotiated app protocol (ALPN), '' when none was negotiated. */
  readonly protocol: string;
  /** Request URL (path = session root, query carries the token). */
  readonly url: URL;
  /** 'websocket' (QMux), 'webtransport-h3' (QUIC) or 'webtransport-h2'. */
  readonly kind: 'websocket' | 'webtransport-h3' | 'webtransport-h2';
  /** Peer address for logs. */
  readonly peer: string;
}
