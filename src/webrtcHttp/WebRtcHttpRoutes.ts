/**
 * The routes WHIP and WHEP share, and the sessions they keep (RFC 9725 and the WHEP draft):
 *
 *     POST   /<protocol>/{room}/{stream}            SDP offer → 201 (the endpoint's own handler)
 *     PATCH  /<protocol>/{room}/{stream}/{session}  trickle ICE / ICE restart (sdpfrag), or an
 *                                                   extension content type the endpoint accepts
 *     DELETE /<protocol>/{room}/{stream}/{session}  ends the session
 *
 * Each endpoint gives the POST handler and any PATCH extension; the session lookup (token for
 * the room, 404 for another room, stream or an unknown id), the open-session gauge and the
 * rejection counter by error code are the same for both.
 */
import client from 'prom-client';
import { NotFoundError, toWireError } from '../core/errors';
import type { HttpHandler, HttpRequest, HttpResponse, HttpServer } from '../http/HttpServer';
import type { TokenService } from '../auth/tokens';
import { authorize, checkName, contentType, handleIcePatch, MAX_PATCH_BYTES, MAX_SDP_BYTES, unsupportedPatch } from './httpRequests';
import type { WebRtcHttpSession } from './WebRtcHttpSession';

/** Options of {@link WebRtcHttpRoutes}. */
export interface WebRtcHttpRoutesOptions {
  /** `whip` or `whep`: the path prefix and the metric names (`subsec_<protocol>_sessions`, `subsec_<protocol>_rejected_total`). */
  protocol: 'whip' | 'whep';
  /** What an open session is, for the gauge's help text (`WHIP publications`). */
  sessionsHelp: string;
  tokens: TokenService;
  registry: client.Registry;
}

/** A PATCH extension: another content type than `application/trickle-ice-sdpfrag` and its handler. */
export interface PatchExtension<S> {
  contentType: string;
  handle(session: S, req: HttpRequest): Promise<HttpResponse>;
}

/** The shared routes of one protocol and its open sessions. */
export class WebRtcHttpRoutes<S extends WebRtcHttpSession> {
  readonly #o: WebRtcHttpRoutesOptions;
  readonly #sessions = new Map<string, S>();
  readonly #rejected: client.Counter<'code'>;

  constructor(options: WebRtcHttpRoutesOptions) {
    this.#o = options;
    const sessions = this.#sessions;
    new client.Gauge({
      name: `subsec_${options.protocol}_sessions`,
      help: `Open ${options.sessionsHelp}`,
      registers: [options.registry],
      collect() {
        this.set(sessions.size);
      },
    });
    this.#rejected = new client.Counter({
      name: `subsec_${options.protocol}_rejected_total`,
      help: `${options.protocol.toUpperCase()} requests answered with an error, by error code`,
      labelNames: ['code'],
      registers: [options.registry],
    });
  }

  /** Open sessions by id. */
  get sessions(): ReadonlyMap<string, S> {
    return this.#sessions;
  }

  /** Registers POST (`create`), PATCH and DELETE (before the static catch-all route). */
  register(http: HttpServer, create: HttpHandler, extension?: PatchExtension<S>): void {
    const base = `/${this.#o.protocol}/:room/:stream`;
    http.route('POST', base, this.#counted(create), { maxBodyBytes: MAX_SDP_BYTES });
    http.route(
      'PATCH',
      `${base}/:session`,
      this.#counted(async (req) => {
        const session = await this.#session(req);
        const type = contentType(req);
        if (type === 'application/trickle-ice-sdpfrag') return handleIcePatch(req, session);
        if (!extension || type !== extension.contentType) {
          unsupportedPatch(req, ['application/trickle-ice-sdpfrag', ...(extension ? [extension.contentType] : [])]);
        }
        return extension.handle(session, req);
      }),
      { maxBodyBytes: MAX_PATCH_BYTES },
    );
    http.route(
      'DELETE',
      `${base}/:session`,
      this.#counted(async (req) => {
        (await this.#session(req)).close('deleted by client');
        return { status: 200 };
      }),
    );
  }

  /** Keeps a new session until it closes. */
  add(session: S): void {
    this.#sessions.set(session.id, session);
    session.once('closed', () => this.#sessions.delete(session.id));
  }

  /** Closes every session. */
  closeAll(reason: string): void {
    for (const s of [...this.#sessions.values()]) s.close(reason);
  }

  async #session(req: HttpRequest): Promise<S> {
    const roomName = checkName(req.params.room, 'room');
    await authorize(req, this.#o.tokens, roomName);
    const session = this.#sessions.get(req.params.session ?? '');
    if (!session || session.room.name !== roomName || session.streamName !== req.params.stream) {
      throw new NotFoundError(`no such ${this.#o.protocol.toUpperCase()} session`);
    }
    return session;
  }

  #counted(handler: HttpHandler): HttpHandler {
    return async (req) => {
      try {
        return await handler(req);
      } catch (err) {
        this.#rejected.inc({ code: toWireError(err).code });
        throw err;
      }
    };
  }
}
