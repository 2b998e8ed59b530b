/**
 * WHATWG stream adapters over one QUIC stream, shaped like a browser's WebTransport streams:
 * a ReadableStream fed by the connection (pausing the QUIC stream when the reader falls
 * 256 KiB behind, so flow control holds the peer back) and a WritableStream whose writes settle
 * once quiche accepted the bytes (its queue holds at most 64 KiB more). Errors carry
 * `streamErrorCode` as WebTransport application codes, mapped to and from HTTP/3 codes on the wire.
 */
import { streamCodeOf } from '../../errors';
import type { QuicConnection, StreamSink } from '../quic/QuicConnection';
import { http3ToWebTransport, webTransportToHttp3 } from './codes';

const READ_HIGH_WATER = 256 * 1024;
const WRITE_HIGH_WATER = 64 * 1024;
const EMPTY = new Uint8Array(0);

/** A stream error as a browser's WebTransport reports it. */
export class WebTransportStreamError extends Error {
  override name = 'WebTransportError';
  constructor(
    message: string,
    /** The peer's WebTransport code, undefined when the session/connection ended. */
    readonly streamErrorCode: number | undefined,
  ) {
    super(message);
  }
}

function wireCode(reason: unknown): number {
  return webTransportToHttp3(streamCodeOf(reason) ?? 0);
}

/** A readable over stream `id` and the sink the connection feeds (optionally with bytes already read). */
export function readableFor(conn: QuicConnection, id: number, initial?: Uint8Array[]): { readable: ReadableStream<Uint8Array>; sink: StreamSink } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let done = false;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        conn.resumeReading(id);
      },
      cancel(reason) {
        done = true;
        conn.stopReading(id, wireCode(reason));
      },
    },
    { highWaterMark: READ_HIGH_WATER, size: (chunk) => chunk.byteLength },
  );
  const sink: StreamSink = {
    data(chunk, fin) {
      if (done) return;
      if (chunk.byteLength > 0) controller.enqueue(chunk);
      if (fin) {
        done = true;
        controller.close();
      } else if ((controller.desiredSize ?? 1) <= 0) {
        conn.pauseReading(id);
      }
    },
    error(code, reason) {
      if (done) return;
      done = true;
      controller.error(new WebTransportStreamError(reason, code === undefined ? undefined : (http3ToWebTransport(code) ?? code)));
    },
  };
  for (const chunk of initial ?? []) sink.data(chunk, false);
  return { readable, sink };
}

/** A writable over stream `id`; `prefix` (the WebTransport stream header) goes first. */
export function writableFor(conn: QuicConnection, id: number, prefix?: Uint8Array): WritableStream<Uint8Array> {
  if (prefix) conn.write(id, prefix, false).catch(() => undefined);
  return new WritableStream<Uint8Array>(
    {
      write(chunk) {
        return conn.write(id, chunk, false).catch((err: unknown) => {
          const code = (err as { streamErrorCode?: number }).streamErrorCode;
          throw new WebTransportStreamError((err as Error).message, code === undefined ? undefined : (http3ToWebTransport(code) ?? code));
        });
      },
      close() {
        return conn.write(id, EMPTY, true);
      },
      abort(reason) {
        conn.resetStream(id, wireCode(reason));
      },
    },
    { highWaterMark: WRITE_HIGH_WATER, size: (chunk) => chunk.byteLength },
  );
}
