/**
 * The WHEP endpoint (draft-ietf-wish-whep) on the node's HTTP server:
 *
 *     POST   /whep/{room}/{stream}[?spatialLayer=N&temporalLayer=M]   SDP offer → 201 + answer
 *     PATCH  /whep/{room}/{stream}/{session}   trickle ICE / ICE restart (sdpfrag), or
 *                                              `application/json` {spatialLayer, temporalLayer}
 *     DELETE /whep/{room}/{stream}/{session}   ends the viewing session
 *
 * The token must grant the room and `canSubscribe`. `{stream}` is the publisher's identity
 * (a WHIP stream name, an SRT stream name or an SDK peer's identity). In a cascade the stream may
 * live on another node: the stream hub brings it here for as long as the session lasts.
 */
import client from 'prom-client';
import { z } from 'zod';
import type { Logger } from '../../core/logger';
import { BadRequestError, ForbiddenError, NotFoundError, SubsecError, toWireError } from '../../core/errors';
import { ErrorCode } from '../../protocol/errors';
import type { HttpHandler, HttpRequest, HttpServer } from '../../http/HttpServer';
import type { TokenService } from '../../auth/tokens';
import type { RoomManager } from '../../sfu/RoomManager';
import type { RtcTransportSettings } from '../../sfu/transports';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import type { Config } from '../../config/schema';
import {
  authorize,
  checkName,
  contentType,
  handleIcePatch,
  linkHeader,
  type IceServer,
  MAX_PATCH_BYTES,
  MAX_SDP_BYTES,
  sdpBody,
  unsupportedPatch,
} from '../../webrtcHttp/httpRequests';
import type { WorkerPool } from '../../sfu/WorkerPool';
import { parseSdp } from '../../sdp/SessionDescription';
import { WhepSession, type LayerPreference } from './WhepSession';
import { WhepRouters } from './WhepRouters';
import type { StreamHub } from '../../streams/StreamHub';

/** Dependencies of {@link WhepEndpoint}. */
export interface WhepEndpointDeps {
  rooms: RoomManager;
  /** Worker pool, for the routers in viewers' payload-type numbering. */
  pool: WorkerPool;
  tokens: TokenService;
  rtcSettings: RtcTransportSettings;
  metrics: SfuMetrics;
  config: Config['whep'];
  log: Logger;
  /** Time-limited TURN credentials for a token identity, sent as extra `Link` headers (RFC 9725 §4.4). */
  iceServersFor?: (identity: string) => IceServer[];
  /** True while the node drains: new sessions get 503. */
  isDraining?: () => boolean;
  /** The stream hub: a session holds its stream (pulled from another node when it lives there) for its life. */
  streams: Pick<StreamHub, 'acquire'>;
}

const layerSchema = z.strictObject({
  spatialLayer: z.number().int().min(0).max(3),
  temporalLayer: z.number().int().min(0).max(3).optional(),
});

/** WHEP routes and the sessions they created. */
export class WhepEndpoint {
  readonly #deps: WhepEndpointDeps;
  readonly #sessions = new Map<string, WhepSession>();
  readonly #routers: WhepRouters;
  readonly #rejected: client.Counter<'code'>;

