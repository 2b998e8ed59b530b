/**
 * A small signaling client over `ws` for load generation: requests with timeouts, error codes
 * kept, notifications counted, and no media stack (transports are created but never connected).
 */
import WebSocket from 'ws';

/** An error reply of the node (`code` is the wire error code) or a client-side failure. */
export class SignalingError extends Error {
  override name = 'SignalingError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** H264 video RTP parameters a load client can `produce` with (no media has to flow). */
export function fakeVideoRtpParameters(ssrc: number): Record<string, unknown> {
  return {
    codecs: [
      {
        mimeType: 'video/H264',
        payloadType: 102,
        clockRate: 90000,
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
      },
    ],
    encodings: [{ ssrc }],
    headerExtensions: [],
    rtcp: { cname: `loadtest-${ssrc}`, reducedSize: true },
  };
}

/** One signaling connection. */
export class SignalingClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #next = 1;
  #closed = false;
  /** Notifications received, by name. */
  readonly notifications = new Map<string, number>();
  /** When the last notification arrived (performance.now(), before parsing handlers ran). */
  lastNotificationAt = 0;
  /** Called for every notification (after counting). */
  onNotification: ((name: string, data: unknown) => void) | undefined;
  /** Resolves when the socket closes: code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.#closed = true;
        for (const [, p] of this.#pending) {
          clearTimeout(p.timer);
          p.reject(new SignalingError('SOCKET_CLOSED', `socket closed (${code})`));
        }
        this.#pending.clear();
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('error', () => undefined);
    ws.on('message', (raw) => {
      let msg: { id?: number; ok?: boolean; data?: unknown; error?: { code: string; message: string }; notification?: string };
      const receivedAt = performance.now();
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return;
      }
      if (msg.notification) {
        this.notifications.set(msg.notification, (this.notifications.get(msg.notification) ?? 0) + 1);
        this.lastNotificationAt = receivedAt;
        this.onNotification?.(msg.notification, msg.data);
        return;
      }
      const p = typeof msg.id === 'number' ? this.#pending.get(msg.id) : undefined;
      if (!p) return;
      this.#pending.delete(msg.id!);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.data);
      else p.reject(new SignalingError(msg.error?.code ?? 'UNKNOWN', msg.error?.message ?? 'error'));
    });
  }

  /** Opens `${baseUrl}/ws`; rejects after `timeoutMs`. */
  static async connect(baseUrl: string, timeoutMs = 10_000): Promise<SignalingClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/ws', { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new SignalingError('CONNECT_TIMEOUT', `no WebSocket open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new SignalingError('CONNECT_FAILED', err.message));
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        ws.terminate();
        reject(new SignalingError(`HTTP_${res.statusCode}`, `WebSocket upgrade refused: HTTP ${res.statusCode}`));
      });
    });
    return new SignalingClient(ws);
  }

  /** Sends a request; resolves with `data` or rejects with a {@link SignalingError}. */
  request<T = any>(method: string, params?: unknown, timeoutMs = 10_000): Promise<T> {
    if (this.#closed) return Promise.reject(new SignalingError('SOCKET_CLOSED', 'socket closed'));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SignalingError('TIMEOUT', `no reply to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Closes the socket (resolves when closed or after 2 s). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#ws.close(1000);
    const timer = new Promise<void>((r) => setTimeout(r, 2000).unref());
    await Promise.race([this.closed, timer]);
    if (!this.#closed) this.#ws.terminate();
  }
}
