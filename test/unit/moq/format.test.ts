import { describe, expect, it } from 'vitest';
import { parseSps } from '../../../src/moq/h264Sps';
import { decodeLegacyFrame, encodeLegacyFrame, hangCatalog } from '../../../src/protocol/hangFormat';

const hex = (s: string) =>
  new Uint8Array(
    s
      .replace(/\s/g, '')
      .match(/../g)!
      .map((b) => parseInt(b, 16)),
  );

describe('H264 SPS', () => {
  it('reads codec and cropped size from x264 SPSs (baseline 640x360, high 1280x720)', () => {
    // From `ffmpeg -f lavfi -i testsrc2=size=640x360 -c:v libx264 -profile:v baseline -f h264`.
    expect(parseSps(hex('6742c01ed900a02ff970110000030001000003003c0f162e48'))).toEqual({ codec: 'avc3.42c01e', width: 640, height: 360 });
    expect(parseSps(hex('6764001facd9405005bb0110000003001000000303c0f1831960'))).toEqual({ codec: 'avc3.64001f', width: 1280, height: 720 });
    expect(parseSps(hex('68ce'))).toBeUndefined();
  });
});

describe('hang format', () => {
  it('frames payloads in the legacy container (varint µs timestamp + payload)', () => {
    for (const ts of [0, 63, 16_383, 1_000_000, 1_795_481_642_351_000]) {
      const f = encodeLegacyFrame(ts, new Uint8Array([9, 8]));
      expect(decodeLegacyFrame(f)).toEqual({ timestampUs: ts, payload: new Uint8Array([9, 8]) });
    }
  });

  it('writes a catalog with video and audio renditions as @moq/hang reads it', () => {
    expect(
      hangCatalog({ video: { codec: 'avc3.42c01f', codedWidth: 640, codedHeight: 360 } }, { audio: { codec: 'opus', sampleRate: 48000, numberOfChannels: 2 } }),
    ).toEqual({
      video: { renditions: { video: { codec: 'avc3.42c01f', container: { kind: 'legacy' }, codedWidth: 640, codedHeight: 360, optimizeForLatency: true } } },
      audio: { renditions: { audio: { codec: 'opus', container: { kind: 'legacy' }, sampleRate: 48000, numberOfChannels: 2 } } },
    });
    expect(hangCatalog({}, {})).toEqual({});
  });
});
