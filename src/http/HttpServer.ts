/**
 * The node's HTTP server on uWebSockets.js: a small route table over one `app.any` handler,
 * async handlers returning plain response objects, body limits, CORS, errors mapped to
 * `{code, message}` JSON with the status of their code. WebSocket routes are added by their
 * owners through {@link HttpServer.app}.
 */
import type uWSTypes from 'uWebSockets.js';
import { uWS } from './uws';
import type { Logger } from '../core/logger';
import { SubsecError, toWireError } from '../core/errors';
import { ErrorCode, httpStatusOf } from '../protocol/errors';

/** A parsed request handed to route handlers. */
export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Named path parameters (`:name` segments). */
  params: Record<string, string>;
  body: Buffer;
  /** Aborted when the client goes away (long-polls should stop waiting). */
  signal: AbortSignal;
  /** Remote address as text. */
  remoteAddress: string;
}

/** What a handler returns. */
export interface HttpResponse {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer | Uint8Array;
}

/** A route handler. */
export type HttpHandler = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** Options of a route. */
export interface RouteOptions {
  /** Largest accepted body in bytes (default 256 KiB); larger → 413. */
  maxBodyBytes?: number;
}

interface Route {
  method: string;
  segments: string[];
  handler: HttpHandler;
  options: RouteOptions;
}

/** Options of {@link HttpServer}. */
export interface HttpServerOptions {
  corsOrigin: string;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** JSON response helper. */
export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The HTTP server. */
export class HttpServer {
  /** The uWS app, for WebSocket routes. */
  readonly app: uWSTypes.TemplatedApp;
  readonly #routes: Route[] = [];
  readonly #log: Logger;
  readonly #options: HttpServerOptions;
  #listenSocket: uWSTypes.us_listen_socket | undefined;
  #port = 0;

  constructor(options: HttpServerOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
    this.app = uWS.App();
  }

  /** Adds a route; `pattern` segments starting with ':' are parameters, a final '*' matches the rest. */
  route(method: string, pattern: string, handler: HttpHandler, options: RouteOptions = {}): void {
    this.#routes.push({ method: method.toUpperCase(), segments: pattern.split('/').filter(Boolean), handler, options });
  }

  /** The bound port (after listen). */
  get port(): number {
    return this.#port;
  }

  /** Binds host:port (port 0 = any free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    this.app.any('/*', (res, req) => this.#dispatch(res, req));
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${host}:${port}`));
        this.#listenSocket = socket;
        this.#port = uWS.us_socket_local_port(socket);
        resolve(this.#port);
      });
    });
  }

  /** Stops accepting connections. Idempotent. */
  close(): void {
    if (this.#listenSocket) uWS.us_listen_socket_close(this.#listenSocket);
    this.#listenSocket = undefined;
  }

  #match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    const parts = path.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < route.segments.length; i++) {
        const seg = route.segments[i]!;
        if (seg === '*') {
          params['*'] = parts.slice(i).join('/');
          break;
        }
        const part = parts[i];
        if (part === undefined) {
          ok = false;
          break;
        }
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(part);
          } catch {
            ok = false;
            break;
          }
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (ok && !route.segments.includes('*') && parts.length !== route.segments.length) ok = false;
      if (!ok) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      allowed.push(route.method);
    }
    return { allowed };
  }

  #dispatch(res: uWSTypes.HttpResponse, req: uWSTypes.HttpRequest): void {
    const method = req.getCaseSensitiveMethod?.() ?? req.getMethod().toUpperCase();
    const path = req.getUrl();
    const query = new URLSearchParams(req.getQuery() ?? '');
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = v;
    });
    const abort = new AbortController();
    let done = false;
    res.onAborted(() => {
      done = true;
      abort.abort();
    });
    const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    const send = (r: HttpResponse) => {
      if (done) return;
      done = true;
      res.cork(() => this.#write(res, method, r));
    };

    if (method === 'OPTIONS' && !('route' in this.#match('OPTIONS', path))) {
      const methods = [...new Set(this.#routes.map((r) => r.method))].filter((m) => 'route' in this.#match(m, path));
      if (methods.length === 0) return send(errorResponse(404, `no route for ${path}`, ErrorCode.NOT_FOUND));
      return send({ status: 204, headers: { 'access-control-allow-methods': [...methods, 'OPTIONS'].join(', ') } });
    }
    const matched = this.#match(method, path);
    if ('allowed' in matched) {
      const status = matched.allowed.length > 0 ? 405 : 404;
      return send(
        errorResponse(status, status === 405 ? 'method not allowed' : `no route for ${path}`, status === 405 ? ErrorCode.BAD_REQUEST : ErrorCode.NOT_FOUND),
      );
    }
    const { route, params } = matched;
    const maxBody = route.options.maxBodyBytes ?? 256 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    const run = (body: Buffer) => {
      const request: HttpRequest = { method, path, query, headers, params, body, signal: abort.signal, remoteAddress };
      Promise.resolve()
        .then(() => route.handler(request))
        .then(send, (err: unknown) => {
          if (!(err instanceof SubsecError)) this.#log.error('http handler failed', { method, path, error: err });
          const wire = toWireError(err);
          send(errorResponse(httpStatusOf[wire.code], wire.message, wire.code));
        });
    };
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE' || method === 'OPTIONS') return run(Buffer.alloc(0));
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > maxBody) {
        return send(errorResponse(413, `body larger than ${maxBody} bytes`, ErrorCode.PAYLOAD_TOO_LARGE));
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) run(Buffer.concat(chunks));
    });
  }

  #write(res: uWSTypes.HttpResponse, method: string, r: HttpResponse): void {
    const status = r.status ?? 200;
    res.writeStatus(`${status} ${STATUS_TEXT[status] ?? ''}`);
    const headers: Record<string, string | string[]> = { 'access-control-allow-origin': this.#options.corsOrigin, ...r.headers };
    if (!('access-control-expose-headers' in headers)) headers['access-control-expose-headers'] = 'Location, ETag, Link, Accept-Patch, Accept-Post';
    if (!('access-control-allow-headers' in headers)) headers['access-control-allow-headers'] = 'Authorization, Content-Type, If-Match, If-None-Match';
    for (const [k, v] of Object.entries(headers)) {
      for (const value of Array.isArray(v) ? v : [v]) res.writeHeader(k, value);
    }
    if (method === 'HEAD') res.endWithoutBody();
    else res.end(r.body ?? '');
  }
}

/** A `{code, message}` JSON error response. */
export function errorResponse(status: number, message: string, code: string): HttpResponse {
  return json(status, { code, message });
}
