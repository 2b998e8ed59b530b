/**
 * Sends a segment that is still being cut with HTTP/1.1 chunked transfer on uWebSockets.js: the
 * status and headers go out with its first part, then every part as the packager publishes it
 * (each part is whole `moof`+`mdat` pairs, so a player can append as it reads), and the response
 * ends when the segment completes. A request for the next segment, before it opened, is held
 * until its first part; 503 when that takes longer than `holdMs`. A stream that stops producing
 * mid-segment closes the connection instead of ending the body, so no cache or player mistakes a
 * truncated segment for a whole one.
 */
import type uWS from 'uWebSockets.js';
import type { HlsSegment, Packager } from '../hls/Packager';

/** Options of {@link streamSegment}. */
export interface StreamSegmentOptions {
  /** How long to wait for the segment's first part, and then between parts (ms). */
  holdMs: number;
  /** Writes the status line and headers (inside a cork), called once with the time the first part is sent. */
  writeHead: (startedAt: number) => void;
  /** Called once when the response is over: 200 sent whole, 503/404 refused, 499 client gone or connection closed. */
  onDone: (status: 200 | 404 | 499 | 503) => void;
  /** Access-Control-Allow-Origin of error answers. */
  corsOrigin: string;
}

/** Streams segment `msn` of `packager` to `res` as its parts are cut. */
export function streamSegment(res: uWS.HttpResponse, packager: Packager, msn: number, o: StreamSegmentOptions): void {
  let written = 0;
  let started = false;
  let finished = false;
  let deadline = Date.now() + o.holdMs;

  const finish = (status: 200 | 404 | 499 | 503) => {
    if (finished) return;
    finished = true;
    clearInterval(timer);
    packager.off('part', pump);
    packager.off('segment', pump);
    packager.off('ended', pump);
    packager.heldElsewhere--;
    o.onDone(status);
  };
  const refuse = (status: 404 | 503, message: string) => {
    res.cork(() => {
      res.writeStatus(status === 404 ? '404 Not Found' : '503 Service Unavailable');
      res.writeHeader('content-type', 'application/json');
      res.writeHeader('cache-control', 'no-store');
      res.writeHeader('access-control-allow-origin', o.corsOrigin);
      if (status === 503) res.writeHeader('retry-after', '1');
      res.end(JSON.stringify({ code: status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE', message }));
    });
    finish(status);
  };

  function find(): HlsSegment | undefined {
    const segments = packager.segments;
    for (let i = segments.length - 1; i >= 0; i--) if (segments[i]!.msn === msn) return segments[i];
    return packager.segment(msn);
  }

  function pump(): void {
    if (finished) return;
    const seg = find();
    if (!seg || seg.parts.length === 0) {
      if (packager.ended) {
        if (started) {
          res.close();
          finish(499);
        } else refuse(404, 'segment not found: the stream ended');
      }
      return;
    }
    const fresh = seg.parts.slice(written);
    const complete = seg.complete;
    if (fresh.length === 0 && !complete) return;
    res.cork(() => {
      if (!started) {
        started = true;
        o.writeHead(Date.now());
      }
      for (const part of fresh) res.write(part.data);
      written += fresh.length;
      if (complete) res.end();
    });
    deadline = Date.now() + o.holdMs;
    if (complete) finish(200);
  }

  res.onAborted(() => finish(499));
  packager.heldElsewhere++;
  packager.on('part', pump);
  packager.on('segment', pump);
  packager.on('ended', pump);
  const timer = setInterval(() => {
    if (finished || Date.now() < deadline) return;
    if (started) {
      res.close();
      finish(499);
    } else refuse(503, 'segment not ready');
  }, 250);
  timer.unref();
  pump();
}
