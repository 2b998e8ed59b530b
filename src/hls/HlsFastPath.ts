/**
 * The hot path of the HLS origin, straight on uWebSockets.js: a GET for a part, segment or init
 * segment that exists, a plain playlist of a running stream, or a blocking playlist reload
 * (`_HLS_msn`/`_HLS_part`/`_HLS_skip` only) is answered from memory without the generic route
 * table's per-request work (header maps, abort controllers, promise chains); held reloads wait
 * in one table per rendition, grouped by the part they wait for, and are written straight to
 * their sockets when it is published. Everything else — held preload hints, CMCD, tokens,
 * requests too far ahead or malformed, errors — is yielded to the `/hls` routes of the
 * HttpServer, which implement the full semantics; both answer identically where they overlap
 * (CMSD headers included).
 */
import type uWS from 'uWebSockets.js';
import type { HlsService } from './HlsService';
import type { HlsStream } from './HlsStream';
import type { LiveRendition } from './LadderTranscoder';
import type { Packager } from './Packager';
import { blockingState } from './Playlist';
import type { CachedPlaylist, PlaylistCache } from './PlaylistCache';
import { renditionObjectType, type CmsdHeaders } from './Cmsd';

/** Dependencies of {@link registerHlsFastPath}. */
export interface HlsFastPathDeps {
  service: HlsService;
  cache: PlaylistCache;
  /** Access-Control-Allow-Origin, as the HttpServer sends it. */
  corsOrigin: string;
  /** CMSD response headers; undefined when `hls.cmsd.enabled` is false. */
  cmsd: CmsdHeaders | undefined;
  /** Counts an answered request (same labels as the routes). */
  count: (kind: 'playlist' | 'init' | 'part' | 'segment', status: 200 | 304 | 503) => void;
  /** Records how long after a part's publication a held request was answered (ms). */
  observeHeld: (ms: number) => void;
}

interface Waiter {
  res: uWS.HttpResponse;
  skip: 'YES' | 'v2' | undefined;
  gzip: boolean;
  /** When the request arrived (ms), for CMSD `ht`/`rd`. */
  arrivedAt: number;
  deadline: number;
  done: boolean;
}

/** Held blocking reloads of one rendition, grouped by the `msn.part` they wait for. */
interface HeldTable {
  stream: HlsStream;
  rendition: LiveRendition;
  groups: Map<string, { msn: number; part: number | undefined; waiters: Set<Waiter> }>;
  size: number;
  timer: NodeJS.Timeout;
  off: () => void;
}

/** Parses a query made only of delivery directives; undefined for anything else. */
function directives(query: string): { msn: number; part?: number; skip?: 'YES' | 'v2' } | undefined {
  let msn: number | undefined;
  let part: number | undefined;
  let skip: 'YES' | 'v2' | undefined;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === '_HLS_msn' && /^\d{1,9}$/.test(value) && msn === undefined) msn = Number(value);
    else if (key === '_HLS_part' && /^\d{1,9}$/.test(value) && part === undefined) part = Number(value);
    else if (key === '_HLS_skip' && (value === 'YES' || value === 'v2') && skip === undefined) skip = value;
    else return undefined;
  }
  return msn === undefined ? undefined : { msn, part, skip };
}

