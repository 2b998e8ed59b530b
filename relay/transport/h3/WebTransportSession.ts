/**
 * One WebTransport session (draft-02, as Chromium speaks it) on an HTTP/3 connection, shaped
 * like a browser's WebTransport object so the MoQ session code runs on it unchanged: incoming
 * bidirectional/unidirectional streams, stream creation (with the 0x41 / 0x54 stream headers),
 * datagrams, and close through the CLOSE_WEBTRANSPORT_SESSION capsule.
 */
import type { MoqBidiStream, MoqSendOptions, MoqTransport } from '../MoqTransport';
import type { QuicConnection, StreamSink } from '../quic/QuicConnection';
import { concatBytes, encodeVarint } from './ByteQueue';
import { UniStream, WT_BIDI_SIGNAL } from './codes';
import { readableFor, writableFor } from './wtStreams';

/** How a session ended (WebTransportCloseInfo). */
export interface WebTransportCloseInfo {
  closeCode: number;
  reason: string;
}

/** The HTTP/3 side a session talks through. */
export interface SessionCarrier {
  readonly conn: QuicConnection;
  /** Sends the close capsule on the CONNECT stream and FIN; then ends the connection. */
  sendClose(code: number, reason: string): void;
}

const MAX_INCOMING_QUEUED = 256;
const MAX_DATAGRAMS_QUEUED = 64;

/** A WebTransport session served by this endpoint. */
export class WebTransportSession implements MoqTransport {
  readonly id: number;
  readonly incomingBidirectionalStreams: ReadableStream<MoqBidiStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  /** Datagrams, shaped like WebTransportDatagramDuplexStream (incoming ones dropped when the reader falls behind). */
  readonly datagrams: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array>; readonly maxDatagramSize: number };
  readonly closed: Promise<WebTransportCloseInfo>;
  /** Resolved: a session exists only once established. */
  readonly ready: Promise<void> = Promise.resolve();
  /** The negotiated WebTransport protocol ('' when none), as a browser's `WebTransport.protocol`. */
  protocol = '';
  readonly #carrier: SessionCarrier;
  #bidiController!: ReadableStreamDefaultController<MoqBidiStream>;
  #uniController!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>;
  #dgramController!: ReadableStreamDefaultController<Uint8Array>;
  #resolveClosed!: (info: WebTransportCloseInfo) => void;
  #ended = false;
  readonly #bidiPrefix: Uint8Array;
  readonly #uniPrefix: Uint8Array;
  readonly #dgramPrefix: Uint8Array;

  constructor(id: number, carrier: SessionCarrier) {
    this.id = id;
    this.#carrier = carrier;
    this.#bidiPrefix = concatBytes([encodeVarint(WT_BIDI_SIGNAL), encodeVarint(id)]);
    this.#uniPrefix = concatBytes([encodeVarint(UniStream.WEBTRANSPORT), encodeVarint(id)]);
    this.#dgramPrefix = encodeVarint(id / 4);
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.#bidiController = c) }, { highWaterMark: MAX_INCOMING_QUEUED });
    this.incomingUnidirectionalStreams = new ReadableStream({ start: (c) => void (this.#uniController = c) }, { highWaterMark: MAX_INCOMING_QUEUED });
    this.datagrams = {
      readable: new ReadableStream({ start: (c) => void (this.#dgramController = c) }, { highWaterMark: MAX_DATAGRAMS_QUEUED }),
      writable: new WritableStream({ write: (d: Uint8Array) => void this.sendDatagram(d) }),
      maxDatagramSize: 1200,
    };
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** True once the session ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** A peer-opened bidirectional stream whose header was read; `rest` are bytes after the header. Returns its sink. */
  acceptBidi(streamId: number, rest: Uint8Array[]): StreamSink {
    const conn = this.#carrier.conn;
    const { readable, sink } = readableFor(conn, streamId, rest);
    const writable = writableFor(conn, streamId);
    this.#offer(this.#bidiController, { readable, writable }, streamId);
    return sink;
  }

  /** A peer-opened unidirectional stream whose header was read. Returns its sink. */
  acceptUni(streamId: number, rest: Uint8Array[]): StreamSink {
    const { readable, sink } = readableFor(this.#carrier.conn, streamId, rest);
    this.#offer(this.#uniController, readable, streamId);
    return sink;
  }

  #offer<T>(controller: ReadableStreamDefaultController<T>, stream: T, streamId: number): void {
    if (this.#ended || (controller.desiredSize ?? 0) <= 0) {
      // Nobody is taking streams: refuse rather than queue without bound.
      this.#carrier.conn.stopReading(streamId, 0x10b);
      this.#carrier.conn.resetStream(streamId, 0x10b);
      return;
    }
    controller.enqueue(stream);
  }

  /** A datagram for this session (the quarter stream id already removed). */
  receiveDatagram(payload: Uint8Array): void {
    if (this.#ended) return;
    if ((this.#dgramController.desiredSize ?? 0) <= 0) return; // Drop: the reader is behind.
    this.#dgramController.enqueue(payload);
  }

  /** Sends a datagram; false when it was dropped. */
  sendDatagram(payload: Uint8Array): boolean {
    if (this.#ended) return false;
    return this.#carrier.conn.sendDatagram(concatBytes([this.#dgramPrefix, payload]));
  }

  /** Transport counters in the shape of WebTransport's getStats(). */
  async getStats(): Promise<{ bytesSent: number; bytesReceived: number; packetsSent: number; packetsReceived: number; packetsLost: number }> {
    const s = this.#carrier.conn.stats();
    return { bytesSent: s.sentBytes, bytesReceived: s.recvBytes, packetsSent: s.sent, packetsReceived: s.recv, packetsLost: s.lost };
  }

  /** Opens a bidirectional stream. */
  async createBidirectionalStream(options?: MoqSendOptions): Promise<MoqBidiStream> {
    const conn = this.#carrier.conn;
    const id = await conn.openStream(true, urgencyOf(options?.sendOrder));
    const { readable, sink } = readableFor(conn, id);
    conn.setSink(id, sink);
    return { readable, writable: writableFor(conn, id, this.#bidiPrefix) };
  }

  /** Opens a unidirectional stream. */
  async createUnidirectionalStream(options?: MoqSendOptions): Promise<WritableStream<Uint8Array>> {
    const conn = this.#carrier.conn;
    const id = await conn.openStream(false, urgencyOf(options?.sendOrder));
    return writableFor(conn, id, this.#uniPrefix);
  }

  /** Closes the session with a code and reason (sent to the peer). */
  close(info?: { closeCode?: number; reason?: string }): void {
    if (this.#ended) return;
    const closeCode = info?.closeCode ?? 0;
    const reason = info?.reason ?? '';
    this.#carrier.sendClose(closeCode, reason);
    this.end({ closeCode, reason });
  }

  /** Ends the session locally (peer close capsule, CONNECT stream gone, connection closed). */
  end(info: WebTransportCloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const c of [this.#bidiController, this.#uniController, this.#dgramController] as Array<ReadableStreamDefaultController<unknown>>) {
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
    this.#resolveClosed(info);
  }
}

/** Control streams (send order ≥ 0 or none) go before group streams (negative send order). */
function urgencyOf(sendOrder: number | undefined): number {
  return sendOrder === undefined || sendOrder >= 0 ? 2 : 4;
}
