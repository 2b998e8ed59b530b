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
import { z } from 'zod';
import type { Logger } from '../../core/logger';
import { BadRequestError, ForbiddenError, SubsecError } from '../../core/errors';
import { ErrorCode } from '../../protocol/errors';
import type { HttpRequest, HttpServer } from '../../http/HttpServer';
import type { TokenService } from '../../auth/tokens';
import type { RoomManager } from '../../sfu/RoomManager';
import type { RtcTransportSettings } from '../../sfu/transports';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import type { Config } from '../../config/schema';
import { authorize, checkName, linkHeader, type IceServer, sdpBody } from '../../webrtcHttp/httpRequests';
import { WebRtcHttpRoutes } from '../../webrtcHttp/WebRtcHttpRoutes';
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
  readonly #routes: WebRtcHttpRoutes<WhepSession>;
  readonly #routers: WhepRouters;

  constructor(deps: WhepEndpointDeps) {
    this.#deps = deps;
    this.#routers = new WhepRouters(deps.pool);
    this.#routes = new WebRtcHttpRoutes({ protocol: 'whep', sessionsHelp: 'WHEP viewing sessions', tokens: deps.tokens, registry: deps.metrics.registry });
  }

  /** Open sessions by id. */
  get sessions(): ReadonlyMap<string, WhepSession> {
    return this.#routes.sessions;
  }

  /** Registers the routes (before the static catch-all route); PATCH also takes `application/json` layer preferences. */
  register(http: HttpServer): void {
    this.#routes.register(http, (req) => this.#view(req), {
      contentType: 'application/json',
      handle: async (session, req) => {
        await session.setLayers(parseLayers(req.body.toString('utf8')));
        return { status: 204 };
      },
    });
  }

  /** Ends every viewing session. */
  close(): void {
    this.#routes.closeAll('node shutting down');
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
    if (this.#routes.sessions.size >= deps.config.maxSessions) throw new SubsecError(ErrorCode.DRAINING, 'WHEP session limit reached');
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
    this.#routes.add(session);
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
