/**
 * Renders a dynamic low-latency MPD (ISO/IEC 23009-1, DASH-IF low-latency guidelines) from plain
 * data: one Period, a video AdaptationSet with a Representation per video rendition and an audio
 * AdaptationSet of its own, each Representation with a SegmentTemplate (`$Number$` media URLs,
 * a SegmentTimeline of exact segment times, `availabilityTimeOffset` and
 * `availabilityTimeComplete="false"`: the segment in progress is listed and may be fetched while
 * it is being written), a ServiceDescription with the latency targets, a ProducerReferenceTime
 * and UTCTiming. The MPD of an ended stream drops `minimumUpdatePeriod` and carries its
 * `mediaPresentationDuration`.
 */

/** One segment on a Representation's timeline, in its timescale. */
export interface MpdSegment {
  /** Start (media time, timescale units). */
  t: number;
  /** Duration (timescale units). */
  d: number;
}

/** One Representation. */
export interface MpdRepresentation {
  /** Representation@id (the rendition name). */
  id: string;
  /** Representation@bandwidth (bits/s). */
  bandwidth: number;
  /** RFC 6381 codec string. */
  codecs: string;
  width?: number;
  height?: number;
  /** Frames per second (video). */
  frameRate?: number;
  /** Audio sample rate (Hz). */
  audioSamplingRate?: number;
  /** Audio channels. */
  channels?: number;
  /** Ticks per second of `segments`. */
  timescale: number;
  /** Initialization URL, relative to the MPD. */
  initialization: string;
  /** Media URL template with `$Number$`, relative to the MPD. */
  media: string;
  /** Number of the first segment listed. */
  startNumber: number;
  /** Contiguous segments, oldest first; the last may be the one in progress (estimated duration). */
  segments: readonly MpdSegment[];
}

/** What {@link renderMpd} needs. */
export interface MpdInput {
  /** Wall-clock ms of presentation time 0 (MPD@availabilityStartTime). */
  availabilityStartTime: number;
  /** Wall-clock ms of this version (MPD@publishTime). */
  publishTime: number;
  /** True once the stream ended: no more updates, a known duration. */
  ended: boolean;
  /** Presentation time (s) where the last segment ends (used once ended). */
  endTimeSec: number;
  /** MPD@timeShiftBufferDepth (s): the DVR window. */
  timeShiftBufferDepthSec: number;
  /** MPD@minimumUpdatePeriod (s). */
  minimumUpdatePeriodSec: number;
  /** MPD@maxSegmentDuration (s). */
  maxSegmentDurationSec: number;
  /** MPD@minBufferTime (s). */
  minBufferTimeSec: number;
  /** SegmentTemplate@availabilityTimeOffset (s). */
  availabilityTimeOffsetSec: number;
  /** ServiceDescription latency targets (ms). */
  latency: { targetMs: number; minMs: number; maxMs: number };
  /** ServiceDescription playback rate bounds. */
  playbackRate: { min: number; max: number };
  /** UTCTiming http-iso URL (absolute, or relative to the MPD). */
  utcTimingUrl: string;
  video: readonly MpdRepresentation[];
  audio?: MpdRepresentation;
}

/** `PT…S` with millisecond precision. */
export function isoDuration(seconds: number): string {
  return `PT${Number(Math.max(0, seconds).toFixed(3))}S`;
}

