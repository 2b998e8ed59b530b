/**
 * The LL-HLS HTTP surface under `/hls/{room}/{stream}/`:
 *   index.m3u8                          multivariant playlist
 *   {rendition}/index.m3u8              media playlist (`_HLS_msn`, `_HLS_part`, `_HLS_skip`)
 *   {rendition}/{epoch}/init.mp4        initialisation segment
 *   {rendition}/{epoch}/p{seq}.m4s      partial segment (held while it is the preload hint)
 *   {rendition}/{epoch}/s{msn}.m4s      media segment
 * Responses carry CDN-friendly caching (immutable media, short-lived playlists, cacheable
 * blocking responses), ETag/Last-Modified with 304s, CORS (including the CMCD request headers)
 * and gzip for playlists when asked, and CTA-5006 CMSD headers when `hls.cmsd.enabled`. Every
 * request feeds the CMCD intake.
 */
import client from 'prom-client';
import type { HttpRequest, HttpResponse, HttpServer } from '../http/HttpServer';
import { errorResponse } from '../http/HttpServer';
import type { TokenService } from '../auth/tokens';
import { grantsRoom } from '../auth/tokens';
import { SubsecError, UnavailableError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { CmcdIntake } from './CmcdIntake';
import { noteAudience } from './ladder/AudienceTracker';
import { HlsCapacityError, type HlsService } from './HlsService';
import type { HlsStream } from './HlsStream';
import type { LiveRendition } from './LadderTranscoder';
import { blockingState } from './Playlist';
import { PlaylistCache, type CachedPlaylist } from './PlaylistCache';
import { registerHlsFastPath } from './HlsFastPath';
import { CmsdHeaders, renditionObjectType } from './Cmsd';

/** Dependencies of {@link registerHlsRoutes}. */
export interface HlsRoutesDeps {
  service: HlsService;
  intake: CmcdIntake;
  tokens: TokenService;
  registry: client.Registry;
  /** Access-Control-Allow-Origin of the fast path (the HttpServer's `http.corsOrigin`; default `*`). */
  corsOrigin?: string;
  /** This node's id: the default CMSD intermediary identifier (`hls.cmsd.id`). */
  nodeId: string;
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const CORS_HEADERS = 'CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status, If-None-Match, If-Modified-Since, Range';
const NAME = /^[^\u0000-\u001f/\\]{1,128}$/;
const DECIMAL = /^\d{1,9}$/;

type Kind = 'multivariant' | 'playlist' | 'init' | 'part' | 'segment' | 'other';

/** What a request turned out to be, filled in while it is handled. */
interface Outcome {
  kind: Kind;
  /** `CMSD-Static` of a successful answer. */
  cmsd?: string;
}

function plain(status: number, code: string, message: string, extra: Record<string, string> = {}): HttpResponse {
  const r = errorResponse(status, message, code);
  r.headers = { ...r.headers, 'cache-control': 'no-store', ...extra };
  return r;
}

const notFound = (what: string) => plain(404, ErrorCode.NOT_FOUND, `${what} not found`);
const badRequest = (message: string) => plain(400, ErrorCode.BAD_REQUEST, message);
const unavailable = (message: string) => plain(503, 'UNAVAILABLE', message, { 'retry-after': '1' });

/** Registers the HLS routes (before the demo's static routes). */
export function registerHlsRoutes(http: HttpServer, deps: HlsRoutesDeps): void {
  const { service, intake } = deps;
  const config = service.config;
  const requests = new client.Counter({
    name: 'subsec_hls_requests_total',
    help: 'HLS requests by resource kind and status',
    labelNames: ['kind', 'status'],
    registers: [deps.registry],
  });
  const heldDelay = new client.Histogram({
    name: 'subsec_hls_held_response_delay_seconds',
    help: 'Time from a part’s publication to the answer of a request held for it (blocking reload, preload hint)',
    registers: [deps.registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  });

  const cache = new PlaylistCache();
  const counters = new Map<string, client.Counter.Internal>();
  const count = (kind: Kind, status: number) => {
    const k = `${kind} ${status}`;
    let c = counters.get(k);
    if (!c) counters.set(k, (c = requests.labels(kind, String(status))));
    c.inc();
  };
  const cmsd = config.cmsd.enabled ? new CmsdHeaders({ dynamic: config.cmsd.dynamic, id: config.cmsd.id ?? deps.nodeId }) : undefined;
  registerHlsFastPath(http.app, { service, cache, corsOrigin: deps.corsOrigin ?? '*', cmsd, count, observeHeld: (ms) => heldDelay.observe(ms / 1000) });

  http.route('OPTIONS', '/hls/*', () => ({
    status: 204,
    headers: { 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': CORS_HEADERS, 'access-control-max-age': '86400' },
  }));

  http.route('GET', '/hls/:room/:stream/*', async (req) => {
    const receivedAt = Date.now();
    const outcome: Outcome = { kind: 'other' };
    let res: HttpResponse;
    try {
      res = await handle(req, outcome);
    } catch (err) {
      if (err instanceof HlsCapacityError || err instanceof UnavailableError) res = unavailable(err.message);
      else if (err instanceof SubsecError) res = plain(err.httpStatus, err.code, err.message);
      else throw err;
    }
    const status = res.status ?? 200;
    // rd: receipt of the request to the answer being ready (a held reload or preload hint, a startup wait).
    if (cmsd && outcome.cmsd !== undefined && (status === 200 || status === 304))
      res.headers = { ...res.headers, ...cmsd.headers(outcome.cmsd, Date.now() - receivedAt) };
    count(outcome.kind, status);
    return res;
  });

  async function handle(req: HttpRequest, outcome: Outcome): Promise<HttpResponse> {
    const setKind = (k: Kind) => (outcome.kind = k);
    const { room, stream: identity } = req.params as { room: string; stream: string };
    const rest = (req.params['*'] ?? '').split('/');
    if (!NAME.test(room) || !NAME.test(identity) || rest.some((p) => p === '' || p === '.' || p === '..')) return badRequest('bad path');
    let uriSuffix = '';
    if (config.access === 'token') {
      const token = req.query.get('token') ?? '';
      let ok = false;
      try {
        const grants = await deps.tokens.verify(token);
        ok = grantsRoom(grants, room) && grants.canSubscribe;
      } catch {
        ok = false;
      }
      if (!ok) return plain(401, ErrorCode.UNAUTHENTICATED, 'a token with canSubscribe for this room is required (?token=)');
      uriSuffix = `?token=${encodeURIComponent(token)}`;
    }
    // CMCD never fails a request: malformed data is only counted.
    const cmcdTarget = { room, stream: identity };
    if (rest.length === 1 && rest[0] === 'index.m3u8') {
      setKind('multivariant');
      const stream = await service.acquire(room, identity);
      intake.observe(cmcdTarget, req.query, req.headers);
      stream.touch();
      noteAudience(stream, undefined, req.query, req.headers);
      if (!(await stream.waitStarted(config.startupTimeoutMs, req.signal))) return unavailable('stream is starting');
      outcome.cmsd = cmsd?.playlist(stream.ended);
      return playlistResponse(req, cache.multivariant(stream, uriSuffix), 'public, max-age=2');
    }
    const stream = rest.length === 2 && rest[1] === 'index.m3u8' ? await service.acquire(room, identity) : service.get(room, identity);
    if (!stream) return notFound('stream');
    intake.observe(cmcdTarget, req.query, req.headers);
    stream.touch();
    const rendition = stream.rendition(rest[0]!);
    if (!rendition) return notFound('rendition');
    // The audience-shaped ladder: which rung this viewer plays, and the throughput it measured.
    noteAudience(stream, rendition.spec.name, req.query, req.headers);
    if (rest.length === 2 && rest[1] === 'index.m3u8') {
      setKind('playlist');
      return mediaPlaylist(req, stream, rendition, uriSuffix, outcome);
    }
    if (rest.length !== 3) return notFound('resource');
    if (rest[1] !== stream.epoch) return notFound('resource of an earlier run of this stream');
    const file = rest[2]!;
    const tag = `"${stream.epoch}-${rendition.spec.name}-${file}"`;
    if (file === 'init.mp4') {
      setKind('init');
      if (!(await rendition.packager.waitUntil(() => !!rendition.packager.init, config.startupTimeoutMs, req.signal))) return unavailable('stream is starting');
      outcome.cmsd = cmsd?.media({ ot: 'i', ended: stream.ended || rendition.packager.ended });
      return mediaResponse(req, rendition.packager.init!, tag, stream.startedAt);
    }
    const m = /^([ps])(\d{1,9})\.m4s$/.exec(file);
    if (!m) return notFound('resource');
    const n = Number(m[2]);
    const p = rendition.packager;
    const holdMs = 3 * stream.targetDuration * 1000;
    if (m[1] === 'p') {
      setKind('part');
      let part = p.part(n);
      let heldMs: number | undefined;
      // A hinted part (or the one right after, for a player a little ahead) is held until published.
      if (!part && !p.ended && n >= p.nextPartSeq && n <= p.nextPartSeq + 1) {
        const heldFrom = Date.now();
        const ok = await p.waitUntil(() => !!p.part(n), holdMs, req.signal);
        heldMs = Date.now() - heldFrom;
        part = p.part(n);
        if (ok && part) heldDelay.observe((Date.now() - part.publishedAt) / 1000);
        else if (!req.signal.aborted && !p.ended) return unavailable('part not ready');
      }
      if (!part) return notFound('part');
      outcome.cmsd = cmsd?.media({
        ot: renditionObjectType(rendition),
        ended: stream.ended || p.ended,
        durationSec: part.duration,
        availableAt: part.publishedAt,
        bytes: part.data.length,
        heldMs,
      });
      return mediaResponse(req, part.data, tag, part.publishedAt);
    }
    setKind('segment');
    let segment = p.segment(n);
    let heldMs: number | undefined;
    if (!segment && !p.ended && p.openSegment?.msn === n) {
      const heldFrom = Date.now();
      await p.waitUntil(() => !!p.segment(n), holdMs, req.signal);
      heldMs = Date.now() - heldFrom;
      segment = p.segment(n);
    }
    if (!segment) return notFound('segment');
    outcome.cmsd = cmsd?.media({
      ot: renditionObjectType(rendition),
      ended: stream.ended || p.ended,
      durationSec: segment.duration,
      availableAt: segment.completedAt,
      bytes: segment.data?.length,
      heldMs,
    });
    return mediaResponse(req, segment.data!, tag, segment.completedAt ?? Date.now());
  }

  async function mediaPlaylist(req: HttpRequest, stream: HlsStream, r: LiveRendition, uriSuffix: string, outcome: Outcome): Promise<HttpResponse> {
    const q = req.query;
    const msnRaw = q.get('_HLS_msn');
    const partRaw = q.get('_HLS_part');
    const skipRaw = q.get('_HLS_skip');
    if (msnRaw !== null && !DECIMAL.test(msnRaw)) return badRequest('_HLS_msn must be a decimal integer');
    if (partRaw !== null && !DECIMAL.test(partRaw)) return badRequest('_HLS_part must be a decimal integer');
    if (partRaw !== null && msnRaw === null) return badRequest('_HLS_part needs _HLS_msn');
    if (skipRaw !== null && skipRaw !== 'YES' && skipRaw !== 'v2') return badRequest('_HLS_skip must be YES or v2');
    const p = r.packager;
    if (!(await stream.waitStarted(config.startupTimeoutMs, req.signal))) return unavailable('stream is starting');
    let blocking = false;
    let heldMs: number | undefined;
    let releasedBy: { publishedAt: number } | undefined;
    if (msnRaw !== null && !p.ended) {
      const msn = Number(msnRaw);
      const part = partRaw === null ? undefined : Number(partRaw);
      const view = () => ({ segments: p.segments, lastCompleteMsn: p.lastCompleteMsn, ended: p.ended, partTarget: stream.partTarget });
      const state = blockingState(view(), msn, part);
      if (state === 'too-far') return badRequest(`_HLS_msn=${msn}${part === undefined ? '' : ` _HLS_part=${part}`} is too far ahead of the playlist`);
      if (state === 'wait') {
        const heldFrom = Date.now();
        const ok = await p.waitUntil(() => blockingState(view(), msn, part) === 'ready', 3 * stream.targetDuration * 1000, req.signal);
        heldMs = Date.now() - heldFrom;
        if (!ok && !p.ended) return unavailable('the requested part did not appear in time');
        if (ok) releasedBy = p.lastPart;
      }
      blocking = true;
    }
    const body = cache.media(stream, r, skipRaw === null ? undefined : (skipRaw as 'YES' | 'v2'), uriSuffix);
    // A blocking response names its content in its URL, so a CDN may keep it; a plain one is short-lived.
    const cacheControl = p.ended ? 'public, max-age=60' : blocking ? `public, max-age=${3 * stream.targetDuration}` : 'public, max-age=1';
    outcome.cmsd = cmsd?.playlist(p.ended || stream.ended, heldMs);
    const response = playlistResponse(req, body, cacheControl);
    // Measured once the answer is ready to be written: what a held client waits after publication.
    if (releasedBy) heldDelay.observe((Date.now() - releasedBy.publishedAt) / 1000);
    return response;
  }
}

function playlistResponse(req: HttpRequest, playlist: CachedPlaylist, cacheControl: string): HttpResponse {
  const headers: Record<string, string> = { 'content-type': PLAYLIST_TYPE, 'cache-control': cacheControl, etag: playlist.etag, vary: 'Accept-Encoding' };
  if (req.headers['if-none-match'] === playlist.etag) return { status: 304, headers };
  if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) return { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: playlist.gzip() };
  return { status: 200, headers, body: playlist.body };
}

function mediaResponse(req: HttpRequest, data: Buffer, etag: string, modifiedAt: number): HttpResponse {
  const headers = { 'content-type': 'video/mp4', 'cache-control': IMMUTABLE, etag, 'last-modified': new Date(modifiedAt).toUTCString() };
  if (req.headers['if-none-match'] === etag) return { status: 304, headers };
  return { status: 200, headers, body: data };
}
