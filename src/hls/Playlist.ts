/**
 * Renders multivariant and media playlists per draft-pantos-hls-rfc8216bis (Low-Latency HLS):
 * EXT-X-PART-INF, EXT-X-PART (INDEPENDENT=YES on keyframe parts), EXT-X-SERVER-CONTROL
 * (CAN-BLOCK-RELOAD, PART-HOLD-BACK, HOLD-BACK, CAN-SKIP-UNTIL), EXT-X-PRELOAD-HINT,
 * EXT-X-RENDITION-REPORT, EXT-X-PROGRAM-DATE-TIME, EXT-X-MAP, EXT-X-SKIP delta updates and
 * EXT-X-ENDLIST. Pure functions over a packager's state, so they are unit-testable alone.
 */
import type { HlsSegment } from './Packager';

/** A sibling rendition's position, for EXT-X-RENDITION-REPORT. */
export interface RenditionReport {
  /** URI relative to the playlist being rendered (e.g. `../low/index.m3u8`). */
  uri: string;
  lastMsn: number;
  lastPart: number;
}

/** Inputs of {@link renderMediaPlaylist}. */
export interface MediaPlaylistInput {
  /** EXT-X-TARGETDURATION (s, integer). */
  targetDuration: number;
  /** PART-TARGET (s). */
  partTarget: number;
  /** Segments in the window, oldest first; the last may be open. */
  segments: readonly HlsSegment[];
  /** Sequence number of the next part (the preload hint). */
  nextPartSeq: number;
  /** True when the stream ended (EXT-X-ENDLIST; no hint, no blocking). */
  ended: boolean;
  /** Delta update requested by `_HLS_skip` (ignored when ended). */
  skip?: 'YES' | 'v2';
  renditionReports?: readonly RenditionReport[];
  /** Appended to every URI (e.g. `?token=…`), already encoded; default none. */
  uriSuffix?: string;
  /** Prepended to init/part/segment URIs (e.g. the stream epoch `3fa9c2d1/`); default none. */
  pathPrefix?: string;
  /** Complete `#EXT-X-DATERANGE:` lines (room events, src/events/EventTimeline.ts), listed before the segments. */
  dateRanges?: readonly string[];
}

/** One variant of the multivariant playlist. */
export interface VariantInfo {
  /** Media playlist URI relative to the multivariant playlist. */
  uri: string;
  /** Peak bits/s. */
  bandwidth: number;
  averageBandwidth?: number;
  /** RFC 6381 codec strings of every track. */
  codecs: string[];
  width?: number;
  height?: number;
  frameRate?: number;
  /** GROUP-ID of the audio rendition group the variant plays with. */
  audioGroup?: string;
}

/** The audio rendition (EXT-X-MEDIA TYPE=AUDIO) shared by the variants. */
export interface AudioRenditionInfo {
  groupId: string;
  /** Media playlist URI relative to the multivariant playlist. */
  uri: string;
  channels: number;
}

/** URI of part `seq` relative to its media playlist. */
export function partUri(seq: number): string {
  return `p${seq}.m4s`;
}

/** URI of segment `msn` relative to its media playlist. */
export function segmentUri(msn: number): string {
  return `s${msn}.m4s`;
}

/** URI of the initialisation segment relative to its media playlist. */
export const INIT_URI = 'init.mp4';

/** Segments further than this many target durations from the end keep no EXT-X-PART tags. */
const PART_LIST_TARGET_DURATIONS = 3;

/** Server-control values derived from the target durations. */
export function serverControl(targetDuration: number, partTarget: number): { partHoldBack: number; holdBack: number; canSkipUntil: number } {
  return { partHoldBack: 3 * partTarget, holdBack: 3 * targetDuration, canSkipUntil: 6 * targetDuration };
}

function fixed(n: number, digits = 5): string {
  return n.toFixed(digits);
}

