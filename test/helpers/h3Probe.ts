/**
 * A raw HTTP/3 client over the relay's own QUIC dialer, for tests that send exactly the bytes
 * they mean to (malformed frames, resets mid-stream, bad requests): it records what the server
 * sends on each stream and how the connection ended.
 */
import { dialQuic } from '../../relay/transport/quic/QuicDialer';
import type { QuicCloseInfo, QuicConnection } from '../../relay/transport/quic/QuicConnection';
import { ByteQueue, concatBytes, encodeVarint } from '../../relay/transport/h3/ByteQueue';
import { decodeFieldSection, encodeFieldSection, type HeaderList } from '../../relay/transport/h3/qpack';

/** An HTTP/3 frame as bytes. */
export function h3Frame(type: number, payload: Uint8Array): Uint8Array {
  return concatBytes([encodeVarint(type), encodeVarint(payload.byteLength), payload]);
}

/** A HEADERS frame for `headers`. */
export function headersFrame(headers: HeaderList): Uint8Array {
  return h3Frame(0x01, encodeFieldSection(headers));
}

/** Our control stream's opening: stream type 0 and SETTINGS (extended CONNECT, datagrams, WebTransport). */
export const CLIENT_CONTROL = concatBytes([encodeVarint(0x00), h3Frame(0x04, concatBytes([0x08, 1, 0x33, 1, 0x2b603742, 1].map((v) => encodeVarint(v))))]);

/** A dialled HTTP/3 connection. */
export class H3Probe {
  readonly received = new Map<number, Uint8Array[]>();
  readonly finished = new Set<number>();
  readonly resets = new Map<number, number>();
  closedInfo: QuicCloseInfo | undefined;
  readonly closed: Promise<QuicCloseInfo>;
  conn!: QuicConnection;
  #resolveClosed!: (i: QuicCloseInfo) => void;

  private constructor() {
    this.closed = new Promise((r) => (this.#resolveClosed = r));
  }

  /** Dials `host:port` with ALPN `alpn` (default h3). */
  static async dial(host: string, port: number, alpn = ['h3'], timeoutMs = 5000): Promise<H3Probe> {
    const p = new H3Probe();
    p.conn = await dialQuic({
      host,
      port,
      alpn,
      timeoutMs,
      handler: {
        established: () => undefined,
        stream: (id) => ({
          data: (chunk, fin) => {
            const list = p.received.get(id) ?? [];
            list.push(chunk);
            p.received.set(id, list);
            if (fin) p.finished.add(id);
          },
          error: (code) => {
            if (code !== undefined) p.resets.set(id, code);
          },
        }),
        datagram: () => undefined,
        closed: (info) => {
          p.closedInfo = info;
          p.#resolveClosed(info);
        },
      },
    });
    return p;
  }

  /** Opens a stream and writes `bytes` (FIN when `fin`); returns its id. */
  async send(bidi: boolean, bytes: Uint8Array, fin = false): Promise<number> {
    const id = await this.conn.openStream(bidi);
    if (bidi)
      this.conn.setSink(id, {
        data: (c, f) => {
          const list = this.received.get(id) ?? [];
          list.push(c);
          this.received.set(id, list);
          if (f) this.finished.add(id);
        },
        error: (code) => code !== undefined && this.resets.set(id, code),
      });
    await this.conn.write(id, bytes, fin);
    return id;
  }

  /** The `:status` of the response on request stream `id`, once its HEADERS arrived. */
  status(id: number): number | undefined {
    const q = new ByteQueue();
    for (const c of this.received.get(id) ?? []) q.push(c);
    const t = q.varint();
    const len = q.varint();
    if (t !== 0x01 || len === undefined || q.length < len) return undefined;
    const status = decodeFieldSection(q.take(len)).find(([k]) => k === ':status')?.[1];
    return status === undefined ? undefined : Number(status);
  }

  /** The response headers on request stream `id`, once they arrived. */
  headers(id: number): HeaderList | undefined {
    const q = new ByteQueue();
    for (const c of this.received.get(id) ?? []) q.push(c);
    const t = q.varint();
    const len = q.varint();
    if (t !== 0x01 || len === undefined || q.length < len) return undefined;
    return decodeFieldSection(q.take(len));
  }

  /** Closes the connection. */
  close(): void {
    this.conn.close(0x100, 'done');
  }
}

/** An extended CONNECT for a WebTransport session at `path` on `authority`. */
export function connectRequest(authority: string, path: string, extra: HeaderList = []): Uint8Array {
  return headersFrame([
    [':method', 'CONNECT'],
    [':protocol', 'webtransport'],
    [':scheme', 'https'],
    [':authority', authority],
    [':path', path],
    ['sec-webtransport-http3-draft02', '1'],
    ['wt-available-protocols', '"moq-lite-04", "moq-lite-03"'],
    ...extra,
  ]);
}
