/**
 * The HTTP/3 layer of one QUIC connection, serving WebTransport: our control stream with
 * SETTINGS (extended CONNECT, H3 datagrams, WebTransport draft-02), the peer's control and QPACK
 * streams, request streams (QPACK field sections; an extended CONNECT with `:protocol
 * webtransport` becomes a session, anything else gets an HTTP status), WebTransport streams and
 * datagrams routed to the session, capsules on the CONNECT stream, and GOAWAY on drain.
 * A protocol error closes this connection with its HTTP/3 code; nothing else is affected.
 */
import type { QuicCloseInfo, QuicConnection, StreamSink } from '../quic/QuicConnection';
import { ByteQueue, concatBytes, encodeVarint } from './ByteQueue';
import { Capsule, Frame, H3ConnectionError, H3Error, HTTP2_ONLY_FRAMES, HTTP2_ONLY_SETTINGS, Setting, UniStream, WT_BIDI_SIGNAL } from './codes';
import { decodeFieldSection, encodeFieldSection, QpackError, type HeaderList } from './qpack';
import { WebTransportSession } from './WebTransportSession';

/** An extended CONNECT as received. */
export interface ConnectRequest {
  url: URL;
  /** Protocols offered in `wt-available-protocols` (empty when none). */
  protocols: string[];
  headers: HeaderList;
}

/** What to answer a CONNECT: a refusal status, or 200 with the chosen protocol. */
export type ConnectDecision = { status: number; reason?: string } | { status: 200; protocol: string; accept: (session: WebTransportSession) => void };

/** Options of {@link Http3Connection}. */
export interface Http3ConnectionOptions {
  /** 'server' (default) answers CONNECTs; 'client' opens a session with {@link Http3Connection.openSession}. */
  role?: 'server' | 'client';
  /** Server: decides each extended CONNECT (token checks may be asynchronous). */
  onConnect?: (req: ConnectRequest) => Promise<ConnectDecision>;
  /** Called once with why the connection ended (protocol errors included). */
  onClosed?: (info: QuicCloseInfo) => void;
}

const MAX_FRAME = 64 * 1024;
const MAX_STREAM_HEADER = 16;
const EMPTY = new Uint8Array(0);

function frame(type: number, payload: Uint8Array): Uint8Array {
  return concatBytes([encodeVarint(type), encodeVarint(payload.byteLength), payload]);
}

