/**
 * Resolves a DASH media URL (`{rendition}/{epoch}/init.mp4`, `{rendition}/{epoch}/s{N}.m4s`) to
 * what the LL-HLS packager holds: an init segment, a complete segment, the segment in progress
 * (or the next one, about to open), or why not (unknown stream, rendition, earlier epoch, a
 * segment out of the window or too far ahead).
 */
import type { HlsService } from '../hls/HlsService';
import type { HlsStream } from '../hls/HlsStream';
import type { LiveRendition } from '../hls/LadderTranscoder';
import type { HlsSegment } from '../hls/Packager';

/** The parts of a media URL. */
export interface MediaTarget {
  room: string;
  identity: string;
  rendition: string;
  epoch: string;
  file: string;
}

/** What a media URL names now. */
export type ResolvedMedia =
  | { kind: 'error'; status: 400 | 404; message: string; resource: 'init' | 'segment' | 'other' }
  | { kind: 'init'; stream: HlsStream; rendition: LiveRendition }
  /** The init segment is not written yet (the stream is starting). */
  | { kind: 'held-init'; stream: HlsStream; rendition: LiveRendition }
  | { kind: 'segment'; stream: HlsStream; rendition: LiveRendition; segment: HlsSegment }
  /** The segment in progress (`msn` is the open one) or the next one: sent as its parts are cut. */
  | { kind: 'in-progress'; stream: HlsStream; rendition: LiveRendition; msn: number };

const SEGMENT = /^s(\d{1,9})\.m4s$/;

/** Looks a media URL up in the service's packaged streams. */
export function resolveMedia(service: HlsService, t: MediaTarget): ResolvedMedia {
  const resource = t.file === 'init.mp4' ? 'init' : SEGMENT.test(t.file) ? 'segment' : 'other';
  if (resource === 'other') return { kind: 'error', status: 404, message: 'resource not found', resource };
  const stream = service.get(t.room, t.identity);
  if (!stream || stream.disposed) return { kind: 'error', status: 404, message: 'stream not found (request the manifest first)', resource };
  const rendition = stream.rendition(t.rendition);
  if (!rendition) return { kind: 'error', status: 404, message: 'rendition not found', resource };
  if (t.epoch !== stream.epoch) return { kind: 'error', status: 404, message: 'resource of an earlier run of this stream', resource };
  const p = rendition.packager;
  if (resource === 'init') return p.init ? { kind: 'init', stream, rendition } : { kind: 'held-init', stream, rendition };
  const msn = Number(SEGMENT.exec(t.file)![1]);
  const complete = p.segment(msn);
  if (complete) return { kind: 'segment', stream, rendition, segment: complete };
  if (!p.ended) {
    const open = p.openSegment;
    const last = p.segments.at(-1);
    const next = open ? open.msn + 1 : last ? last.msn + 1 : 0;
    if (open?.msn === msn || msn === next) return { kind: 'in-progress', stream, rendition, msn };
    if (msn > next) return { kind: 'error', status: 404, message: `segment ${msn} is too far ahead (next is ${next})`, resource };
  }
  return { kind: 'error', status: 404, message: 'segment not found', resource };
}