/** xs:dateTime in UTC with milliseconds. */
export function isoDate(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

/** Escapes an attribute value. */
export function xmlAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** FrameRateType: an integer, or a ratio for fractional rates. */
export function frameRateAttr(fps: number): string {
  const rounded = Math.round(fps);
  return Math.abs(fps - rounded) < 0.01 ? String(rounded) : `${Math.round(fps * 1000)}/1000`;
}

function attrs(values: Record<string, string | number | undefined>): string {
  let out = '';
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out += ` ${k}="${xmlAttr(String(v))}"`;
  return out;
}

function segmentTemplate(r: MpdRepresentation, ato: number, indent: string): string[] {
  const lines = [
    `${indent}<SegmentTemplate${attrs({
      timescale: r.timescale,
      initialization: r.initialization,
      media: r.media,
      startNumber: r.startNumber,
      availabilityTimeOffset: Number(ato.toFixed(3)),
      availabilityTimeComplete: 'false',
    })}>`,
    `${indent}  <SegmentTimeline>`,
  ];
  let expected: number | undefined;
  for (const s of r.segments) {
    // `t` only where the timeline is not simply the previous segment's end.
    lines.push(`${indent}    <S${attrs({ t: s.t === expected ? undefined : s.t, d: s.d })}/>`);
    expected = s.t + s.d;
  }
  lines.push(`${indent}  </SegmentTimeline>`, `${indent}</SegmentTemplate>`);
  return lines;
}

/** The MPD text. */
export function renderMpd(m: MpdInput): string {
  const ast = isoDate(m.availabilityStartTime);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<MPD${attrs({
      xmlns: 'urn:mpeg:dash:schema:mpd:2011',
      profiles: 'urn:mpeg:dash:profile:isoff-live:2011,http://www.dashif.org/guidelines/low-latency-live-v5',
      type: 'dynamic',
      availabilityStartTime: ast,
      publishTime: isoDate(m.publishTime),
      minimumUpdatePeriod: m.ended ? undefined : isoDuration(m.minimumUpdatePeriodSec),
      mediaPresentationDuration: m.ended ? isoDuration(m.endTimeSec) : undefined,
      timeShiftBufferDepth: isoDuration(m.timeShiftBufferDepthSec),
      maxSegmentDuration: isoDuration(m.maxSegmentDurationSec),
      minBufferTime: isoDuration(m.minBufferTimeSec),
    })}>`,
    '  <ServiceDescription id="0">',
    `    <Latency${attrs({ referenceId: 0, target: m.latency.targetMs, min: m.latency.minMs, max: m.latency.maxMs })}/>`,
    `    <PlaybackRate${attrs({ min: m.playbackRate.min, max: m.playbackRate.max })}/>`,
    '  </ServiceDescription>',
    '  <Period id="0" start="PT0S">',
  ];
  // Presentation time 0 is availabilityStartTime on the wall clock (PresentationTimeOffset 0).
  const prt = (timescaleIndent: string) =>
    `${timescaleIndent}<ProducerReferenceTime${attrs({ id: 0, type: 'encoder', wallClockTime: ast, presentationTime: 0 })}/>`;
  if (m.video.length > 0) {
    const maxWidth = Math.max(0, ...m.video.map((v) => v.width ?? 0));
    const maxHeight = Math.max(0, ...m.video.map((v) => v.height ?? 0));
    lines.push(
      `    <AdaptationSet${attrs({ id: 0, contentType: 'video', mimeType: 'video/mp4', maxWidth: maxWidth || undefined, maxHeight: maxHeight || undefined })}>`,
    );
    lines.push(prt('      '));
    for (const v of m.video) {
      lines.push(
        `      <Representation${attrs({ id: v.id, bandwidth: Math.round(v.bandwidth), codecs: v.codecs, width: v.width, height: v.height, frameRate: v.frameRate ? frameRateAttr(v.frameRate) : undefined })}>`,
      );
      lines.push(...segmentTemplate(v, m.availabilityTimeOffsetSec, '        '), '      </Representation>');
    }
    lines.push('    </AdaptationSet>');
  }
  if (m.audio) {
    const a = m.audio;
    lines.push(`    <AdaptationSet${attrs({ id: 1, contentType: 'audio', mimeType: 'audio/mp4', lang: 'und' })}>`);
    lines.push(prt('      '));
    lines.push(`      <Representation${attrs({ id: a.id, bandwidth: Math.round(a.bandwidth), codecs: a.codecs, audioSamplingRate: a.audioSamplingRate })}>`);
    if (a.channels)
      lines.push(`        <AudioChannelConfiguration${attrs({ schemeIdUri: 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011', value: a.channels })}/>`);
    lines.push(...segmentTemplate(a, m.availabilityTimeOffsetSec, '        '), '      </Representation>', '    </AdaptationSet>');
  }
  lines.push('  </Period>', `  <UTCTiming${attrs({ schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: m.utcTimingUrl })}/>`, '</MPD>', '');
  return lines.join('\n');
}