const SETTINGS_FRAME = frame(
  Frame.SETTINGS,
  concatBytes(
    [
      [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
      [Setting.QPACK_BLOCKED_STREAMS, 0],
      [Setting.ENABLE_CONNECT_PROTOCOL, 1],
      [Setting.H3_DATAGRAM, 1],
      [Setting.ENABLE_WEBTRANSPORT, 1],
      [Setting.WEBTRANSPORT_MAX_SESSIONS, 1],
    ].flatMap(([k, v]) => [encodeVarint(k!), encodeVarint(v!)]),
  ),
);

/** HTTP/3 + WebTransport over one QUIC connection (server side, or a client opening one session). */
export class Http3Connection {
  readonly conn: QuicConnection;
  readonly #o: Http3ConnectionOptions;
  #controlId: number | undefined;
  #peerControl = false;
  #peerSettings: Map<number, number> | undefined;
  #session: WebTransportSession | undefined;
  #lastRequest = -1;
  #goaway = false;
  #closed = false;

  constructor(conn: QuicConnection, options: Http3ConnectionOptions) {
    this.conn = conn;
    this.#o = options;
    conn.handler = {
      established: () => this.#established(),
      stream: (id, bidi) => (bidi ? this.#requestSink(id) : this.#uniSink(id)),
      datagram: (d) => this.#datagram(d),
      closed: (info) => this.#onClosed(info),
    };
  }

  /** The WebTransport session on this connection, if one was accepted. */
  get session(): WebTransportSession | undefined {
    return this.#session;
  }

  /**
   * Client: sends an extended CONNECT for `url` offering `protocols`; resolves with the session
   * and the protocol the server chose, rejects with the HTTP status when refused.
   */
  async openSession(url: URL, protocols: string[]): Promise<{ session: WebTransportSession; protocol: string }> {
    const id = await this.conn.openStream(true, 0);
    const headers: HeaderList = [
      [':method', 'CONNECT'],
      [':protocol', 'webtransport'],
      [':scheme', 'https'],
      [':authority', url.host],
      [':path', `${url.pathname}${url.search}`],
      ['sec-webtransport-http3-draft02', '1'],
    ];
    if (protocols.length > 0) headers.push(['wt-available-protocols', protocols.map((p) => `"${p}"`).join(', ')]);
    return new Promise((resolve, reject) => {
      const q = new ByteQueue();
      let session: WebTransportSession | undefined;
      this.conn.setSink(id, {
        data: (chunk, fin) =>
          this.#guard(() => {
            q.push(chunk);
            for (;;) {
              const f = readFrame(q);
              if (!f) break;
              if (session) {
                this.#sessionFrame(f.type, f.payload);
                continue;
              }
              if (f.type !== Frame.HEADERS) continue;
              const response = decodeFieldSection(f.payload);
              const status = Number(response.find(([k]) => k === ':status')?.[1]);
              if (status !== 200) {
                reject(Object.assign(new Error(`WebTransport CONNECT refused: HTTP ${status}`), { status }));
                this.conn.close(H3Error.NO_ERROR, 'refused');
                return;
              }
              const chosen = /"([^"]*)"/.exec(response.find(([k]) => k === 'wt-protocol')?.[1] ?? '')?.[1] ?? '';
              session = new WebTransportSession(id, { conn: this.conn, sendClose: (code, reason) => this.#sendClose(id, code, reason) });
              session.protocol = chosen;
              this.#session = session;
              resolve({ session, protocol: chosen });
            }
            if (fin) {
              session?.end({ closeCode: 0, reason: 'session closed by peer' });
              if (!session) reject(new Error('WebTransport CONNECT stream ended without a response'));
            }
          }),
        error: (_code, reason) => {
          session?.end({ closeCode: 0, reason });
          if (!session) reject(new Error(`WebTransport CONNECT failed: ${reason}`));
        },
      });
      this.conn.write(id, frame(Frame.HEADERS, encodeFieldSection(headers)), false).catch((err: unknown) => reject(err as Error));
    });
  }

  /** Closes the connection with an HTTP/3 error. */
  fail(code: number, reason: string): void {
    this.conn.close(code, reason);
  }

  /** Starts draining: GOAWAY on the control stream and DRAIN_WEBTRANSPORT_SESSION to the session. */
  goaway(): void {
    if (this.#goaway || this.#closed) return;
    this.#goaway = true;
    if (this.#controlId !== undefined) this.conn.write(this.#controlId, frame(Frame.GOAWAY, encodeVarint(this.#lastRequest + 4)), false).catch(() => undefined);
    const s = this.#session;
    if (s && !s.ended) this.conn.write(s.id, frame(Frame.DATA, capsule(Capsule.DRAIN_SESSION, EMPTY)), false).catch(() => undefined);
  }

  #established(): void {
    if (this.conn.alpn !== 'h3') {
      this.fail(H3Error.GENERAL_PROTOCOL_ERROR, 'expected ALPN h3');
      return;
    }
    this.conn.openStream(false, 0).then(
      (id) => {
        this.#controlId = id;
        this.conn.write(id, concatBytes([encodeVarint(UniStream.CONTROL), SETTINGS_FRAME]), false).catch(() => undefined);
      },
      () => undefined,
    );
  }

  #onClosed(info: QuicCloseInfo): void {
    this.#closed = true;
    this.#session?.end({ closeCode: info.app && info.code === H3Error.NO_ERROR ? 0 : info.code, reason: info.reason || 'connection closed' });
    this.#o.onClosed?.(info);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof H3ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof QpackError) this.fail(H3Error.QPACK_DECOMPRESSION_FAILED, err.message);
      else this.fail(H3Error.INTERNAL_ERROR, (err as Error).message);
    }
  }

  #datagram(d: Uint8Array): void {
    const q = new ByteQueue();
    q.push(d);
    const quarter = q.varint();
    const s = this.#session;
    if (quarter === undefined || !s || quarter * 4 !== s.id) return;
    s.receiveDatagram(d.subarray(d.byteLength - q.length));
  }

  // ---- unidirectional streams -------------------------------------------------------------

  #uniSink(id: number): StreamSink {
    const head = new ByteQueue();
    let forward: StreamSink | undefined;
    return {
      data: (chunk, fin) =>
        this.#guard(() => {
          if (forward) return forward.data(chunk, fin);
          head.push(chunk);
          const type = head.peekVarint();
          if (!type) return this.#checkHeader(id, head, fin);
          if (type.value === UniStream.WEBTRANSPORT) {
            const sid = head.peekVarint(type.size);
            if (!sid) return this.#checkHeader(id, head, fin);
            head.skip(type.size + sid.size);
            const s = this.#sessionFor(sid.value);
            if (!s) {
              this.conn.stopReading(id, H3Error.WT_BUFFERED_STREAM_REJECTED);
              forward = { data: () => undefined, error: () => undefined };
              return;
            }
            forward = s.acceptUni(id, head.takeAll());
            if (fin) forward.data(EMPTY, true);
            return;
          }
          head.skip(type.size);
          forward = this.#typedUni(id, type.value);
          const rest = head.takeAll();
          for (const c of rest) forward.data(c, false);
          if (fin) forward.data(EMPTY, true);
        }),
      error: (code, reason) => forward?.error(code, reason),
    };
  }

  #checkHeader(id: number, head: ByteQueue, fin: boolean): void {
    if (head.length > MAX_STREAM_HEADER) throw new H3ConnectionError(H3Error.STREAM_CREATION_ERROR, `stream ${id}: malformed stream header`);
    if (fin) this.conn.stopReading(id, H3Error.STREAM_CREATION_ERROR);
  }

  #typedUni(id: number, type: number): StreamSink {
    if (type === UniStream.CONTROL) {
      if (this.#peerControl) throw new H3ConnectionError(H3Error.STREAM_CREATION_ERROR, 'second control stream');
      this.#peerControl = true;
      return this.#controlSink();
    }
    if (type === UniStream.QPACK_ENCODER || type === UniStream.QPACK_DECODER) {
      // Dynamic table capacity is 0: nothing useful can arrive; read and discard (bounded by flow control).
      return {
        data: (_c, fin) => {
          if (fin) this.fail(H3Error.CLOSED_CRITICAL_STREAM, 'QPACK stream closed');
        },
        error: () => this.fail(H3Error.CLOSED_CRITICAL_STREAM, 'QPACK stream reset'),
      };
    }
    if (type === UniStream.PUSH) throw new H3ConnectionError(H3Error.STREAM_CREATION_ERROR, 'push stream from a client');
    // Unknown (e.g. reserved/grease) stream types are ignored.
    this.conn.stopReading(id, H3Error.STREAM_CREATION_ERROR);
    return { data: () => undefined, error: () => undefined };
  }

  #controlSink(): StreamSink {
    const q = new ByteQueue();
    return {
      data: (chunk, fin) =>
        this.#guard(() => {
          q.push(chunk);
          for (;;) {
            const f = readFrame(q);
            if (!f) break;
            this.#controlFrame(f.type, f.payload);
          }
          if (fin) throw new H3ConnectionError(H3Error.CLOSED_CRITICAL_STREAM, 'control stream closed');
        }),
      error: (code) => {
        if (code !== undefined) this.fail(H3Error.CLOSED_CRITICAL_STREAM, 'control stream reset');
      },
    };
  }

  #controlFrame(type: number, payload: Uint8Array): void {
    if (!this.#peerSettings) {
      if (type !== Frame.SETTINGS) throw new H3ConnectionError(H3Error.MISSING_SETTINGS, 'first control frame is not SETTINGS');
      this.#peerSettings = parseSettings(payload);
      return;
    }
    if (type === Frame.SETTINGS) throw new H3ConnectionError(H3Error.FRAME_UNEXPECTED, 'second SETTINGS');
    if (type === Frame.DATA || type === Frame.HEADERS || type === Frame.PUSH_PROMISE || HTTP2_ONLY_FRAMES.has(type)) {
      throw new H3ConnectionError(H3Error.FRAME_UNEXPECTED, `frame 0x${type.toString(16)} on the control stream`);
    }
    // GOAWAY, MAX_PUSH_ID, CANCEL_PUSH and unknown frames need nothing from a server that never pushes.
  }

  // ---- bidirectional streams (requests and WebTransport streams) --------------------------

  #requestSink(id: number): StreamSink {
    const q = new ByteQueue();
    let forward: StreamSink | undefined;
    let state: 'start' | 'headers' | 'waiting' | 'session' | 'done' = 'start';
    let finSeen = false;
    /** Parses what is buffered, in the stream's current state. */
    const pump = (): void => {
      for (;;) {
        if (state === 'done') {
          q.skip(q.length);
          return;
        }
        if (state === 'waiting') return; // The CONNECT is being decided; later frames wait in `q`.
        const f = readFrame(q);
        if (!f) break;
        if (state === 'headers') {
          if (f.type === Frame.HEADERS) {
            state = 'waiting';
            this.#request(id, f.payload, (next) => {
              if (state !== 'waiting') return;
              state = next;
              this.#guard(() => {
                pump();
                if (finSeen) this.#requestEnded(id, state);
              });
            });
          } else if (f.type === Frame.DATA || HTTP2_ONLY_FRAMES.has(f.type) || f.type === Frame.SETTINGS || f.type === Frame.GOAWAY) {
            throw new H3ConnectionError(H3Error.FRAME_UNEXPECTED, `frame 0x${f.type.toString(16)} before HEADERS`);
          }
        } else if (state === 'session') {
          this.#sessionFrame(f.type, f.payload);
        }
      }
    };
    return {
      data: (chunk, fin) =>
        this.#guard(() => {
          if (forward) return forward.data(chunk, fin);
          q.push(chunk);
          if (fin) finSeen = true;
          if (state === 'start') {
            const first = q.peekVarint();
            if (!first) return this.#checkHeader(id, q, fin);
            if (first.value === WT_BIDI_SIGNAL) {
              const sid = q.peekVarint(first.size);
              if (!sid) return this.#checkHeader(id, q, fin);
              q.skip(first.size + sid.size);
              const s = this.#sessionFor(sid.value);
              if (!s) {
                this.conn.stopReading(id, H3Error.WT_BUFFERED_STREAM_REJECTED);
                this.conn.resetStream(id, H3Error.WT_BUFFERED_STREAM_REJECTED);
                forward = { data: () => undefined, error: () => undefined };
                return;
              }
              forward = s.acceptBidi(id, q.takeAll());
              if (fin) forward.data(EMPTY, true);
              return;
            }
            if (this.#o.role === 'client') throw new H3ConnectionError(H3Error.STREAM_CREATION_ERROR, 'request stream from a server');
            if (this.#goaway) {
              this.conn.stopReading(id, H3Error.REQUEST_REJECTED);
              this.conn.resetStream(id, H3Error.REQUEST_REJECTED);
              state = 'done';
              return;
            }
            this.#lastRequest = Math.max(this.#lastRequest, id);
            state = 'headers';
          }
          pump();
          if (fin && state !== 'waiting') this.#requestEnded(id, state);
        }),
      error: () => {
        if (state === 'session') this.#session?.end({ closeCode: 0, reason: 'CONNECT stream reset' });
      },
    };
  }

  #requestEnded(id: number, state: string): void {
    if (state === 'session') {
      const s = this.#session;
      if (s && !s.ended) {
        s.end({ closeCode: 0, reason: 'session closed by peer' });
        this.conn.write(id, EMPTY, true).catch(() => undefined);
      }
    } else if (state === 'headers') {
      throw new H3ConnectionError(H3Error.REQUEST_INCOMPLETE, 'request ended before HEADERS');
    }
  }

  /** Handles a request's HEADERS; calls `next` with the stream's next state (after an asynchronous admission for a CONNECT). */
  #request(id: number, block: Uint8Array, next: (state: 'session' | 'done') => void): void {
    const headers = decodeFieldSection(block);
    const decided = this.#decide(id, headers);
    if (typeof decided === 'string') {
      next(decided);
      return;
    }
    decided.then(
      (d) => next(this.#closed ? 'done' : this.#answer(id, d)),
      (err: unknown) => next(this.#respond(id, 500, (err as Error).message)),
    );
  }

  /** Validates a request; a CONNECT that passes goes to the admission callback. */
  #decide(id: number, headers: HeaderList): 'done' | Promise<ConnectDecision> {
    const get = (n: string) => headers.find(([k]) => k === n)?.[1];
    const method = get(':method');
    const protocol = get(':protocol');
    if (method !== 'CONNECT' || protocol === undefined) return this.#respond(id, method === 'CONNECT' ? 501 : 404);
    if (protocol !== 'webtransport') return this.#respond(id, 400, `unsupported :protocol ${protocol}`);
    const path = get(':path');
    const authority = get(':authority');
    if (!path || !authority || get(':scheme') !== 'https') return this.#respond(id, 400, 'CONNECT without :scheme https, :authority and :path');
    if (this.#session) return this.#respond(id, 429, 'one WebTransport session per connection');
    let url: URL;
    try {
      url = new URL(path, `https://${authority}`);
    } catch {
      return this.#respond(id, 400, 'invalid :path');
    }
    const offered = [...(get('wt-available-protocols') ?? '').matchAll(/"([^"\\]*)"/g)].map((m) => m[1]!);
    if (!this.#o.onConnect) return this.#respond(id, 501);
    return this.#o.onConnect({ url, protocols: offered, headers });
  }

  /** Answers an admitted or refused CONNECT; returns the stream's next state. */
  #answer(id: number, decision: ConnectDecision): 'session' | 'done' {
    if (this.#session) return this.#respond(id, 429, 'one WebTransport session per connection');
    if (decision.status !== 200 || !('accept' in decision)) return this.#respond(id, decision.status, 'reason' in decision ? decision.reason : undefined);
    const response: HeaderList = [
      [':status', '200'],
      ['sec-webtransport-http3-draft', 'draft02'],
    ];
    if (decision.protocol) response.push(['wt-protocol', `"${decision.protocol}"`]);
    this.conn.write(id, frame(Frame.HEADERS, encodeFieldSection(response)), false).catch(() => undefined);
    const session = new WebTransportSession(id, { conn: this.conn, sendClose: (code, reason) => this.#sendClose(id, code, reason) });
    session.protocol = decision.protocol;
    this.#session = session;
    decision.accept(session);
    return 'session';
  }

  #respond(id: number, status: number, reason?: string): 'done' {
    const headers: HeaderList = [[':status', String(status)]];
    if (reason) headers.push(['content-type', 'text/plain']);
    const parts = [frame(Frame.HEADERS, encodeFieldSection(headers))];
    if (reason) parts.push(frame(Frame.DATA, new TextEncoder().encode(`${reason}\n`)));
    this.conn.write(id, concatBytes(parts), true).catch(() => undefined);
    this.conn.stopReading(id, H3Error.NO_ERROR);
    return 'done';
  }

  #sessionFrame(type: number, payload: Uint8Array): void {
    if (type !== Frame.DATA) return; // Trailers or unknown frames: nothing to do.
    const q = new ByteQueue();
    q.push(payload);
    for (;;) {
      const t = q.peekVarint();
      const l = t && q.peekVarint(t.size);
      if (!t || !l) break;
      if (q.length < t.size + l.size + l.value) throw new H3ConnectionError(H3Error.MESSAGE_ERROR, 'capsule split across DATA frames');
      q.skip(t.size + l.size);
      const value = q.take(l.value);
      if (t.value === Capsule.CLOSE_SESSION) {
        if (value.byteLength < 4) throw new H3ConnectionError(H3Error.MESSAGE_ERROR, 'short CLOSE_WEBTRANSPORT_SESSION capsule');
        const code = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
        const reason = new TextDecoder().decode(value.subarray(4));
        this.#session?.end({ closeCode: code, reason });
        this.#closeSoon();
      }
    }
    if (q.length > 0) throw new H3ConnectionError(H3Error.MESSAGE_ERROR, 'truncated capsule');
  }

  #sendClose(id: number, code: number, reason: string): void {
    const value = new Uint8Array(4 + Math.min(1024, reason.length * 3));
    new DataView(value.buffer).setUint32(0, code >>> 0);
    const n = new TextEncoder().encodeInto(reason.slice(0, 1024), value.subarray(4)).written;
    this.conn.write(id, frame(Frame.DATA, capsule(Capsule.CLOSE_SESSION, value.subarray(0, 4 + n))), true).then(
      () => this.#closeSoon(),
      () => this.#closeSoon(),
    );
  }

  /** After a session close, the connection has nothing left: close it once the capsule had time to go out. */
  #closeSoon(): void {
    setTimeout(() => this.conn.close(H3Error.NO_ERROR, 'session closed'), 100).unref();
  }

  #sessionFor(sessionId: number): WebTransportSession | undefined {
    const s = this.#session;
    return s && !s.ended && s.id === sessionId ? s : undefined;
  }
}

