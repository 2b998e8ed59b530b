import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mp4BoxReader, type Mp4Box } from '../../../src/hls/Mp4BoxReader';
import { Packager } from '../../../src/hls/Packager';
import type { HlsStream } from '../../../src/hls/HlsStream';
import type { LiveRendition } from '../../../src/hls/LadderTranscoder';
import { renderMpd, isoDuration, frameRateAttr, type MpdInput } from '../../../src/dash/Mpd';
import { availabilityStartOf, inProgressDurationSec, mpdInputOf, timelineOf, DashManifests } from '../../../src/dash/DashManifest';
import { dashConfigSchema } from '../../../src/dash/dashConfig';
import { makeFmp4 } from '../hls/fmp4Fixture';

let fx: ReturnType<typeof makeFmp4>;
beforeAll(() => {
  fx = makeFmp4(6);
}, 30_000);
afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

const config = dashConfigSchema.parse({});

function boxes(file: Buffer): Mp4Box[] {
  return new Mp4BoxReader().push(file);
}

/** A stream-shaped object over real packagers (what the MPD code reads of an HlsStream). */
function fakeStream(renditions: LiveRendition[], ended = false): HlsStream {
  return { renditions, listedRenditions: renditions, epoch: '0badcafe', ended, targetDuration: 3, partTarget: 0.2 } as unknown as HlsStream;
}

function rendition(kind: 'video' | 'audio', name: string, p: Packager): LiveRendition {
  return { kind, spec: { name, copySource: kind === 'video', videoKbps: kind === 'video' ? 1500 : 0 }, copied: false, packager: p };
}

function packager(): Packager {
  return new Packager({ partTargetMs: 200, segmentTargetMs: 2000, targetDurationSec: 3, dvrWindowSec: 60, now: () => 1_700_000_000_000 });
}

describe('MPD rendering', () => {
  const base: MpdInput = {
    availabilityStartTime: Date.UTC(2026, 0, 1, 12, 0, 0, 250),
    publishTime: Date.UTC(2026, 0, 1, 12, 0, 30),
    ended: false,
    endTimeSec: 30,
    timeShiftBufferDepthSec: 60,
    minimumUpdatePeriodSec: 0.5,
    maxSegmentDurationSec: 3.5,
    minBufferTimeSec: 0.5,
    availabilityTimeOffsetSec: 2.8,
    latency: { targetMs: 1500, minMs: 1000, maxMs: 6000 },
    playbackRate: { min: 0.96, max: 1.04 },
    utcTimingUrl: 'http://node.example:8080/dash/time',
    video: [
      {
        id: 'source',
        bandwidth: 1_500_000,
        codecs: 'avc1.42c01f',
        width: 640,
        height: 360,
        frameRate: 29.97,
        timescale: 90000,
        initialization: 'source/e/init.mp4?token=a&b',
        media: 'source/e/s$Number$.m4s',
        startNumber: 7,
        segments: [
          { t: 900000, d: 180000 },
          { t: 1080000, d: 183000 },
          { t: 1300000, d: 270000 },
        ],
      },
    ],
    audio: {
      id: 'audio',
      bandwidth: 64000,
      codecs: 'mp4a.40.2',
      audioSamplingRate: 48000,
      channels: 2,
      timescale: 48000,
      initialization: 'audio/e/init.mp4',
      media: 'audio/e/s$Number$.m4s',
      startNumber: 7,
      segments: [{ t: 480000, d: 96000 }],
    },
  };

  it('renders a dynamic low-latency MPD: SegmentTimeline with $Number$, ato, ServiceDescription, UTCTiming, audio apart', () => {
    const mpd = renderMpd(base);
    expect(mpd).toContain('type="dynamic"');
    expect(mpd).toContain('availabilityStartTime="2026-01-01T12:00:00.250Z"');
    expect(mpd).toContain('minimumUpdatePeriod="PT0.5S"');
    expect(mpd).toContain('timeShiftBufferDepth="PT60S"');
    expect(mpd).not.toContain('mediaPresentationDuration');
    expect(mpd).toContain('<Latency referenceId="0" target="1500" min="1000" max="6000"/>');
    expect(mpd).toContain('<PlaybackRate min="0.96" max="1.04"/>');
    expect(mpd).toContain('<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="http://node.example:8080/dash/time"/>');
    expect(mpd).toContain('media="source/e/s$Number$.m4s" startNumber="7" availabilityTimeOffset="2.8" availabilityTimeComplete="false"');
    // Attribute values are escaped.
    expect(mpd).toContain('initialization="source/e/init.mp4?token=a&amp;b"');
    // `t` only where the timeline jumps: the second segment follows the first, the third does not.
    expect(mpd).toContain('<S t="900000" d="180000"/>\n            <S d="183000"/>\n            <S t="1300000" d="270000"/>');
    expect(mpd).toContain('frameRate="29970/1000"');
    // Audio is an AdaptationSet of its own, with its channel configuration.
    expect(mpd).toMatch(
      /<AdaptationSet id="1" contentType="audio" mimeType="audio\/mp4"[^>]*>[\s\S]*<AudioChannelConfiguration [^>]*value="2"\/>[\s\S]*<\/AdaptationSet>/,
    );
    expect(mpd.match(/<AdaptationSet /g)!.length).toBe(2);
    // Element order per the MPD schema: ServiceDescription, Period, UTCTiming.
    expect(mpd.indexOf('<ServiceDescription')).toBeLessThan(mpd.indexOf('<Period'));
    expect(mpd.indexOf('</Period>')).toBeLessThan(mpd.indexOf('<UTCTiming'));
  });

  it('an ended stream has no updates and a duration', () => {
    const mpd = renderMpd({ ...base, ended: true, endTimeSec: 31.5 });
    expect(mpd).not.toContain('minimumUpdatePeriod');
    expect(mpd).toContain('mediaPresentationDuration="PT31.5S"');
  });

  it('formats durations and frame rates', () => {
    expect(isoDuration(0.5)).toBe('PT0.5S');
    expect(isoDuration(2.0004)).toBe('PT2S');
    expect(frameRateAttr(30.004)).toBe('30');
    expect(frameRateAttr(25)).toBe('25');
  });
});

