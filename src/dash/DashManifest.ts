/**
 * The MPD of a packaged stream: maps the LL-HLS packager's renditions, segments and parts (the
 * same CMAF objects the HLS playlists list) onto {@link renderMpd}'s input, and caches the
 * rendered text with its ETag until what it shows changes (a segment opened or completed, a
 * bitrate measured, the end). Media URLs are `{rendition}/{epoch}/s$Number$.m4s` relative to the
 * MPD, `$Number$` being the packager's media sequence number.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { HlsStream } from '../hls/HlsStream';
import type { LiveRendition } from '../hls/LadderTranscoder';
import type { HlsSegment } from '../hls/Packager';
import type { DashConfig } from './dashConfig';
import { renderMpd, type MpdInput, type MpdRepresentation, type MpdSegment } from './Mpd';

/** One rendered MPD. */
export interface CachedMpd {
  body: string;
  bytes: Buffer;
  etag: string;
  /** The body gzip-encoded (computed on first use). */
  gzip(): Buffer;
}

/**
 * Duration (s) the MPD announces for the segment in progress: its final length is only known
 * when the next keyframe closes it, so the longest a segment may become (EXT-X-TARGETDURATION) is
 * announced, never less than what it already holds plus a part. Players ask for the segment after
 * it by time, so an announcement that is too long never makes them fetch the same segment twice.
 */
export function inProgressDurationSec(stream: Pick<HlsStream, 'targetDuration' | 'partTarget'>, open: Pick<HlsSegment, 'duration'>): number {
  return Math.max(stream.targetDuration, open.duration + stream.partTarget);
}

/** SegmentTemplate@availabilityTimeOffset: the segment in progress is available once its first part is. */
export function availabilityTimeOffsetSec(stream: Pick<HlsStream, 'targetDuration' | 'partTarget'>): number {
  return stream.targetDuration - stream.partTarget;
}

/** The timeline of a rendition: its window's segments, the one in progress included once it has a part. */
export function timelineOf(
  stream: Pick<HlsStream, 'targetDuration' | 'partTarget'>,
  r: LiveRendition,
  timescale: number,
): { startNumber: number; segments: MpdSegment[] } {
  const segments: MpdSegment[] = [];
  let startNumber = -1;
  for (const s of r.packager.segments) {
    if (!s.complete && s.parts.length === 0) continue;
    const t = Math.round(s.startTime * timescale);
    const end = s.complete ? s.startTime + s.duration : s.startTime + inProgressDurationSec(stream, s);
    if (startNumber < 0) startNumber = s.msn;
    segments.push({ t, d: Math.max(1, Math.round(end * timescale) - t) });
  }
  return { startNumber: Math.max(0, startNumber), segments };
}

function representationOf(stream: HlsStream, r: LiveRendition, audioKbps: number, uriSuffix: string): MpdRepresentation | undefined {
  const track = r.packager.initInfo?.tracks.find((t) => t.kind === r.kind);
  if (!track) return undefined;
  const { startNumber, segments } = timelineOf(stream, r, track.timescale);
  if (segments.length === 0) return undefined;
  const configured = r.kind === 'audio' ? audioKbps * 1000 : r.spec.videoKbps * 1000;
  return {
    id: r.spec.name,
    bandwidth: r.packager.peakBitrate > 0 ? r.packager.peakBitrate : configured,
    codecs: track.codec,
    width: track.width,
    height: track.height,
    frameRate: r.kind === 'video' ? r.packager.frameRate : undefined,
    audioSamplingRate: track.sampleRate,
    channels: track.channels,
    timescale: track.timescale,
    initialization: `${r.spec.name}/${stream.epoch}/init.mp4${uriSuffix}`,
    media: `${r.spec.name}/${stream.epoch}/s$Number$.m4s${uriSuffix}`,
    startNumber,
    segments,
  };
}

/** Wall-clock ms of media time 0 of a stream (its renditions share one clock anchor), once a segment exists. */
export function availabilityStartOf(stream: HlsStream): number | undefined {
  for (const r of stream.renditions) {
    const s = r.packager.segments[0];
    if (s) return Math.round(s.programDateTime - s.startTime * 1000);
  }
  return undefined;
}

