/**
 * The LL-DASH HTTP surface under `/dash/`, over the LL-HLS packager (one transcode, one packager,
 * two manifests):
 *   time                                 UTCTiming source (ISO 8601, the node's clock)
 *   {room}/{stream}/manifest.mpd         dynamic MPD (starts on-demand packaging, like the HLS playlists)
 *   {room}/{stream}/{rendition}/{epoch}/init.mp4    initialisation segment
 *   {room}/{stream}/{rendition}/{epoch}/s{N}.m4s    segment N; the one in progress (or the next
 *                                                    one) is sent with chunked transfer, each part
 *                                                    as the packager cuts it
 * Same caching as the HLS routes (immutable media, short-lived manifest with ETag), CORS, CMCD
 * intake into the same QoE metrics and CTA-5006 CMSD headers (`sf=d`). Access follows
 * `hls.access`. Media requests are answered on uWebSockets.js directly (streaming a response is
 * not something the route table does); anything they do not serve falls through to the route
 * table, which answers the manifest, the errors and HEAD.
 */
import type uWS from 'uWebSockets.js';
import client from 'prom-client';
import type { HttpRequest, HttpResponse, HttpServer } from '../http/HttpServer';
import { errorResponse } from '../http/HttpServer';
import type { TokenService } from '../auth/tokens';
import { grantsRoom } from '../auth/tokens';
import { SubsecError, UnavailableError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { CmcdIntake } from '../hls/CmcdIntake';
import { HlsCapacityError, type HlsService } from '../hls/HlsService';
import { CmsdHeaders, renditionObjectType } from '../hls/Cmsd';
import { noteAudience } from '../hls/ladder/AudienceTracker';
import type { DashConfig } from './dashConfig';
import { DashManifests } from './DashManifest';
import { resolveMedia, type MediaTarget } from './DashMedia';
import { streamSegment } from './SegmentStreamer';

/** Dependencies of {@link registerDashRoutes}. */
export interface DashRoutesDeps {
  service: HlsService;
  config: DashConfig;
  intake: CmcdIntake;
  tokens: TokenService;
  registry: client.Registry;
  /** Access-Control-Allow-Origin (the HttpServer's `http.corsOrigin`). */
  corsOrigin: string;
  /** Default CMSD intermediary identifier (`hls.cmsd.id` wins). */
  nodeId: string;
  /** List every packaged stream as a `dash` output of its hub stream (`GET /v1/streams`; default true). */
  listOutputs?: boolean;
}

const MPD_TYPE = 'application/dash+xml';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const CORS_HEADERS = 'CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status, If-None-Match, If-Modified-Since, Range';
const NAME = /^[^\u0000-\u001f/\\]{1,128}$/;
const MEDIA_URL = /^\/dash\/([^/]+)\/([^/]+)\/([a-z0-9_-]{1,32})\/([0-9a-f]{8})\/(init\.mp4|s\d{1,9}\.m4s)$/;
const CMCD_HEADERS = ['cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status'] as const;

/** `chunked`: a segment sent while it was being cut. */
type Kind = 'manifest' | 'init' | 'segment' | 'chunked' | 'time' | 'other';

function plain(status: number, code: string, message: string, extra: Record<string, string> = {}): HttpResponse {
  const r = errorResponse(status, message, code);
  r.headers = { ...r.headers, 'cache-control': 'no-store', ...extra };
  return r;
}

const badRequest = (message: string) => plain(400, ErrorCode.BAD_REQUEST, message);
const unavailable = (message: string) => plain(503, 'UNAVAILABLE', message, { 'retry-after': '1' });

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The UTCTiming URL, relative to the MPD (`/dash/{room}/{stream}/manifest.mpd` → `/dash/time`); dash.js and Shaka resolve it against the MPD's URL, so it holds behind a CDN or proxy. */
export const TIME_URL_FROM_MPD = '../../time';

/** Registers the `/dash` routes (before the demo's static routes). */
export function registerDashRoutes(http: HttpServer, deps: DashRoutesDeps): void {
  const { service, intake } = deps;
  const hls = service.config;
  const requests = new client.Counter({
    name: 'subsec_dash_requests_total',
    help: 'LL-DASH requests by resource kind and status',
    labelNames: ['kind', 'status'],
    registers: [deps.registry],
  });
  const streaming = new client.Gauge({
    name: 'subsec_dash_streaming_responses',
    help: 'Segments in progress being sent with chunked transfer',
    registers: [deps.registry],
  });
  const count = (kind: Kind, status: number) => requests.inc({ kind, status: String(status) });
  const cmsd = hls.cmsd.enabled ? new CmsdHeaders({ dynamic: hls.cmsd.dynamic, id: hls.cmsd.id ?? deps.nodeId, format: 'd' }) : undefined;
  const manifests = new DashManifests({ config: deps.config, audioKbps: hls.audioKbps, dvrWindowSec: hls.dvrWindowSec });
  // Every packaged stream is also a DASH output, for as long as its packaging runs.
  if (deps.listOutputs ?? true) {
    service.onStreamStarted((stream) => {
      const handle = stream.source.attach({
        kind: 'dash',
        url: `/dash/${encodeURIComponent(stream.room.name)}/${encodeURIComponent(stream.identity)}/manifest.mpd`,
        start: async () => undefined,
        close: () => stream.end('closed'),
        stats: () => ({ renditions: stream.renditions.length, ended: stream.ended }),
      });
      stream.onEnded(() => handle.close());
    });
  }

  /** Token check of `hls.access: token`: the URI suffix to keep on every URL, or undefined when refused. */
  const access = async (room: string, token: string | null): Promise<string | undefined> => {
    if (hls.access !== 'token') return '';
    try {
      const grants = await deps.tokens.verify(token ?? '');
      return grantsRoom(grants, room) && grants.canSubscribe ? `?token=${encodeURIComponent(token!)}` : undefined;
    } catch {
      return undefined;
    }
  };

  /** A `{code, message}` error written straight to a uWS response (after an await, when yielding is no longer possible). */
  const writeError = (res: uWS.HttpResponse, status: 401 | 404, code: string, message: string) => {
    res.cork(() => {
      res.writeStatus(status === 401 ? '401 Unauthorized' : '404 Not Found');
      res.writeHeader('content-type', 'application/json');
      res.writeHeader('cache-control', 'no-store');
      res.writeHeader('access-control-allow-origin', deps.corsOrigin);
      res.end(JSON.stringify({ code, message }));
    });
  };

  /** Answers a media request that names an init segment, a complete segment or the segment in progress. */
  const serveMedia = (
    res: uWS.HttpResponse,
    target: MediaTarget,
    query: URLSearchParams,
    headers: Record<string, string>,
    ifNoneMatch: string,
    receivedAt: number,
  ): void => {
    const found = resolveMedia(service, target);
    if (found.kind === 'error' || found.kind === 'held-init') {
      writeError(res, 404, ErrorCode.NOT_FOUND, found.kind === 'error' ? found.message : 'init segment not written yet');
      count(found.kind === 'error' ? found.resource : 'init', 404);
      return;
    }
    intake.observe({ room: target.room, stream: target.identity }, query, headers);
    noteAudience(found.stream, found.rendition.spec.name, query, headers);
    found.stream.touch();
    const p = found.rendition.packager;
    const ended = found.stream.ended || p.ended;
    const writeCommon = (etag: string, lastModified: number) => {
      res.writeHeader('content-type', found.rendition.kind === 'audio' ? 'audio/mp4' : 'video/mp4');
      res.writeHeader('cache-control', IMMUTABLE);
      res.writeHeader('etag', etag);
      res.writeHeader('last-modified', new Date(lastModified).toUTCString());
      res.writeHeader('access-control-allow-origin', deps.corsOrigin);
    };
    const writeCmsd = (staticValue: string | undefined, rdMs: number) => {
      if (!cmsd || staticValue === undefined) return;
      res.writeHeader('cmsd-static', staticValue);
      const dyn = cmsd.dynamic(rdMs);
      if (dyn !== undefined) res.writeHeader('cmsd-dynamic', dyn);
      res.writeHeader('access-control-expose-headers', cmsd.exposeHeaders);
    };
    const etag = `"${found.stream.epoch}-${found.rendition.spec.name}-${target.file}"`;
    if (found.kind === 'init' || found.kind === 'segment') {
      const notModified = ifNoneMatch === etag;
      const seg = found.kind === 'segment' ? found.segment : undefined;
      const staticValue =
        cmsd &&
        (seg
          ? cmsd.media({ ot: renditionObjectType(found.rendition), ended, durationSec: seg.duration, availableAt: seg.completedAt, bytes: seg.data!.length })
          : cmsd.media({ ot: 'i', ended }));
      res.cork(() => {
        res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
        writeCommon(etag, seg ? (seg.completedAt ?? Date.now()) : found.stream.startedAt);
        writeCmsd(staticValue, Date.now() - receivedAt);
        if (notModified) res.endWithoutBody();
        else res.end(seg ? seg.data! : p.init!);
      });
      count(found.kind, notModified ? 304 : 200);
      return;
    }
    // The segment in progress, or the next one: chunked transfer from its first part on.
    streaming.inc();
    streamSegment(res, p, found.msn, {
      holdMs: 3 * found.stream.targetDuration * 1000,
      writeHead: (startedAt) => {
        res.writeStatus('200 OK');
        writeCommon(etag, startedAt);
        writeCmsd(
          cmsd?.media({ ot: renditionObjectType(found.rendition), ended: found.stream.ended || p.ended, heldMs: startedAt - receivedAt }),
          startedAt - receivedAt,
        );
      },
      onDone: (status) => {
        streaming.dec();
        count('chunked', status);
      },
      corsOrigin: deps.corsOrigin,
    });
  };

  // Media on uWS: complete objects from memory, the segment in progress streamed part by part.
  // What does not exist now (errors, an init not written yet) and HEAD go to the route table.
  http.app.get('/dash/*', (res, req) => {
    const m = MEDIA_URL.exec(req.getUrl());
    if (!m) return void req.setYield(true);
    const room = decode(m[1]!);
    const identity = decode(m[2]!);
    if (!room || !identity) return void req.setYield(true);
    const target: MediaTarget = { room, identity, rendition: m[3]!, epoch: m[4]!, file: m[5]! };
    const now = resolveMedia(service, target);
    if (now.kind === 'error' || now.kind === 'held-init') return void req.setYield(true);
    const query = new URLSearchParams(req.getQuery() ?? '');
    const headers: Record<string, string> = {};
    for (const h of CMCD_HEADERS) {
      const v = req.getHeader(h);
      if (v) headers[h] = v;
    }
    const ifNoneMatch = req.getHeader('if-none-match');
    const receivedAt = Date.now();
    if (hls.access !== 'token') return serveMedia(res, target, query, headers, ifNoneMatch, receivedAt);
    // Tokens are verified asynchronously: the request's own data was copied above.
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void access(room, query.get('token')).then((suffix) => {
      if (aborted) return;
      if (suffix === undefined) {
        writeError(res, 401, ErrorCode.UNAUTHENTICATED, 'a token with canSubscribe for this room is required (?token=)');
        count('other', 401);
        return;
      }
      serveMedia(res, target, query, headers, ifNoneMatch, receivedAt);
    });
  });

  http.route('OPTIONS', '/dash/*', () => ({
    status: 204,
    headers: { 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': CORS_HEADERS, 'access-control-max-age': '86400' },
  }));

  http.route('GET', '/dash/time', () => {
    count('time', 200);
    return { status: 200, headers: { 'content-type': 'text/plain', 'cache-control': 'no-store' }, body: new Date().toISOString() };
  });

  http.route('GET', '/dash/:room/:stream/*', async (req) => {
    const receivedAt = Date.now();
    const outcome: { kind: Kind; cmsd?: string } = { kind: 'other' };
    let res: HttpResponse;
    try {
      res = await handle(req, outcome);
    } catch (err) {
      if (err instanceof HlsCapacityError || err instanceof UnavailableError) res = unavailable(err.message);
      else if (err instanceof SubsecError) res = plain(err.httpStatus, err.code, err.message);
      else throw err;
    }
    const status = res.status ?? 200;
    if (cmsd && outcome.cmsd !== undefined && (status === 200 || status === 304))
      res.headers = { ...res.headers, ...cmsd.headers(outcome.cmsd, Date.now() - receivedAt) };
    count(outcome.kind, status);
    return res;
  });

  async function handle(req: HttpRequest, outcome: { kind: Kind; cmsd?: string }): Promise<HttpResponse> {
    const { room, stream: identity } = req.params as { room: string; stream: string };
    const rest = (req.params['*'] ?? '').split('/');
    if (!NAME.test(room) || !NAME.test(identity) || rest.some((p) => p === '' || p === '.' || p === '..')) return badRequest('bad path');
    const uriSuffix = await access(room, req.query.get('token'));
    if (uriSuffix === undefined) return plain(401, ErrorCode.UNAUTHENTICATED, 'a token with canSubscribe for this room is required (?token=)');
    if (rest.length === 1 && rest[0] === 'manifest.mpd') {
      outcome.kind = 'manifest';
      const stream = await service.acquire(room, identity);
      intake.observe({ room, stream: identity }, req.query, req.headers);
      stream.touch();
      if (!(await stream.waitStarted(hls.startupTimeoutMs, req.signal))) return unavailable('stream is starting');
      // Every rendition has a complete segment here; wait (bounded) until each also has its init.
      const deadline = Date.now() + hls.startupTimeoutMs;
      for (const r of stream.listedRenditions) await r.packager.waitUntil(() => !!r.packager.init, Math.max(0, deadline - Date.now()), req.signal);
      const mpd = manifests.mpd(stream, TIME_URL_FROM_MPD, uriSuffix);
      if (!mpd) return unavailable('stream is starting');
      const ended = stream.ended || stream.listedRenditions.every((r) => r.packager.ended);
      outcome.cmsd = cmsd?.playlist(ended);
      const headers: Record<string, string> = {
        'content-type': MPD_TYPE,
        'cache-control': ended ? 'public, max-age=60' : 'public, max-age=1',
        etag: mpd.etag,
        vary: 'Accept-Encoding',
      };
      if (req.headers['if-none-match'] === mpd.etag) return { status: 304, headers };
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) return { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: mpd.gzip() };
      return { status: 200, headers, body: mpd.bytes };
    }
    if (rest.length !== 3) return plain(404, ErrorCode.NOT_FOUND, 'resource not found');
    const found = resolveMedia(service, { room, identity, rendition: rest[0]!, epoch: rest[1]!, file: rest[2]! });
    if (found.kind === 'error') {
      outcome.kind = found.resource;
      return plain(found.status, found.status === 400 ? ErrorCode.BAD_REQUEST : ErrorCode.NOT_FOUND, found.message);
    }
    intake.observe({ room, stream: identity }, req.query, req.headers);
    noteAudience(found.stream, found.rendition.spec.name, req.query, req.headers);
    found.stream.touch();
    const p = found.rendition.packager;
    const etag = `"${found.stream.epoch}-${found.rendition.spec.name}-${rest[2]}"`;
    const ended = () => found.stream.ended || p.ended;
    let data: Buffer | undefined;
    let modified: number;
    if (found.kind === 'init' || found.kind === 'held-init') {
      outcome.kind = 'init';
      if (!(await p.waitUntil(() => !!p.init, hls.startupTimeoutMs, req.signal))) return unavailable('stream is starting');
      data = p.init!;
      modified = found.stream.startedAt;
      outcome.cmsd = cmsd?.media({ ot: 'i', ended: ended() });
    } else {
      outcome.kind = 'segment';
      // What the streaming path sends chunked is sent whole here (HEAD, or a request it passed on).
      const msn = found.kind === 'segment' ? found.segment.msn : found.msn;
      const heldFrom = Date.now();
      await p.waitUntil(() => !!p.segment(msn), 3 * found.stream.targetDuration * 1000, req.signal);
      const seg = p.segment(msn);
      if (!seg) return p.ended ? plain(404, ErrorCode.NOT_FOUND, 'segment not found') : unavailable('segment not ready');
      data = seg.data!;
      modified = seg.completedAt ?? Date.now();
      outcome.cmsd = cmsd?.media({
        ot: renditionObjectType(found.rendition),
        ended: ended(),
        durationSec: seg.duration,
        availableAt: seg.completedAt,
        bytes: data.length,
        heldMs: found.kind === 'segment' ? undefined : Date.now() - heldFrom,
      });
    }
    const headers = {
      'content-type': found.rendition.kind === 'audio' ? 'audio/mp4' : 'video/mp4',
      'cache-control': IMMUTABLE,
      etag,
      'last-modified': new Date(modified).toUTCString(),
    };
    if (req.headers['if-none-match'] === etag) return { status: 304, headers };
    return { status: 200, headers, body: data };
  }
}
