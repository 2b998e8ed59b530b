import { describe, expect, it } from 'vitest';
import { redactUrl, scrubUrl } from '../../../src/restream/redactUrl';
import { validateDestination } from '../../../src/restream/RestreamService';
import { chooseRenditions } from '../../../src/restream/LadderFeed';
import { pushFfmpegArgs } from '../../../src/restream/RestreamPush';
import type { LiveRendition } from '../../../src/hls/LadderTranscoder';

describe('destination URLs are secrets', () => {
  it('keeps scheme, host, port and application; masks the key, query and credentials', () => {
    expect(redactUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl')).toBe('rtmp://a.rtmp.youtube.com/live2/***');
    expect(redactUrl('rtmps://live-api-s.facebook.com:443/rtmp/FB-123?s_bl=1&a=secret')).toBe('rtmps://live-api-s.facebook.com:443/rtmp/***');
    expect(redactUrl('rtmp://user:pass@host/app')).toBe('rtmp://host/app/***');
    expect(redactUrl('rtmp://host/app')).toBe('rtmp://host/app');
    expect(redactUrl('rtmp://host/app?key=k')).toBe('rtmp://host/app/***');
    expect(redactUrl('nonsense')).toBe('***');
  });

  it('scrubs the URL and its secret parts out of tool messages', () => {
    const url = 'rtmp://host:1935/live/sk_abcdef?token=tok123';
    const msg = `rtmp://host:1935/live/sk_abcdef?token=tok123: Connection refused; stream sk_abcdef; token=tok123`;
    const out = scrubUrl(msg, url);
    expect(out).not.toContain('sk_abcdef');
    expect(out).not.toContain('tok123');
    expect(out).toContain('rtmp://host:1935/live/***: Connection refused');
  });

  it('accepts only rtmp:// and rtmps:// URLs with a host and an application', () => {
    expect(() => validateDestination('rtmp://host/app/key')).not.toThrow();
    expect(() => validateDestination('rtmps://host:443/app/key')).not.toThrow();
    for (const bad of ['http://host/app/key', 'rtmp://host', 'rtmp:///app', 'rtmp://host/app/ key', 'x'.repeat(3000), 'file:///etc/passwd']) {
      expect(() => validateDestination(bad), bad).toThrow(/url/);
    }
  });
});

describe('what a push sends', () => {
  const r = (name: string, kind: 'video' | 'audio', copied: boolean, height?: number, videoKbps = 100) =>
    ({ kind, spec: { name, copySource: copied, height, videoKbps }, copied, packager: {} }) as unknown as LiveRendition;

  it('copies the source when the ladder passes it through, else takes the top rung', () => {
    expect(chooseRenditions({ renditions: [r('mid', 'video', false, 240), r('source', 'video', true), r('audio', 'audio', false)] })).toMatchObject({
      mode: 'copy',
      video: { spec: { name: 'source' } },
      audio: { spec: { name: 'audio' } },
    });
    expect(chooseRenditions({ renditions: [r('low', 'video', false, 160), r('top', 'video', false, 720), r('mid', 'video', false, 360)] })).toMatchObject({
      mode: 'ladder',
      video: { spec: { name: 'top' } },
    });
    // A rung at source height (no height) is the top one.
    expect(chooseRenditions({ renditions: [r('hd', 'video', false, 720), r('full', 'video', false, undefined)] })?.video.spec.name).toBe('full');
    expect(chooseRenditions({ renditions: [r('audio', 'audio', false)] })).toBeUndefined();
  });

  it('remuxes without encoding: copy, one decode-time line, FLV', () => {
    const args = pushFfmpegArgs('rtmp://h/app/k', true);
    expect(args).toContain('copy');
    expect(args).toContain('-copyts');
    expect(args).not.toContain('libx264');
    expect(args.slice(-3)).toEqual(['-flvflags', 'no_duration_filesize', 'rtmp://h/app/k']);
    expect(args.filter((a) => a === '-i')).toHaveLength(2);
    expect(pushFfmpegArgs('rtmp://h/app/k', false).filter((a) => a === '-i')).toHaveLength(1);
  });
});
