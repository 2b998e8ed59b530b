/**
 * FLV framing of RTMP media for the node's ffmpeg (RTMP audio/video/data messages are FLV tag
 * bodies), and the codec checks made on the first tags: classic FLV codec ids and enhanced
 * RTMP's FourCC video headers.
 */

/** The FLV file header plus the first PreviousTagSize (0). */
export function flvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.alloc(13);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0);
  b.writeUInt32BE(9, 5);
  return b;
}

/** One FLV tag (type 8 audio, 9 video, 18 script data) followed by its PreviousTagSize. */
export function flvTag(type: number, timestamp: number, body: Buffer): Buffer {
  const head = Buffer.alloc(11);
  head[0] = type;
  head.writeUIntBE(body.length, 1, 3);
  head.writeUIntBE(timestamp & 0xffffff, 4, 3);
  head[7] = (timestamp >>> 24) & 0xff;
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(11 + body.length);
  return Buffer.concat([head, body, tail]);
}

const CLASSIC_VIDEO: Record<number, string> = {
  2: 'Sorenson H.263',
  3: 'Screen video',
  4: 'On2 VP6',
  5: 'On2 VP6 alpha',
  6: 'Screen video 2',
  7: 'H264',
  12: 'HEVC',
  13: 'AV1',
};
const CLASSIC_AUDIO: Record<number, string> = {
  0: 'PCM',
  1: 'ADPCM',
  2: 'MP3',
  3: 'PCM LE',
  4: 'Nellymoser',
  5: 'Nellymoser',
  6: 'Nellymoser',
  7: 'G.711 A-law',
  8: 'G.711 mu-law',
  10: 'AAC',
  11: 'Speex',
  14: 'MP3 8 kHz',
};

/** The video codec of a video tag body, and whether it is H264 (the only one the outputs carry). */
export function videoCodecOf(body: Buffer): { name: string; h264: boolean; keyFrame: boolean } | undefined {
  if (body.length < 1) return undefined;
  const b0 = body[0]!;
  if (b0 & 0x80) {
    // Enhanced RTMP: [IsExHeader:1][FrameType:3][PacketType:4][FourCC:4]
    const fourCc = body.length >= 5 ? body.toString('latin1', 1, 5) : '?';
    const names: Record<string, string> = { hvc1: 'HEVC', av01: 'AV1', vp09: 'VP9', avc1: 'H264' };
    return { name: `${names[fourCc] ?? 'unknown'} (enhanced RTMP "${fourCc.replace(/[^\x20-\x7e]/g, '?')}")`, h264: false, keyFrame: ((b0 >> 4) & 7) === 1 };
  }
  const id = b0 & 0x0f;
  return { name: CLASSIC_VIDEO[id] ?? `FLV codec id ${id}`, h264: id === 7, keyFrame: b0 >> 4 === 1 };
}

/** The audio codec of an audio tag body, and whether the node's ffmpeg decodes it. */
export function audioCodecOf(body: Buffer): { name: string; decodable: boolean } | undefined {
  if (body.length < 1) return undefined;
  const format = body[0]! >> 4;
  if (format === 9) return { name: 'enhanced RTMP audio', decodable: false };
  const name = CLASSIC_AUDIO[format];
  return name ? { name, decodable: true } : { name: `FLV sound format ${format}`, decodable: false };
}