function capsule(type: number, value: Uint8Array): Uint8Array {
  return concatBytes([encodeVarint(type), encodeVarint(value.byteLength), value]);
}

/** Takes one complete frame off `q`, or undefined; an oversized frame is a connection error. */
function readFrame(q: ByteQueue): { type: number; payload: Uint8Array } | undefined {
  const t = q.peekVarint();
  const l = t && q.peekVarint(t.size);
  if (!t || !l) {
    if (q.length > MAX_STREAM_HEADER) throw new H3ConnectionError(H3Error.FRAME_ERROR, 'malformed frame header');
    return undefined;
  }
  if (l.value > MAX_FRAME) throw new H3ConnectionError(H3Error.EXCESSIVE_LOAD, `frame of ${l.value} bytes exceeds ${MAX_FRAME}`);
  if (q.length < t.size + l.size + l.value) return undefined;
  q.skip(t.size + l.size);
  return { type: t.value, payload: q.take(l.value) };
}

function parseSettings(payload: Uint8Array): Map<number, number> {
  const q = new ByteQueue();
  q.push(payload);
  const out = new Map<number, number>();
  while (q.length > 0) {
    const k = q.varint();
    const v = q.varint();
    if (k === undefined || v === undefined) throw new H3ConnectionError(H3Error.FRAME_ERROR, 'truncated SETTINGS');
    if (HTTP2_ONLY_SETTINGS.has(k)) throw new H3ConnectionError(H3Error.SETTINGS_ERROR, `HTTP/2 setting 0x${k.toString(16)}`);
    if (out.has(k)) throw new H3ConnectionError(H3Error.SETTINGS_ERROR, `duplicate setting 0x${k.toString(16)}`);
    out.set(k, v);
  }
  return out;
}
