import { describe, expect, it } from 'vitest';
import type { HlsPart, HlsSegment } from '../../../src/hls/Packager';
import { blockingState, renderMediaPlaylist, renderMultivariantPlaylist } from '../../../src/hls/Playlist';

/** Segments of `parts` parts of 0.2 s each (2 s); the last one open with `openParts` parts. */
function segments(count: number, openParts?: number): HlsSegment[] {
  const out: HlsSegment[] = [];
  let seq = 0;
  const make = (msn: number, n: number, complete: boolean): HlsSegment => {
    const parts: HlsPart[] = Array.from({ length: n }, (_, i) => ({
      seq: seq++,
      msn,
      index: i,
      duration: 0.2,
      independent: i === 0 || i === 5,
      publishedAt: 0,
      mediaEndWallMs: 0,
      data: Buffer.alloc(1),
    }));
    return { msn, parts, startTime: msn * 2, programDateTime: Date.UTC(2026, 0, 1, 0, 0, msn * 2), independent: true, duration: n * 0.2, complete };
  };
  for (let i = 0; i < count; i++) out.push(make(i, 10, true));
  if (openParts !== undefined) out.push(make(count, openParts, false));
  return out;
}

const base = { targetDuration: 3, partTarget: 0.2, ended: false };

describe('media playlist', () => {
  it('carries every LL-HLS tag in order', () => {
    const segs = segments(3, 4);
    const text = renderMediaPlaylist({
      ...base,
      segments: segs,
      nextPartSeq: 34,
      pathPrefix: 'e1/',
      renditionReports: [{ uri: '../low/index.m3u8', lastMsn: 3, lastPart: 2 }],
    });
    const lines = text.trim().split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-TARGETDURATION:3',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=18.0,PART-HOLD-BACK=0.600,HOLD-BACK=9.0',
      '#EXT-X-PART-INF:PART-TARGET=0.200',
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-MAP:URI="e1/init.mp4"',
    ]);
    expect(lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')).length).toBe(4);
    expect(lines.filter((l) => l.startsWith('#EXTINF:2.00000,')).length).toBe(3);
    expect(lines).toContain('e1/s2.m4s');
    expect(lines).toContain('#EXT-X-PART:DURATION=0.20000,URI="e1/p30.m4s",INDEPENDENT=YES');
    expect(lines).toContain('#EXT-X-PART:DURATION=0.20000,URI="e1/p31.m4s"');
    expect(lines.at(-2)).toBe('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="e1/p34.m4s"');
    expect(lines.at(-1)).toBe('#EXT-X-RENDITION-REPORT:URI="../low/index.m3u8",LAST-MSN=3,LAST-PART=2');
    // Parts are listed only near the live edge (3 target durations).
    const long = renderMediaPlaylist({ ...base, segments: segments(6, 4), nextPartSeq: 64, pathPrefix: 'e1/' });
    expect(long).not.toContain('URI="e1/p0.m4s"');
    expect(long).not.toContain('URI="e1/p19.m4s"');
    expect(long).toContain('URI="e1/p20.m4s"');
  });

  it('answers _HLS_skip with a delta update skipping segments older than CAN-SKIP-UNTIL', () => {
    const segs = segments(20, 3);
    const full = renderMediaPlaylist({ ...base, segments: segs, nextPartSeq: 203 });
    const delta = renderMediaPlaylist({ ...base, segments: segs, nextPartSeq: 203, skip: 'YES' });
    // 40.6 s of media; segments starting more than 18 s before the end are skipped.
    expect(delta).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=12\n');
    expect(delta).not.toContain('\ns11.m4s');
    expect(delta).toContain('\ns12.m4s');
    expect(delta).toContain('#EXT-X-MEDIA-SEQUENCE:0');
    expect(delta.length).toBeLessThan(full.length);
    const v2 = renderMediaPlaylist({ ...base, segments: segs, nextPartSeq: 203, skip: 'v2' });
    expect(v2).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=12,RECENTLY-REMOVED-DATERANGES=""');
    expect(v2).toContain('#EXT-X-VERSION:10');
  });

  it('ends with EXT-X-ENDLIST, no preload hint, and ignores _HLS_skip once ended', () => {
    const text = renderMediaPlaylist({ ...base, ended: true, segments: segments(20), nextPartSeq: 200, skip: 'YES' });
    expect(text.trim().split('\n').at(-1)).toBe('#EXT-X-ENDLIST');
    expect(text).not.toContain('PRELOAD-HINT');
    expect(text).not.toContain('EXT-X-SKIP');
  });

  it('carries query suffixes (tokens) on every URI', () => {
    const text = renderMediaPlaylist({ ...base, segments: segments(1, 1), nextPartSeq: 11, uriSuffix: '?token=abc' });
    const uris = [...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!).concat(text.split('\n').filter((l) => l && !l.startsWith('#')));
    expect(uris.length).toBeGreaterThan(3);
    expect(uris.every((u) => u.endsWith('?token=abc'))).toBe(true);
  });
});

describe('multivariant playlist', () => {
  it('lists variants with CODECS, BANDWIDTH, RESOLUTION, FRAME-RATE and the audio group', () => {
    const text = renderMultivariantPlaylist(
      [{ uri: 'source/index.m3u8', bandwidth: 800000, codecs: ['avc1.42c01f', 'mp4a.40.2'], width: 640, height: 360, frameRate: 30, audioGroup: 'audio' }],
      '',
      { groupId: 'audio', uri: 'audio/index.m3u8', channels: 2 },
    );
    expect(text).toBe(
      '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.42c01f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio"\nsource/index.m3u8\n',
    );
  });
});

describe('blocking reload decisions (rfc8216bis 6.2.5.2)', () => {
  const view = (segs: HlsSegment[], ended = false) => ({
    segments: segs,
    lastCompleteMsn: segs.filter((s) => s.complete).at(-1)?.msn ?? -1,
    ended,
    partTarget: 0.2,
  });

  it('is ready for segments and parts the playlist holds, waits for the next ones', () => {
    const v = view(segments(3, 4));
    expect(blockingState(v, 2, undefined)).toBe('ready');
    expect(blockingState(v, 3, undefined)).toBe('wait'); // segment 3 is still open
    expect(blockingState(v, 3, 3)).toBe('ready');
    expect(blockingState(v, 3, 4)).toBe('wait');
    expect(blockingState(v, 0, 0)).toBe('ready');
  });

  it('treats a part index past a complete segment’s last as part 0 of the next segment', () => {
    expect(blockingState(view(segments(3, 0)), 2, 10)).toBe('wait');
    expect(blockingState(view(segments(3, 1)), 2, 10)).toBe('ready');
  });

  it('refuses msn beyond the last segment + 2 and parts beyond the Advance Part Limit (3 / PART-TARGET)', () => {
    const v = view(segments(3, 4));
    expect(blockingState(v, 4, undefined)).toBe('wait');
    expect(blockingState(v, 5, undefined)).toBe('too-far');
    expect(blockingState(v, 3, 3 + 15)).toBe('wait');
    expect(blockingState(v, 3, 3 + 16)).toBe('too-far');
  });

  it('answers at once when the playlist ended, and handles an empty playlist', () => {
    expect(blockingState(view(segments(2), true), 99, 5)).toBe('ready');
    expect(blockingState(view([]), 0, 0)).toBe('wait');
    expect(blockingState(view([]), 2, undefined)).toBe('too-far');
  });
});