  constructor(deps: WhepEndpointDeps) {
    this.#deps = deps;
    this.#routers = new WhepRouters(deps.pool);
    const sessions = this.#sessions;
    new client.Gauge({
      name: 'subsec_whep_sessions',
      help: 'Open WHEP viewing sessions',
      registers: [deps.metrics.registry],
      collect() {
        this.set(sessions.size);
      },
    });
    this.#rejected = new client.Counter({
      name: 'subsec_whep_rejected_total',
      help: 'WHEP requests answered with an error, by error code',
      labelNames: ['code'],
      registers: [deps.metrics.registry],
    });
  }

  /** Open sessions by id. */
  get sessions(): ReadonlyMap<string, WhepSession> {
    return this.#sessions;
  }

  /** Registers the routes (before the static catch-all route). */
  register(http: HttpServer): void {
    http.route(
      'POST',
      '/whep/:room/:stream',
      this.#counted((req) => this.#view(req)),
      { maxBodyBytes: MAX_SDP_BYTES },
    );
    http.route(
      'PATCH',
      '/whep/:room/:stream/:session',
      this.#counted(async (req) => {
        const session = await this.#session(req);
        const type = contentType(req);
        if (type === 'application/trickle-ice-sdpfrag') return handleIcePatch(req, session);
        if (type !== 'application/json') unsupportedPatch(req, ['application/trickle-ice-sdpfrag', 'application/json']);
        await session.setLayers(parseLayers(req.body.toString('utf8')));
        return { status: 204 };
      }),
      { maxBodyBytes: MAX_PATCH_BYTES },
    );
    http.route(
      'DELETE',
      '/whep/:room/:stream/:session',
      this.#counted(async (req) => {
        (await this.#session(req)).close('deleted by client');
        return { status: 200 };
      }),
    );
  }

  /** Ends every viewing session. */
  close(): void {
    for (const s of [...this.#sessions.values()]) s.close('node shutting down');
  }

  async #view(req: HttpRequest) {
    const deps = this.#deps;
    const roomName = checkName(req.params.room, 'room');
    const stream = checkName(req.params.stream, 'stream');
    const token = await authorize(req, deps.tokens, roomName);
    if (!token.canSubscribe) throw new ForbiddenError('token does not allow subscribing');
    const layers = layersFromQuery(req.query);
    const offer = parseSdp(sdpBody(req));
    if (deps.isDraining?.()) throw new SubsecError(ErrorCode.DRAINING, 'node is draining');
    if (this.#sessions.size >= deps.config.maxSessions) throw new SubsecError(ErrorCode.DRAINING, 'WHEP session limit reached');
    // Hold the stream here (pulled from its origin when it lives on another node) for the session's life.
    const lease = await deps.streams.acquire(roomName, stream, { signal: req.signal });
    let session: WhepSession;
    let answer: string;
    try {
      ({ session, answer } = await WhepSession.start(
        {
          room: lease.stream.room,
          identity: token.identity,
          stream: lease.stream,
          layers,
          routers: this.#routers,
          rtcSettings: deps.rtcSettings,
          log: deps.log,
          connectTimeoutMs: deps.config.connectTimeoutMs,
          disconnectTimeoutMs: deps.config.disconnectTimeoutMs,
        },
        offer,
      ));
    } catch (err) {
      lease.release();
      throw err;
    }
    this.#sessions.set(session.id, session);
    const location = `/whep/${encodeURIComponent(roomName)}/${encodeURIComponent(stream)}/${session.id}`;
    // Listed in /v1/streams as one `whep` output of the stream while it lasts.
    const listing = lease.stream.attach({
      kind: 'whep',
      url: location,
      start: async () => undefined,
      close: () => session.close('closed'),
      stats: () => ({ consumers: session.consumers.filter((c) => !c.closed).length, ice: session.iceState }),
    });
    session.once('closed', () => {
      this.#sessions.delete(session.id);
      listing.close();
      lease.release();
    });
    deps.log.info('WHEP session started', { room: roomName, stream, session: session.id, viewer: token.identity, tracks: session.consumers.length });
    return {
      status: 201,
      headers: {
        'content-type': 'application/sdp',
        location,
        etag: session.etag,
        'accept-patch': 'application/trickle-ice-sdpfrag, application/json',
        ...linkHeader([...deps.config.iceServers, ...(deps.iceServersFor?.(token.identity) ?? [])]),
      },
      body: answer,
    };
  }

  async #session(req: HttpRequest): Promise<WhepSession> {
    const roomName = checkName(req.params.room, 'room');
    await authorize(req, this.#deps.tokens, roomName);
    const session = this.#sessions.get(req.params.session ?? '');
    if (!session || session.room.name !== roomName || session.streamName !== req.params.stream) throw new NotFoundError('no such WHEP session');
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

function layersFromQuery(query: URLSearchParams): LayerPreference | undefined {
  const spatial = query.get('spatialLayer');
  if (spatial === null) return undefined;
  const temporal = query.get('temporalLayer');
  return parseLayers(JSON.stringify({ spatialLayer: Number(spatial), ...(temporal !== null ? { temporalLayer: Number(temporal) } : {}) }));
}

function parseLayers(text: string): LayerPreference {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequestError('layer preference must be JSON {"spatialLayer": 0-3, "temporalLayer"?: 0-3}');
  }
  const parsed = layerSchema.safeParse(value);
  if (!parsed.success) throw new BadRequestError('layer preference must be {"spatialLayer": 0-3, "temporalLayer"?: 0-3}');
  return parsed.data;
}
