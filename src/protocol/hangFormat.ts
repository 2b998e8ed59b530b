/**
 * The @moq/hang media format, shared by the node's MoQ bridge (writer) and the SDK's MoQ player
 * (reader): a JSON catalog on the `catalog.json` track (each group one full snapshot) and media frames in hang's "legacy" container (a QUIC
 * varint presentation timestamp in microseconds, then the codec payload). Video groups start
 * at key frames; every audio frame is its own group.
 */

/** Name of the catalog track. */
export const CATALOG_TRACK = 'catalog.json';

/** One video rendition in the catalog (mirrors WebCodecs VideoDecoderConfig). */
export interface VideoRendition {
  /** WebCodecs codec string ('avc3.42c01f' = H264 with in-band SPS/PPS, Annex-B; 'vp8'). */
  codec: string;
  codedWidth?: number;
  codedHeight?: number;
  framerate?: number;
}

/** One audio rendition in the catalog (mirrors WebCodecs AudioDecoderConfig). */
export interface AudioRendition {
  codec: string;
  sampleRate: number;
  numberOfChannels: number;
}

/** Builds the catalog JSON for the renditions (track name → config). */
export function hangCatalog(video: Record<string, VideoRendition>, audio: Record<string, AudioRendition>): Record<string, unknown> {
  const catalog: Record<string, unknown> = {};
  if (Object.keys(video).length > 0) {
    catalog.video = {
      renditions: Object.fromEntries(
        Object.entries(video).map(([name, v]) => [
          name,
          {
            codec: v.codec,
            container: { kind: 'legacy' },
            ...(v.codedWidth ? { codedWidth: v.codedWidth, codedHeight: v.codedHeight } : {}),
            ...(v.framerate ? { framerate: v.framerate } : {}),
            optimizeForLatency: true,
          },
        ]),
      ),
    };
  }
  if (Object.keys(audio).length > 0) {
    catalog.audio = {
      renditions: Object.fromEntries(
        Object.entries(audio).map(([name, a]) => [
          name,
          { codec: a.codec, container: { kind: 'legacy' }, sampleRate: a.sampleRate, numberOfChannels: a.numberOfChannels },
        ]),
      ),
    };
  }
  return catalog;
}

/** Encodes a frame in the legacy container: varint(timestamp µs) + payload. */
export function encodeLegacyFrame(timestampUs: number, payload: Uint8Array): Uint8Array {
  const ts = Math.max(0, Math.round(timestampUs));
  const size = ts < 64 ? 1 : ts < 16384 ? 2 : ts < 1073741824 ? 4 : 8;
  const out = new Uint8Array(size + payload.byteLength);
  if (size === 1) out[0] = ts;
  else if (size === 2) {
    out[0] = 0x40 | (ts >> 8);
    out[1] = ts & 0xff;
  } else if (size === 4) {
    out[0] = 0x80 | ((ts >>> 24) & 0x3f);
    out[1] = (ts >>> 16) & 0xff;
    out[2] = (ts >>> 8) & 0xff;
    out[3] = ts & 0xff;
  } else {
    let v = BigInt(ts);
    for (let i = 7; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    out[0] = (out[0]! & 0x3f) | 0xc0;
  }
  out.set(payload, size);
  return out;
}

/** Decodes a legacy-container frame (for tests and tools). */
export function decodeLegacyFrame(frame: Uint8Array): { timestampUs: number; payload: Uint8Array } {
  const first = frame[0]!;
  const size = 1 << (first >> 6);
  let v = BigInt(first & 0x3f);
  for (let i = 1; i < size; i++) v = (v << 8n) | BigInt(frame[i]!);
  return { timestampUs: Number(v), payload: frame.subarray(size) };
}
