/**
 * The WHIP endpoint (RFC 9725) on the node's HTTP server:
 *
 *     POST   /whip/{room}/{stream}[?role=primary|backup]  SDP offer → 201, SDP answer, Location, ETag, Link
 *     PATCH  /whip/{room}/{stream}/{session}  trickle ICE (204) or ICE restart (200 + sdpfrag)
 *     DELETE /whip/{room}/{stream}/{session}  ends the publication
 *
 * The token must grant the room and `canPublish`, and its identity must be the stream name
 * (admin tokens may publish any stream): the stream then appears to SDK peers as that peer.
 */
import type { Logger } from '../../core/logger';
import { BadRequestError, ForbiddenError, SubsecError } from '../../core/errors';
import { ErrorCode } from '../../protocol/errors';
import type { HttpHandler, HttpServer } from '../../http/HttpServer';
import type { TokenService } from '../../auth/tokens';
import type { RoomManager } from '../../sfu/RoomManager';
import type { RtcTransportSettings } from '../../sfu/transports';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import type { Config } from '../../config/schema';
import { authorize, checkName, linkHeader, type IceServer, sdpBody } from '../../webrtcHttp/httpRequests';
import { WebRtcHttpRoutes } from '../../webrtcHttp/WebRtcHttpRoutes';
import { parseSdp } from '../../sdp/SessionDescription';
import { WhipSession, type WhipInputSeat } from './WhipSession';
import { BackupInputRefused, type BackupSwitchboard, claimInputSeat } from '../backup/BackupSwitchboard';
import { parseInputRole } from '../backup/inputRole';

/** Dependencies of {@link WhipEndpoint}. */
export interface WhipEndpointDeps {
  rooms: RoomManager;
  tokens: TokenService;
  rtcSettings: RtcTransportSettings;
  metrics: SfuMetrics;
  config: Config['whip'];
  log: Logger;
  /** Time-limited TURN credentials for a token identity, sent as extra `Link` headers (RFC 9725 §4.4). */
  iceServersFor?: (identity: string) => IceServer[];
  /** True while the node drains: new publications get 503. */
  isDraining?: () => boolean;
  /** Seats for publications with `?role=primary|backup` (primary/backup inputs); without it such publications are refused. */
  backups?: Pick<BackupSwitchboard, 'claim'>;
}

/** WHIP routes and the sessions they created. */
export class WhipEndpoint {
  readonly #deps: WhipEndpointDeps;
  readonly #routes: WebRtcHttpRoutes<WhipSession>;
  /** `room/stream` keys with a POST in progress, so two racing publishers cannot both win. */
  readonly #pending = new Set<string>();

  constructor(deps: WhipEndpointDeps) {
    this.#deps = deps;
    this.#routes = new WebRtcHttpRoutes({ protocol: 'whip', sessionsHelp: 'WHIP publications', tokens: deps.tokens, registry: deps.metrics.registry });
  }

  /** Open sessions by id. */
  get sessions(): ReadonlyMap<string, WhipSession> {
    return this.#routes.sessions;
  }

  /** Registers the routes (before the static catch-all route). */
  register(http: HttpServer): void {
    this.#routes.register(http, (req) => this.#publish(req));
  }

  /** Ends every publication. */
  close(): void {
    this.#routes.closeAll('node shutting down');
  }

  async #publish(req: Parameters<HttpHandler>[0]) {
    const deps = this.#deps;
    const roomName = checkName(req.params.room, 'room');
    const stream = checkName(req.params.stream, 'stream');
    const token = await authorize(req, deps.tokens, roomName);
    await deps.tokens.admission?.check(token, roomName); // the shared ban store (Redis in a cascade)
    if (!token.canPublish) throw new ForbiddenError('token does not allow publishing');
    if (token.identity !== stream && !token.admin) throw new ForbiddenError(`token identity "${token.identity}" may not publish stream "${stream}"`);
    const role = parseInputRole(req.query.get('role'));
    if (typeof role === 'object') throw new BadRequestError(role.error);
    const offer = parseSdp(sdpBody(req));
    if (deps.isDraining?.()) throw new SubsecError(ErrorCode.DRAINING, 'node is draining');
    if (this.#routes.sessions.size + this.#pending.size >= deps.config.maxSessions) throw new SubsecError(ErrorCode.DRAINING, 'WHIP session limit reached');
    const key = `${roomName}/${stream}${role ? `#${role}` : ''}`;
    const existing = deps.rooms.get(roomName);
    // A publication with a role shares its stream with the other input: the switchboard decides.
    if (this.#pending.has(key) || (!role && existing && existing.producersOf(stream).length > 0)) {
      throw new SubsecError(ErrorCode.CONFLICT, `stream ${stream} is already being published in room ${roomName}`);
    }
    this.#pending.add(key);
    let input: WhipInputSeat | undefined;
    try {
      if (role) {
        try {
          input = await claimInputSeat(deps.backups, roomName, stream, role, 'whip');
        } catch (err) {
          if (err instanceof BackupInputRefused) throw new SubsecError(ErrorCode.CONFLICT, err.message);
          throw err;
        }
      }
      const room = await deps.rooms.getOrCreate(roomName);
      const { session, answer } = await WhipSession.start(
        {
          room,
          identity: stream,
          rtcSettings: deps.rtcSettings,
          log: deps.log,
          connectTimeoutMs: deps.config.connectTimeoutMs,
          disconnectTimeoutMs: deps.config.disconnectTimeoutMs,
        },
        offer,
        input,
      );
      this.#routes.add(session);
      deps.log.info('WHIP publication started', {
        room: roomName,
        stream,
        ...(role ? { role } : {}),
        session: session.id,
        tracks: session.producers.map((p) => `${p.kind}:${p.rtpParameters.codecs[0]!.mimeType}${p.type === 'simulcast' ? '/simulcast' : ''}`).join(','),
      });
      const location = `/whip/${encodeURIComponent(roomName)}/${encodeURIComponent(stream)}/${session.id}`;
      return {
        status: 201,
        headers: {
          'content-type': 'application/sdp',
          location,
          etag: session.etag,
          'accept-patch': 'application/trickle-ice-sdpfrag',
          ...linkHeader([...deps.config.iceServers, ...(deps.iceServersFor?.(token.identity) ?? [])]),
        },
        body: answer,
      };
    } catch (err) {
      input?.release(); // a failed start leaves the role free
      throw err;
    } finally {
      this.#pending.delete(key);
    }
  }
}
