/**
 * One signaling WebSocket: request/response matched by id with per-request timeouts, and typed
 * server notifications. It never reconnects; {@link NodeConnection} and {@link SubsecClient} decide that.
 */
import type { Method, NotificationName, Notifications, RequestParams, ResponseData, ServerMessage } from '../../../src/protocol/signaling';
import type { WireError } from '../../../src/protocol/errors';
import { ServerError, SubsecError, TimeoutError } from './errors';
import { TypedEmitter } from './TypedEmitter';

/**
 * Largest signaling frame the node accepts, in bytes. Mirrors `MAX_SIGNALING_MESSAGE_BYTES` of the
 * protocol, copied rather than imported so the bundle does not pull zod in.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/** A server notification with its typed payload. */
export type NotificationEvent = {
  [N in NotificationName]: { name: N; data: Notifications[N] };
}[NotificationName];

/** The WebSocket constructor to use (the browser's by default; `ws` in Node tests). */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** Options of {@link SignalingChannel.open}. */
export interface SignalingChannelOptions {
  /** Time allowed for the socket to open, in ms. */
  connectTimeoutMs: number;
  /** Default time allowed for each response, in ms. */
  requestTimeoutMs: number;
  /** WebSocket implementation (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Aborts opening. */
  signal?: AbortSignal;
}

/** Events of {@link SignalingChannel}. */
export interface SignalingChannelEvents {
  /** A server push. */
  notification: NotificationEvent;
  /** The socket closed; `local` when {@link SignalingChannel.close} was called. */
  close: { code: number; reason: string; local: boolean };
  /** The server reported an error not tied to a request (e.g. a frame it could not parse). */
  protocolError: SubsecError;
}

interface Pending {
  method: string;
  resolve: (data: unknown) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

const encoder = new TextEncoder();

function frameBytes(frame: string): number {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: skip encoding the (usual) small frames.
  return frame.length * 3 <= MAX_FRAME_BYTES ? frame.length : encoder.encode(frame).length;
}

/** A connected signaling socket. */
export class SignalingChannel extends TypedEmitter<SignalingChannelEvents> {
  readonly #ws: WebSocket;
  readonly #requestTimeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  #nextId = 0;
  #closed = false;

  /** Opens a socket to `url`; rejects with CONNECTION_FAILED, TIMEOUT or ABORTED. */
  static open(url: string, options: SignalingChannelOptions): Promise<SignalingChannel> {
    return new Promise((resolve, reject) => {
      const Ctor = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
      if (!Ctor) {
        reject(new SubsecError('UNSUPPORTED_BROWSER', 'WebSocket is not available'));
        return;
      }
      if (options.signal?.aborted) {
        reject(new SubsecError('ABORTED', 'connect aborted'));
        return;
      }
      let ws: WebSocket;
      try {
        ws = new Ctor(url);
      } catch (cause) {
        reject(new SubsecError('CONNECTION_FAILED', `cannot open ${url}`, { cause }));
        return;
      }
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        ws.onopen = null;
        ws.onclose = null;
        ws.onerror = null;
      };
      const fail = (error: SubsecError): void => {
        cleanup();
        try {
          ws.close();
        } catch {
          // Closing a socket that never opened may throw in some engines; nothing to release.
        }
        reject(error);
      };
      const onAbort = (): void => fail(new SubsecError('ABORTED', 'connect aborted'));
      const timer = setTimeout(() => fail(new TimeoutError(`signaling socket did not open within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      ws.onopen = () => {
        cleanup();
        resolve(new SignalingChannel(ws, options.requestTimeoutMs));
      };
      // The close event that follows carries the details.
      ws.onerror = () => undefined;
      ws.onclose = (event) => {
        cleanup();
        reject(new SubsecError('CONNECTION_FAILED', `cannot open ${url} (close code ${event.code})`));
      };
    });
  }

  private constructor(ws: WebSocket, requestTimeoutMs: number) {
    super();
    this.#ws = ws;
    this.#requestTimeoutMs = requestTimeoutMs;
    ws.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    ws.onerror = () => undefined;
    ws.onclose = (event) => this.#onClosed(event.code, event.reason, false);
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a request and resolves with its typed result.
   *
   * @throws {ServerError} the node's error; {@link TimeoutError}; CONNECTION_LOST when the socket
   *   closes first; PAYLOAD_TOO_LARGE when the frame exceeds {@link MAX_FRAME_BYTES}.
   */
  request<M extends Method>(method: M, params: RequestParams<M>, timeoutMs: number = this.#requestTimeoutMs): Promise<ResponseData[M]> {
    if (this.#closed) {
      return Promise.reject(new SubsecError('CONNECTION_LOST', `${method}: signaling socket is closed`));
    }
    const id = ++this.#nextId;
    const frame = JSON.stringify(params === undefined ? { id, method } : { id, method, params });
    if (frameBytes(frame) > MAX_FRAME_BYTES) {
      return Promise.reject(new SubsecError('PAYLOAD_TOO_LARGE', `${method}: request exceeds ${MAX_FRAME_BYTES} bytes`));
    }
    return new Promise<ResponseData[M]>((resolve, reject) => {
      const key = String(id);
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        reject(new TimeoutError(`${method}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(key, { method, resolve: resolve as (data: unknown) => void, reject, timer });
      try {
        this.#ws.send(frame);
      } catch (cause) {
        clearTimeout(timer);
        this.#pending.delete(key);
        reject(new SubsecError('CONNECTION_LOST', `${method}: send failed`, { cause }));
      }
    });
  }

  /** Closes the socket (idempotent); pending requests reject with CONNECTION_LOST. */
  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    try {
      this.#ws.close(code, reason);
    } catch {
      // Already closing; the pending requests are failed below either way.
    }
    this.#onClosed(code, reason, true);
  }

  #onClosed(code: number, reason: string, local: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ws.onmessage = null;
    this.#ws.onclose = null;
    for (const [key, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(key);
      pending.reject(new SubsecError('CONNECTION_LOST', `${pending.method}: signaling socket closed (${code})`));
    }
    this.emit('close', { code, reason, local });
  }

  #onMessage(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let message: ServerMessage;
    try {
      message = JSON.parse(raw) as ServerMessage;
    } catch {
      this.emit('protocolError', new SubsecError('INVALID_MESSAGE', 'unparsable frame from server'));
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    if ('notification' in message) {
      this.emit('notification', { name: message.notification, data: message.data } as NotificationEvent);
      return;
    }
    const pending = message.id === null || message.id === undefined ? undefined : this.#pending.get(String(message.id));
    if (!pending) {
      if (!message.ok) {
        const error = (message as { error?: WireError }).error;
        this.emit('protocolError', new ServerError(error ?? { code: 'INTERNAL', message: 'unknown error' }, 'signaling'));
      }
      return;
    }
    clearTimeout(pending.timer);
    this.#pending.delete(String(message.id));
    if (message.ok) pending.resolve(message.data);
    else pending.reject(new ServerError(message.error ?? { code: 'INTERNAL', message: 'unknown error' }, pending.method));
  }
}
