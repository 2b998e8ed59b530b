/**
 * A CDN-style LL-HLS viewer without a decoder: it follows one media playlist with blocking
 * reloads (`_HLS_msn`/`_HLS_part` of the next part) and fetches each preload-hinted part in
 * parallel, as low-latency players do, over HTTP/1.1 keep-alive with CMCD headers. It reports
 * per-request timings and each part's age when it was in hand (now − its program-date-time).
 */
import crypto from 'node:crypto';
import http from 'node:http';

/** The part of a media playlist a viewer needs. */
export interface MediaPlaylistInfo {
  partTargetMs: number;
  /** Next part to ask for: segment msn and part index in it. */
  next: { msn: number; part: number };
  /** URI of the preload-hinted part (absolute), if any. */
  hintUri: string | undefined;
  /** Program-date-time where the hinted part starts (ms epoch), if known. */
  hintStartMs: number | undefined;
  ended: boolean;
}

/** Parses an LL-HLS media playlist (rfc8216bis) for the next blocking request and the hinted part. */
export function parseMediaPlaylist(text: string, baseUrl: string): MediaPlaylistInfo {
  let partTargetMs = 200;
  let msn = 0;
  let partsInSegment = 0;
  let segmentPdt: number | undefined;
  let partsDurationMs = 0;
  let hintUri: string | undefined;
  let ended = false;
  let lastPart: { msn: number; index: number } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-PART-INF:')) {
      const m = /PART-TARGET=([\d.]+)/.exec(line);
      if (m) partTargetMs = Number(m[1]) * 1000;
    } else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      msn = Number(line.slice('#EXT-X-MEDIA-SEQUENCE:'.length));
    } else if (line.startsWith('#EXT-X-SKIP:')) {
      const m = /SKIPPED-SEGMENTS=(\d+)/.exec(line);
      if (m) msn += Number(m[1]);
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      segmentPdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
      partsDurationMs = 0;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const d = /DURATION=([\d.]+)/.exec(line);
      partsDurationMs += d ? Number(d[1]) * 1000 : 0;
      lastPart = { msn, index: partsInSegment };
      partsInSegment++;
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) {
      const m = /URI="([^"]+)"/.exec(line);
      if (m && /TYPE=PART/.test(line)) hintUri = new URL(m[1]!, baseUrl).toString();
    } else if (line === '#EXT-X-ENDLIST') {
      ended = true;
    } else if (line && !line.startsWith('#')) {
      // A segment URI closes the segment.
      msn++;
      partsInSegment = 0;
      segmentPdt = undefined;
      partsDurationMs = 0;
    }
  }
  // The part after the last listed one: the next index of the open segment, or the first of the next.
  const next = lastPart ? (lastPart.msn === msn ? { msn, part: lastPart.index + 1 } : { msn, part: 0 }) : { msn, part: 0 };
  const hintStartMs = segmentPdt !== undefined ? segmentPdt + partsDurationMs : undefined;
  return { partTargetMs, next, hintUri, hintStartMs, ended };
}

/** Timings a viewer reports through its callbacks. */
export interface ViewerEvents {
  /** A blocking playlist reload answered (ms from request to full body). */
  playlist(ms: number, status: number): void;
  /**
   * A part arrived: time to first byte and to last byte (ms), bytes, and its age (ms from the
   * program-date-time where its media starts to its last byte here; null when unknown).
   */
  part(ttfbMs: number, totalMs: number, bytes: number, ageMs: number | null, status: number): void;
  /** A request failed at the socket level or with an unexpected status. */
  error(kind: 'playlist' | 'part', reason: string): void;
}

/** One viewer of one rendition. */
export class LlHlsViewer {
  readonly #url: string;
  readonly #agent: http.Agent;
  readonly #events: ViewerEvents;
  readonly #sid = crypto.randomUUID();
  #stopped = false;
  /** Parts received. */
  parts = 0;

  /** `playlistUrl`: absolute URL of a media playlist. */
  constructor(playlistUrl: string, events: ViewerEvents) {
    this.#url = playlistUrl;
    // One connection for playlists and one for parts, like a player with HTTP/1.1.
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.#events = events;
  }

  /** Runs until `signal` aborts or `stop()`. */
  async run(signal: AbortSignal): Promise<void> {
    let info: MediaPlaylistInfo | undefined;
    while (!this.#stopped && !signal.aborted) {
      const url = info ? `${this.#url}${this.#url.includes('?') ? '&' : '?'}_HLS_msn=${info.next.msn}&_HLS_part=${info.next.part}` : this.#url;
      const partFetch = info?.hintUri ? this.#fetchPart(info.hintUri, info.hintStartMs, info.partTargetMs, signal) : Promise.resolve();
      const t = performance.now();
      const res = await this.#get(url, 'ot=m', signal).catch((err: Error) => err);
      await partFetch;
      if (res instanceof Error) {
        if (signal.aborted || this.#stopped) return;
        this.#events.error('playlist', res.message);
        info = undefined;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      this.#events.playlist(performance.now() - t, res.status);
      if (res.status !== 200) {
        this.#events.error('playlist', `HTTP ${res.status}`);
        info = undefined;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      info = parseMediaPlaylist(res.body.toString('utf8'), this.#url);
      if (info.ended) return;
    }
  }

  async #fetchPart(uri: string, startMs: number | undefined, partTargetMs: number, signal: AbortSignal): Promise<void> {
    const t = performance.now();
    const res = await this.#get(uri, `ot=av,d=${Math.round(partTargetMs)}`, signal).catch((err: Error) => err);
    if (res instanceof Error) {
      if (!signal.aborted && !this.#stopped) this.#events.error('part', res.message);
      return;
    }
    const total = performance.now() - t;
    if (res.status !== 200) {
      this.#events.error('part', `HTTP ${res.status}`);
      return;
    }
    this.parts++;
    const age = startMs === undefined ? null : Date.now() - startMs;
    this.#events.part(res.ttfbMs, total, res.body.length, age, res.status);
  }

  #get(url: string, cmcdObject: string, signal: AbortSignal): Promise<{ status: number; body: Buffer; ttfbMs: number }> {
    return new Promise((resolve, reject) => {
      const t = performance.now();
      const req = http.get(
        url,
        {
          agent: this.#agent,
          signal,
          timeout: 15_000,
          headers: {
            'CMCD-Session': `sid="${this.#sid}",sf=h,st=l,v=2`,
            'CMCD-Object': cmcdObject,
            'CMCD-Request': `bl=${Math.round(3 * 200)}`,
          },
        },
        (res) => {
          const ttfbMs = performance.now() - t;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ttfbMs }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  }

  /** Stops after the requests in flight and closes the connections. */
  stop(): void {
    this.#stopped = true;
    this.#agent.destroy();
  }
}