/** Builds the MPD input of a stream; undefined until every rendition has listed media. */
export function mpdInputOf(
  stream: HlsStream,
  o: { config: DashConfig; audioKbps: number; dvrWindowSec: number; utcTimingUrl: string; uriSuffix: string; availabilityStartTime: number; now?: number },
): MpdInput | undefined {
  const video: MpdRepresentation[] = [];
  let audio: MpdRepresentation | undefined;
  let endTimeSec = 0;
  for (const r of stream.listedRenditions) {
    const rep = representationOf(stream, r, o.audioKbps, o.uriSuffix);
    if (!rep) return undefined;
    if (r.kind === 'audio') audio = rep;
    else video.push(rep);
    const last = r.packager.segments.at(-1);
    if (last) endTimeSec = Math.max(endTimeSec, last.startTime + last.duration);
  }
  video.sort((a, b) => b.bandwidth - a.bandwidth);
  const ended = stream.ended || stream.listedRenditions.every((r) => r.packager.ended);
  return {
    availabilityStartTime: o.availabilityStartTime,
    publishTime: o.now ?? Date.now(),
    ended,
    endTimeSec,
    timeShiftBufferDepthSec: Math.max(o.dvrWindowSec, 3 * stream.targetDuration),
    minimumUpdatePeriodSec: o.config.minimumUpdatePeriodMs / 1000,
    maxSegmentDurationSec: stream.targetDuration + 0.5,
    minBufferTimeSec: Math.max(0.5, 2 * stream.partTarget),
    availabilityTimeOffsetSec: availabilityTimeOffsetSec(stream),
    latency: { targetMs: o.config.targetLatencyMs, minMs: o.config.minLatencyMs, maxMs: o.config.maxLatencyMs },
    playbackRate: o.config.playbackRate,
    utcTimingUrl: o.utcTimingUrl,
    video,
    audio,
  };
}

interface Entry extends CachedMpd {
  state: string;
}

/** Rendered MPDs per stream, re-rendered only when their content changes. */
export class DashManifests {
  readonly #config: DashConfig;
  readonly #audioKbps: number;
  readonly #dvrWindowSec: number;
  readonly #byStream = new WeakMap<HlsStream, { ast: number; variants: Map<string, Entry> }>();

  constructor(options: { config: DashConfig; audioKbps: number; dvrWindowSec: number }) {
    this.#config = options.config;
    this.#audioKbps = options.audioKbps;
    this.#dvrWindowSec = options.dvrWindowSec;
  }

  /** The MPD of `stream` now; undefined while a rendition has nothing to list yet. */
  mpd(stream: HlsStream, utcTimingUrl: string, uriSuffix: string): CachedMpd | undefined {
    let cached = this.#byStream.get(stream);
    if (!cached) {
      const ast = availabilityStartOf(stream);
      if (ast === undefined) return undefined;
      this.#byStream.set(stream, (cached = { ast, variants: new Map() }));
    }
    let state = `${stream.ended ? 1 : 0}`;
    for (const r of stream.listedRenditions) {
      const p = r.packager;
      state += `,${r.spec.name}`;
      const open = p.openSegment;
      state += `,${p.segments[0]?.msn ?? -1}:${p.lastCompleteMsn}:${open && open.parts.length > 0 ? open.msn : -1}:${p.peakBitrate}:${p.frameRate?.toFixed(1) ?? ''}:${p.ended ? 1 : 0}`;
    }
    const variant = `${utcTimingUrl}|${uriSuffix}`;
    const hit = cached.variants.get(variant);
    if (hit && hit.state === state) return hit;
    const input = mpdInputOf(stream, {
      config: this.#config,
      audioKbps: this.#audioKbps,
      dvrWindowSec: this.#dvrWindowSec,
      utcTimingUrl,
      uriSuffix,
      availabilityStartTime: cached.ast,
    });
    if (!input) return undefined;
    const body = renderMpd(input);
    let gz: Buffer | undefined;
    const entry: Entry = {
      state,
      body,
      bytes: Buffer.from(body),
      etag: `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`,
      gzip: () => (gz ??= zlib.gzipSync(body, { level: 4 })),
    };
    if (cached.variants.size > 64) cached.variants.clear(); // bounded: suffixes carry per-viewer tokens
    cached.variants.set(variant, entry);
    return entry;
  }
}