describe('MPD of the packager', () => {
  it('lists the packager’s segments exactly, the one in progress with a duration that never falls short', () => {
    const p = packager();
    const all = boxes(fx.video);
    // Feed about 4.5 s: two complete segments and one in progress.
    const cut = Math.floor(all.length * 0.75);
    for (const b of all.slice(0, cut)) p.pushBox(b);
    const r = rendition('video', 'source', p);
    const stream = fakeStream([r]);
    const open = p.openSegment!;
    expect(open.parts.length).toBeGreaterThan(0);
    const { startNumber, segments } = timelineOf(stream, r, 90000);
    expect(startNumber).toBe(0);
    expect(segments.length).toBe(p.segments.length);
    const complete = p.segments.filter((s) => s.complete);
    complete.forEach((s, i) => {
      expect(segments[i]!.t).toBe(Math.round(s.startTime * 90000));
      expect(segments[i]!.d / 90000).toBeCloseTo(s.duration, 4);
    });
    // Contiguous: each segment starts where the previous ended.
    for (let i = 1; i < segments.length; i++) expect(segments[i]!.t).toBe(segments[i - 1]!.t + segments[i - 1]!.d);
    const last = segments.at(-1)!;
    expect(last.d / 90000).toBeCloseTo(inProgressDurationSec(stream, open), 4);
    expect(last.d / 90000).toBeGreaterThanOrEqual(open.duration);
    expect(last.d / 90000).toBeGreaterThanOrEqual(3);
    // Presentation time 0 is one wall-clock instant for every segment.
    expect(availabilityStartOf(stream)).toBe(Math.round(p.segments[0]!.programDateTime - p.segments[0]!.startTime * 1000));
  });

  it('leaves out a segment that has no part yet, and waits until every rendition has media', () => {
    const video = packager();
    const audio = packager();
    for (const b of boxes(fx.video)) video.pushBox(b);
    video.end();
    const stream = fakeStream([rendition('video', 'source', video), rendition('audio', 'audio', audio)]);
    const input = () =>
      mpdInputOf(stream, { config, audioKbps: 64, dvrWindowSec: 60, utcTimingUrl: 'http://x/dash/time', uriSuffix: '', availabilityStartTime: 0 });
    expect(input()).toBeUndefined();
    for (const b of boxes(fx.audio)) audio.pushBox(b);
    audio.end();
    const ready = input()!;
    expect(ready.video.map((v) => v.id)).toEqual(['source']);
    expect(ready.audio?.id).toBe('audio');
    expect(ready.audio?.channels).toBeGreaterThan(0);
    expect(ready.ended).toBe(true);
    expect(ready.endTimeSec).toBeGreaterThan(0);
  });

  it('re-renders only when the content changes', () => {
    const p = packager();
    const all = boxes(fx.video);
    const half = Math.floor(all.length / 2);
    for (const b of all.slice(0, half)) p.pushBox(b);
    const stream = fakeStream([rendition('video', 'source', p)]);
    const manifests = new DashManifests({ config, audioKbps: 64, dvrWindowSec: 60 });
    const a = manifests.mpd(stream, 'http://x/dash/time', '')!;
    expect(manifests.mpd(stream, 'http://x/dash/time', '')).toBe(a);
    expect(manifests.mpd(stream, 'http://x/dash/time', '?token=t')!.body).toContain('s$Number$.m4s?token=t');
    for (const b of all.slice(half)) p.pushBox(b);
    p.end();
    const b = manifests.mpd(stream, 'http://x/dash/time', '')!;
    expect(b.etag).not.toBe(a.etag);
    expect(b.body).not.toContain('minimumUpdatePeriod');
  });
});