const MEDIA = /^\/hls\/([^/]+)\/([^/]+)\/([a-z0-9_-]{1,32})\/([0-9a-f]{8})\/(init\.mp4|[ps]\d{1,9}\.m4s)$/;
const PLAYLIST = /^\/hls\/([^/]+)\/([^/]+)\/([a-z0-9_-]{1,32})\/index\.m3u8$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Registers the fast path on the uWS app (uWS prefers it to the HttpServer's catch-all route). */
export function registerHlsFastPath(app: uWS.TemplatedApp, deps: HlsFastPathDeps): void {
  const { service, cache, corsOrigin, cmsd, count, observeHeld } = deps;
  const held = new WeakMap<Packager, HeldTable>();

  /** Writes the CMSD headers (inside a cork); `rdMs` is 0 for an answer given on arrival. */
  const writeCmsd = (res: uWS.HttpResponse, staticValue: string, rdMs: number) => {
    if (!cmsd) return;
    res.writeHeader('cmsd-static', staticValue);
    const dynamic = cmsd.dynamic(rdMs);
    if (dynamic !== undefined) res.writeHeader('cmsd-dynamic', dynamic);
    res.writeHeader('access-control-expose-headers', cmsd.exposeHeaders);
  };

  const writePlaylist = (
    res: uWS.HttpResponse,
    cached: CachedPlaylist,
    gzip: boolean,
    cacheControl: string,
    ifNoneMatch = '',
    ended = false,
    heldMs?: number,
  ) => {
    const notModified = ifNoneMatch === cached.etag;
    res.cork(() => {
      res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
      res.writeHeader('content-type', 'application/vnd.apple.mpegurl');
      res.writeHeader('cache-control', cacheControl);
      res.writeHeader('etag', cached.etag);
      res.writeHeader('vary', 'Accept-Encoding');
      res.writeHeader('access-control-allow-origin', corsOrigin);
      if (cmsd) writeCmsd(res, cmsd.playlist(ended, heldMs), heldMs ?? 0);
      if (notModified) res.endWithoutBody();
      else if (gzip) {
        res.writeHeader('content-encoding', 'gzip');
        res.end(cached.gzip());
      } else res.end(cached.bytes);
    });
    count('playlist', notModified ? 304 : 200);
  };

  const release = (table: HeldTable) => {
    const p = table.rendition.packager;
    const view = { segments: p.segments, lastCompleteMsn: p.lastCompleteMsn, ended: p.ended, partTarget: table.stream.partTarget };
    const publishedAt = p.lastPart?.publishedAt ?? Date.now();
    const cacheControl = p.ended ? 'public, max-age=60' : `public, max-age=${3 * table.stream.targetDuration}`;
    const delays: number[] = [];
    for (const [key, group] of table.groups) {
      if (blockingState(view, group.msn, group.part) !== 'ready') continue;
      table.groups.delete(key);
      const bySkip = new Map<string, CachedPlaylist>();
      for (const w of group.waiters) {
        if (w.done) continue;
        w.done = true;
        table.size--;
        p.heldElsewhere--;
        let cached = bySkip.get(w.skip ?? '');
        if (!cached) bySkip.set(w.skip ?? '', (cached = cache.media(table.stream, table.rendition, w.skip, '')));
        writePlaylist(w.res, cached, w.gzip, cacheControl, '', p.ended, Date.now() - w.arrivedAt);
        delays.push(Date.now() - publishedAt);
      }
    }
    // Recorded after the writes so the histogram's own cost does not delay the answers.
    for (const d of delays) observeHeld(d);
    if (p.ended) dropTable(p, table);
  };

  const dropTable = (p: Packager, table: HeldTable) => {
    clearInterval(table.timer);
    table.off();
    held.delete(p);
  };

  const tableOf = (stream: HlsStream, r: LiveRendition): HeldTable => {
    const p = r.packager;
    let table = held.get(p);
    if (table) return table;
    const onChange = () => release(table!);
    p.on('part', onChange);
    p.on('segment', onChange);
    p.on('ended', onChange);
    // One timer per rendition, not per request: a reload held past 3 target durations gets 503.
    const timer = setInterval(() => {
      const now = Date.now();
      for (const [key, group] of table!.groups) {
        for (const w of group.waiters) {
          if (w.done || w.deadline > now) continue;
          w.done = true;
          group.waiters.delete(w);
          table!.size--;
          table!.rendition.packager.heldElsewhere--;
          w.res.cork(() => {
            w.res.writeStatus('503 Service Unavailable');
            w.res.writeHeader('retry-after', '1');
            w.res.writeHeader('cache-control', 'no-store');
            w.res.writeHeader('content-type', 'application/json');
            w.res.writeHeader('access-control-allow-origin', corsOrigin);
            w.res.end('{"code":"UNAVAILABLE","message":"the requested part did not appear in time"}');
          });
          count('playlist', 503);
        }
        if (group.waiters.size === 0) table!.groups.delete(key);
      }
    }, 250);
    timer.unref();
    table = {
      stream,
      rendition: r,
      groups: new Map(),
      size: 0,
      timer,
      off: () => {
        p.off('part', onChange);
        p.off('segment', onChange);
        p.off('ended', onChange);
      },
    };
    held.set(p, table);
    return table;
  };

  app.get('/hls/*', (res, req) => {
    const query = req.getQuery();
    if (
      service.config.access !== 'public' ||
      req.getHeader('cmcd-request') ||
      req.getHeader('cmcd-session') ||
      req.getHeader('cmcd-object') ||
      req.getHeader('cmcd-status')
    ) {
      req.setYield(true);
      return;
    }
    const wanted = query ? directives(query) : undefined;
    if (query && !wanted) {
      req.setYield(true);
      return;
    }
    const url = req.getUrl();
    const media = MEDIA.exec(url);
    const pl = media ? undefined : PLAYLIST.exec(url);
    const m = media ?? pl;
    const room = m && decode(m[1]!);
    const identity = m && decode(m[2]!);
    const stream = room && identity ? service.get(room, identity) : undefined;
    const rendition = stream?.rendition(m![3]!);
    if (!stream || !rendition || stream.disposed) {
      req.setYield(true);
      return;
    }
    const ifNoneMatch = req.getHeader('if-none-match');
    if (media) {
      if (wanted || media[4] !== stream.epoch) return void req.setYield(true);
      const file = media[5]!;
      const p = rendition.packager;
      let data: Buffer | undefined;
      let modified = 0;
      let kind: 'init' | 'part' | 'segment';
      let durationSec: number | undefined;
      let availableAt: number | undefined;
      if (file === 'init.mp4') {
        kind = 'init';
        data = p.init;
        modified = stream.startedAt;
      } else {
        const n = Number(file.slice(1, -4));
        if (file[0] === 'p') {
          kind = 'part';
          const part = p.part(n);
          data = part?.data;
          modified = part?.publishedAt ?? 0;
          durationSec = part?.duration;
          availableAt = part?.publishedAt;
        } else {
          kind = 'segment';
          const seg = p.segment(n);
          data = seg?.data;
          modified = seg?.completedAt ?? 0;
          durationSec = seg?.duration;
          availableAt = seg?.completedAt;
        }
      }
      if (!data) return void req.setYield(true); // held, not found: the full route decides
      stream.touch();
      stream.audience?.noteRequest(rendition.spec.name);
      const etag = `"${stream.epoch}-${rendition.spec.name}-${file}"`;
      const notModified = ifNoneMatch === etag;
      const ended = stream.ended || p.ended;
      const cmsdStatic =
        cmsd &&
        (kind === 'init'
          ? cmsd.media({ ot: 'i', ended })
          : cmsd.media({ ot: renditionObjectType(rendition), ended, durationSec, availableAt, bytes: data.length }));
      res.cork(() => {
        res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
        res.writeHeader('content-type', 'video/mp4');
        res.writeHeader('cache-control', IMMUTABLE);
        res.writeHeader('etag', etag);
        res.writeHeader('last-modified', new Date(modified).toUTCString());
        res.writeHeader('access-control-allow-origin', corsOrigin);
        if (cmsdStatic !== undefined) writeCmsd(res, cmsdStatic, 0);
        if (notModified) res.endWithoutBody();
        else res.end(data!);
      });
      count(kind, notModified ? 304 : 200);
      return;
    }
    // A plain playlist of a running stream (every rendition has a segment, so no startup wait);
    // an ended one goes to the full route, which restarts packaging if the publisher is back.
    if (stream.ended || stream.listedRenditions.some((r) => r.packager.lastCompleteMsn < 0)) return void req.setYield(true);
    stream.touch();
    stream.audience?.noteRequest(rendition.spec.name);
    const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'));
    const p = rendition.packager;
    if (!wanted) return writePlaylist(res, cache.media(stream, rendition, undefined, ''), gzip, 'public, max-age=1', ifNoneMatch, p.ended);
    const state = blockingState(
      { segments: p.segments, lastCompleteMsn: p.lastCompleteMsn, ended: p.ended, partTarget: stream.partTarget },
      wanted.msn,
      wanted.part,
    );
    if (state === 'too-far') return void req.setYield(true); // the full route answers 400
    const blockingCache = `public, max-age=${3 * stream.targetDuration}`;
    if (state === 'ready') return writePlaylist(res, cache.media(stream, rendition, wanted.skip, ''), gzip, blockingCache, ifNoneMatch, p.ended);
    const table = tableOf(stream, rendition);
    const key = `${wanted.msn}.${wanted.part ?? ''}`;
    let group = table.groups.get(key);
    if (!group) table.groups.set(key, (group = { msn: wanted.msn, part: wanted.part, waiters: new Set() }));
    const now = Date.now();
    const waiter: Waiter = { res, skip: wanted.skip, gzip, arrivedAt: now, deadline: now + 3 * stream.targetDuration * 1000, done: false };
    group.waiters.add(waiter);
    table.size++;
    p.heldElsewhere++;
    const g = group;
    res.onAborted(() => {
      if (waiter.done) return;
      waiter.done = true;
      g.waiters.delete(waiter);
      table.size--;
      p.heldElsewhere--;
    });
  });
}