/** Renders a media playlist. */
export function renderMediaPlaylist(input: MediaPlaylistInput): string {
  const { targetDuration, partTarget, segments, ended } = input;
  const q = input.uriSuffix ?? '';
  const dir = input.pathPrefix ?? '';
  const sc = serverControl(targetDuration, partTarget);
  const skipRequested = input.skip !== undefined && !ended;
  const complete = segments.filter((s) => s.complete);
  const end = segments.reduce((t, s) => t + s.duration, 0);
  let skipped = 0;
  if (skipRequested) {
    // Skip every complete segment that starts further than CAN-SKIP-UNTIL from the playlist's end.
    let startOffset = 0;
    for (const s of complete) {
      if (end - startOffset <= sc.canSkipUntil) break;
      skipped++;
      startOffset += s.duration;
    }
  }
  const lines: string[] = ['#EXTM3U', `#EXT-X-VERSION:${skipped > 0 && input.skip === 'v2' ? 10 : 9}`, `#EXT-X-TARGETDURATION:${targetDuration}`];
  lines.push(
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${fixed(sc.canSkipUntil, 1)},PART-HOLD-BACK=${fixed(sc.partHoldBack, 3)},HOLD-BACK=${fixed(sc.holdBack, 1)}`,
  );
  lines.push(`#EXT-X-PART-INF:PART-TARGET=${fixed(partTarget, 3)}`);
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`);
  lines.push(`#EXT-X-MAP:URI="${dir}${INIT_URI}${q}"`);
  if (skipped > 0) {
    lines.push(input.skip === 'v2' ? `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped},RECENTLY-REMOVED-DATERANGES=""` : `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  }
  if (input.dateRanges?.length && segments.some((s) => s.parts.length > 0)) lines.push(...input.dateRanges);
  // Parts are listed for the segments within the last few target durations of the end.
  let fromEnd = 0;
  const listParts = new Set<HlsSegment>();
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    fromEnd += s.duration;
    if (fromEnd > PART_LIST_TARGET_DURATIONS * targetDuration + 1e-6 && listParts.size > 0) break;
    listParts.add(s);
  }
  for (const s of segments.slice(skipped)) {
    if (s.parts.length === 0) continue;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    if (listParts.has(s)) {
      for (const p of s.parts) {
        lines.push(`#EXT-X-PART:DURATION=${fixed(p.duration)},URI="${dir}${partUri(p.seq)}${q}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
      }
    }
    if (s.complete) {
      lines.push(`#EXTINF:${fixed(s.duration)},`, `${dir}${segmentUri(s.msn)}${q}`);
    }
  }
  if (ended) {
    lines.push('#EXT-X-ENDLIST');
  } else {
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${dir}${partUri(input.nextPartSeq)}${q}"`);
    for (const r of input.renditionReports ?? []) {
      lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}${q}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Renders the multivariant playlist. */
export function renderMultivariantPlaylist(variants: readonly VariantInfo[], uriSuffix = '', audio?: AudioRenditionInfo): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audio.groupId}",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.channels}",URI="${audio.uri}${uriSuffix}"`,
    );
  }
  for (const v of variants) {
    const attrs = [`BANDWIDTH=${Math.round(v.bandwidth)}`];
    if (v.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth)}`);
    attrs.push(`CODECS="${v.codecs.join(',')}"`);
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    if (v.audioGroup) attrs.push(`AUDIO="${v.audioGroup}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, `${v.uri}${uriSuffix}`);
  }
  return lines.join('\n') + '\n';
}

/** Where a blocking reload `_HLS_msn`/`_HLS_part` stands against a packager's state. */
export type BlockingState = 'ready' | 'wait' | 'too-far';

/** What {@link blockingState} needs to know about the playlist. */
export interface BlockingView {
  segments: readonly HlsSegment[];
  lastCompleteMsn: number;
  ended: boolean;
  /** PART-TARGET (s), for the Advance Part Limit. */
  partTarget: number;
}

/**
 * Decides a blocking reload per rfc8216bis §6.2.5.2: ready when the playlist holds segment `msn`
 * (or part `part` of it, a part index past a complete segment's last meaning part 0 of the next);
 * too far when `msn` is beyond the last segment + 2 or `part` beyond the last part by the Advance
 * Part Limit (3 / PART-TARGET when PART-TARGET < 1 s, else 3).
 */
export function blockingState(view: BlockingView, msn: number, part: number | undefined): BlockingState {
  if (view.ended) return 'ready';
  if (msn > view.lastCompleteMsn + 2) return 'too-far';
  if (part === undefined) return msn <= view.lastCompleteMsn ? 'ready' : 'wait';
  const limit = view.partTarget < 1 ? Math.floor(3 / view.partTarget) : 3;
  let m = msn;
  let p = part;
  for (;;) {
    const seg = view.segments.find((s) => s.msn === m);
    if (!seg) {
      const first = view.segments[0];
      if (first && m < first.msn) return 'ready'; // already out of the window
      break;
    }
    if (p < seg.parts.length) return 'ready';
    if (!seg.complete) break;
    m += 1;
    p = 0;
  }
  // Not there yet: how many parts ahead of the last published one is it?
  const last = view.segments.at(-1);
  if (last) {
    const lastIndex = last.parts.length - 1;
    const perSegment = Math.max(1, Math.ceil(Math.max(...view.segments.map((s) => s.parts.length))));
    const ahead = (m - last.msn) * perSegment + (p - lastIndex);
    if (ahead > limit) return 'too-far';
  }
  return 'wait';
}
