/** Produces small fragmented MP4 files with Debian's ffmpeg, the way the ladder writes them. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A video-only (1 s GOP, 30 fps) and an audio-only fMP4, one fragment per frame. */
export function makeFmp4(seconds = 5): { video: Buffer; audio: Buffer; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-fmp4-'));
  const common = [
    '-f',
    'mp4',
    '-movflags',
    'empty_moov+default_base_moof+frag_every_frame+frag_discont',
    '-avoid_negative_ts',
    'disabled',
    '-output_ts_offset',
    '10',
  ];
  execFileSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=320x180:rate=30:duration=${seconds}`,
      '-f',
      'lavfi',
      '-i',
      `sine=sample_rate=48000:duration=${seconds}`,
      '-map',
      '0:v',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-g',
      '30',
      '-sc_threshold',
      '0',
      '-video_track_timescale',
      '90000',
      ...common,
      path.join(dir, 'v.mp4'),
      '-map',
      '1:a',
      '-c:a',
      'aac',
      '-b:a',
      '64k',
      '-ac',
      '2',
      ...common,
      path.join(dir, 'a.mp4'),
    ],
    { timeout: 30_000 },
  );
  return { video: fs.readFileSync(path.join(dir, 'v.mp4')), audio: fs.readFileSync(path.join(dir, 'a.mp4')), dir };
}
