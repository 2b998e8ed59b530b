/**
 * One QUIC connection over a quiche connection: feeds it the UDP datagrams the endpoint routes
 * here, sends what it produces, runs its timer, and turns its streams into push callbacks
 * (reads, with pause/resume so a slow reader holds the peer back through flow control) and
 * promise-returning writes (a write settles once quiche took every byte, so a caller that awaits
 * it never queues more than one chunk per stream). Teardown fails every stream and reports once.
 */
import type dgram from 'node:dgram';
import { quicheStreamCode, type HostPort, type QuicheConnection } from './quiche';

/** Receiver of one stream's incoming bytes. */
export interface StreamSink {
  /** Bytes in order; `fin` on the last call. */
  data(chunk: Uint8Array, fin: boolean): void;
  /** The stream failed: the peer reset it (`code`) or the connection ended (no code). */
  error(code: number | undefined, reason: string): void;
}

/** How a connection ended. */
export interface QuicCloseInfo {
  /** Whether the error code is an application (HTTP/3) code rather than a QUIC transport one. */
  app: boolean;
  code: number;
  reason: string;
  /** 'local' when we closed it, 'peer' when the peer did, 'idle' on idle timeout. */
  by: 'local' | 'peer' | 'idle';
}

/** A write that failed because the peer stopped the stream or the connection ended. */
export class QuicStreamError extends Error {
  override name = 'QuicStreamError';
  constructor(
    /** The peer's STOP_SENDING code, when that is the cause. */
    readonly streamErrorCode: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

interface PendingWrite {
  bytes: Uint8Array;
  offset: number;
  fin: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface StreamState {
  sink: StreamSink | undefined;
  paused: boolean;
  recvDone: boolean;
  sendDone: boolean;
  writes: PendingWrite[];
}

/** Callbacks from a connection to the protocol above it. */
export interface QuicConnectionHandler {
  /** The handshake completed. */
  established(): void;
  /** The peer opened stream `id`; return its sink. */
  stream(id: number, bidi: boolean): StreamSink;
  /** A QUIC DATAGRAM arrived. */
  datagram(payload: Uint8Array): void;
  /** The connection is gone (called once). */
  closed(info: QuicCloseInfo): void;
}

/** Options of {@link QuicConnection}. */
export interface QuicConnectionOptions {
  conn: QuicheConnection;
  socket: dgram.Socket;
  local: HostPort;
  peer: HostPort;
  isServer: boolean;
  /** Largest UDP payload we send. */
  maxPacket: number;
  /** The endpoint's bookkeeping when the connection is gone (before the handler hears of it). */
  onGone?: () => void;
  /**
   * Send a PING when nothing went out for this long (ms), so a healthy but quiet connection never
   * reaches the idle timeout and a peer whose relay vanished notices within that timeout.
   */
  keepAliveMs?: number;
}

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const SEND_BUFFER = Buffer.allocUnsafe(1500);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A QUIC connection driven by the endpoint's socket. */
export class QuicConnection {
  readonly peer: HostPort;
  handler: QuicConnectionHandler | undefined;
  readonly #o: QuicConnectionOptions;
  readonly #conn: QuicheConnection;
  readonly #streams = new Map<number, StreamState>();
  readonly #blockedWrites = new Set<number>();
  readonly #streamWaiters: Array<{ bidi: boolean; resolve: (id: number) => void; reject: (err: Error) => void }> = [];
  #nextBidi: number;
  #nextUni: number;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = 0;
  #flushScheduled = false;
  #established = false;
  #closed = false;
  #closing = false;
  #processing = false;
  #keepAlive: NodeJS.Timeout | undefined;
  #lastSentAt = performance.now();

  constructor(options: QuicConnectionOptions) {
    this.#o = options;
    this.#conn = options.conn;
    this.peer = options.peer;
    this.#nextBidi = options.isServer ? 1 : 0;
    this.#nextUni = options.isServer ? 3 : 2;
    const every = options.keepAliveMs;
    if (every) this.#keepAlive = setInterval(() => this.#ping(every), every);
  }

  /** True once the connection is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The negotiated ALPN ('' before the handshake). */
  get alpn(): string {
    return decoder.decode(this.#conn.applicationProto());
  }

  /** Packets and bytes seen (for stats). */
  stats(): { recv: number; sent: number; lost: number; sentBytes: number; recvBytes: number } {
    return this.#conn.stats();
  }

  /** Feeds one UDP datagram from the peer. */
  receive(packet: Buffer, from: HostPort): void {
    if (this.#closed) return;
    try {
      this.#conn.recv(packet, { from, to: this.#o.local });
    } catch {
      // Undecryptable or invalid packets are dropped by quiche; a fatal one closes the connection,
      // which #process notices.
    }
    // Datagrams that arrive together (a burst of ACKs, a flight of stream data) are processed
    // once: reading streams and producing packets after each one would repeat the work.
    this.#scheduleFlush();
  }

  /** Starts a client connection's handshake (sends its first flight). */
  kick(): void {
    this.#process();
  }

  /** Opens a stream of ours, waiting for stream credit from the peer when there is none. */
  openStream(bidi: boolean, urgency = 3): Promise<number> {
    if (this.#closed || this.#closing) return Promise.reject(new QuicStreamError(undefined, 'connection closed'));
    const id = this.#tryOpen(bidi, urgency);
    if (id !== undefined) return Promise.resolve(id);
    return new Promise((resolve, reject) => this.#streamWaiters.push({ bidi, resolve: (n) => resolve(n), reject }));
  }

  #tryOpen(bidi: boolean, urgency: number): number | undefined {
    const left = bidi ? this.#conn.peerStreamsLeftBidi() : this.#conn.peerStreamsLeftUni();
    if (left <= 0) return undefined;
    const id = bidi ? this.#nextBidi : this.#nextUni;
    try {
      // Creates the stream in quiche (checks the peer's stream limit).
      this.#conn.streamPriority(id, urgency, true);
    } catch {
      return undefined;
    }
    if (bidi) this.#nextBidi += 4;
    else this.#nextUni += 4;
    this.#streams.set(id, { sink: undefined, paused: false, recvDone: !bidi, sendDone: false, writes: [] });
    return id;
  }

  /** Sets the sink of a stream we opened (bidirectional) to receive the peer's bytes. */
  setSink(id: number, sink: StreamSink): void {
    const s = this.#streams.get(id);
    if (s) s.sink = sink;
  }

  /** Sets a stream's scheduling urgency (0 = most urgent … 7). */
  setUrgency(id: number, urgency: number): void {
    try {
      this.#conn.streamPriority(id, Math.max(0, Math.min(7, urgency)), true);
    } catch {
      // Stream gone.
    }
  }

  /** Queues bytes (and FIN) on a stream; settles once quiche accepted all of them. */
  write(id: number, bytes: Uint8Array, fin: boolean): Promise<void> {
    const s = this.#streams.get(id);
    if (!s || s.sendDone || this.#closed) return Promise.reject(new QuicStreamError(undefined, 'stream closed'));
    if (fin) s.sendDone = true;
    return new Promise<void>((resolve, reject) => {
      const w: PendingWrite = { bytes, offset: 0, fin, resolve, reject };
      s.writes.push(w);
      this.#drain(id, s);
      // What quiche could not take yet is copied, as a WebTransport write copies its chunk:
      // the caller may reuse its buffer as soon as write() returns.
      if (s.writes.includes(w)) {
        w.bytes = w.bytes.slice(w.offset);
        w.offset = 0;
      }
      this.#scheduleFlush();
    });
  }

  /** Resets our sending side with `code` (RESET_STREAM); queued bytes are dropped. */
  resetStream(id: number, code: number): void {
    const s = this.#streams.get(id);
    if (!s) return;
    this.#failWrites(s, new QuicStreamError(undefined, 'stream reset'));
    s.sendDone = true;
    try {
      this.#conn.streamShutdown(id, 1, code);
    } catch {
      // Already finished.
    }
    this.#blockedWrites.delete(id);
    this.#maybeForget(id, s);
    this.#scheduleFlush();
  }

  /** Stops reading a stream with `code` (STOP_SENDING); buffered bytes are discarded. */
  stopReading(id: number, code: number): void {
    const s = this.#streams.get(id);
    if (!s || s.recvDone) return;
    s.recvDone = true;
    s.sink = undefined;
    try {
      this.#conn.streamShutdown(id, 0, code);
    } catch {
      // Already finished.
    }
    this.#maybeForget(id, s);
    this.#scheduleFlush();
  }

  /** Stops delivering a stream's bytes until {@link resumeReading} (flow control holds the peer). */
  pauseReading(id: number): void {
    const s = this.#streams.get(id);
    if (s) s.paused = true;
  }

  /** Delivers a paused stream's buffered bytes again. */
  resumeReading(id: number): void {
    const s = this.#streams.get(id);
    if (!s || !s.paused) return;
    s.paused = false;
    // quiche still lists the stream as readable: the next pass delivers its bytes.
    this.#scheduleFlush();
  }

  /** Sends a QUIC DATAGRAM; dropped when the queue is full or too large. */
  sendDatagram(payload: Uint8Array): boolean {
    if (this.#closed) return false;
    try {
      this.#conn.dgramSend(payload);
    } catch {
      return false;
    }
    this.#scheduleFlush();
    return true;
  }

  /** Closes the connection with an application (HTTP/3) error code, or a transport one when `app` is false. */
  close(code: number, reason: string, app = true): void {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    try {
      this.#conn.close(app, code, encoder.encode(reason.slice(0, 200)));
    } catch {
      // Already closing.
    }
    this.#process();
  }

  /** Drops the connection at once without telling the peer (endpoint shutdown after close()). */
  destroy(reason: string): void {
    this.#teardown({ app: true, code: 0, reason, by: 'local' });
  }

  #process(): void {
    if (this.#closed) return;
    this.#processing = true;
    try {
      if (!this.#established && this.#conn.isEstablished()) {
        this.#established = true;
        this.handler?.established();
      }
      if (this.#established) {
        this.#readStreams();
        this.#readDatagrams();
        for (const id of [...this.#blockedWrites]) {
          const s = this.#streams.get(id);
          if (s) this.#drain(id, s);
          else this.#blockedWrites.delete(id);
        }
        this.#serveStreamWaiters();
      }
    } finally {
      this.#processing = false;
    }
    this.#flush();
  }

  #readStreams(): void {
    // Most passes (ACKs for what we sent) have nothing to read: skip building the iterator.
    if (!this.#conn.isReadable()) return;
    for (const id of [...this.#conn.readable()]) this.#readStream(id);
  }

  #isPeerStream(id: number): boolean {
    return (id & 1) !== (this.#o.isServer ? 1 : 0);
  }

  #readStream(id: number): void {
    let s = this.#streams.get(id);
    if (!s) {
      if (!this.#isPeerStream(id) || this.#closing || !this.handler) return;
      const bidi = (id & 2) === 0;
      s = { sink: undefined, paused: false, recvDone: false, sendDone: !bidi, writes: [] };
      this.#streams.set(id, s);
      s.sink = this.handler.stream(id, bidi);
    }
    while (!s.paused && !s.recvDone) {
      let r: [number, boolean] | null;
      try {
        r = this.#conn.streamRecv(id, READ_BUFFER);
      } catch (err) {
        const code = quicheStreamCode(err, 'StreamReset');
        if (code === undefined) return; // Done / nothing buffered.
        s.recvDone = true;
        s.sink?.error(code, `stream reset by peer (code ${code})`);
        this.#maybeForget(id, s);
        return;
      }
      if (!r) return;
      const [n, fin] = r;
      if (fin) s.recvDone = true;
      if (n > 0 || fin) s.sink?.data(new Uint8Array(READ_BUFFER.subarray(0, n)), fin); // A copy: the buffer is reused.
      if (fin) {
        this.#maybeForget(id, s);
        return;
      }
      if (n === 0) return;
    }
  }

  #readDatagrams(): void {
    if (this.#conn.dgramRecvQueueLen() === 0) return;
    for (let i = 0; i < 1000; i++) {
      let d: Uint8Array | null;
      try {
        d = this.#conn.dgramRecvVec();
      } catch {
        return;
      }
      if (!d) return;
      this.handler?.datagram(d);
    }
  }

  #drain(id: number, s: StreamState): void {
    while (s.writes.length > 0) {
      const w = s.writes[0]!;
      let n: number | null;
      try {
        n = this.#conn.streamSend(id, w.offset === 0 ? w.bytes : w.bytes.subarray(w.offset), w.fin);
      } catch (err) {
        const code = quicheStreamCode(err, 'StreamStopped');
        if (code === undefined && /Done/.test(String(err))) {
          this.#blockedWrites.add(id);
          return;
        }
        this.#failWrites(s, new QuicStreamError(code, code === undefined ? `stream write failed: ${String(err)}` : `peer stopped the stream (code ${code})`));
        s.sendDone = true;
        this.#blockedWrites.delete(id);
        this.#maybeForget(id, s);
        return;
      }
      if (n === null) {
        this.#blockedWrites.add(id);
        return;
      }
      w.offset += n;
      if (w.offset < w.bytes.byteLength) {
        this.#blockedWrites.add(id);
        return;
      }
      s.writes.shift();
      w.resolve();
    }
    this.#blockedWrites.delete(id);
    if (s.sendDone) this.#maybeForget(id, s);
  }

  #failWrites(s: StreamState, err: Error): void {
    for (const w of s.writes.splice(0)) w.reject(err);
  }

  #maybeForget(id: number, s: StreamState): void {
    if (s.recvDone && s.sendDone && s.writes.length === 0) this.#streams.delete(id);
  }

  #serveStreamWaiters(): void {
    while (this.#streamWaiters.length > 0) {
      const w = this.#streamWaiters[0]!;
      const id = this.#tryOpen(w.bidi, 3);
      if (id === undefined) return;
      this.#streamWaiters.shift();
      w.resolve(id);
    }
  }

  #ping(quietMs: number): void {
    if (!this.#established || this.#closing || this.#closed || performance.now() - this.#lastSentAt < quietMs) return;
    try {
      this.#conn.sendAckEliciting();
    } catch {
      return;
    }
    this.#process();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#closed) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#process();
    });
  }

  #flush(): void {
    if (this.#closed) return;
    const socket = this.#o.socket;
    for (let i = 0; i < 10_000; i++) {
      let r: [number, { to: HostPort }] | null;
      try {
        r = this.#conn.send(SEND_BUFFER.subarray(0, this.#o.maxPacket));
      } catch {
        break;
      }
      if (!r) break;
      const [n, info] = r;
      this.#lastSentAt = performance.now();
      // dgram sends asynchronously from the buffer it is given: hand it a copy of this packet.
      socket.send(Buffer.from(SEND_BUFFER.subarray(0, n)), info.to.port, info.to.host);
    }
    if (this.#conn.isClosed()) {
      this.#teardownFromQuiche();
      return;
    }
    this.#armTimer();
  }

  #armTimer(): void {
    const ms = this.#conn.timeout();
    if (ms === null || ms === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    const due = performance.now() + Math.max(0, Math.ceil(ms));
    // A timer that fires no later than needed is kept (firing early is harmless: quiche only acts
    // on expired timers, and the pass re-arms), which saves a clear/set on nearly every flush.
    if (this.#timer && this.#timerDue <= due) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        if (this.#closed) return;
        this.#conn.onTimeout();
        this.#process();
      },
      Math.max(0, Math.ceil(ms)),
    );
  }

  #teardownFromQuiche(): void {
    const peerErr = this.#conn.peerError();
    const localErr = this.#conn.localError();
    const err = peerErr ?? localErr;
    const by: QuicCloseInfo['by'] = this.#conn.isTimedOut() && !err ? 'idle' : peerErr ? 'peer' : 'local';
    this.#teardown({
      app: err?.isApp ?? false,
      code: err?.errorCode ?? 0,
      reason: err ? decoder.decode(err.reason) : by === 'idle' ? 'idle timeout' : 'closed',
      by,
    });
  }

  #teardown(info: QuicCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#keepAlive);
    const err = new QuicStreamError(undefined, `connection closed: ${info.reason || info.code}`);
    for (const s of this.#streams.values()) {
      this.#failWrites(s, err);
      if (!s.recvDone) s.sink?.error(undefined, err.message);
    }
    this.#streams.clear();
    this.#blockedWrites.clear();
    for (const w of this.#streamWaiters.splice(0)) w.reject(err);
    this.#o.onGone?.();
    this.handler?.closed(info);
  }
}
