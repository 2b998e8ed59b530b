/** What a depacketizer produces: one encoded frame (access unit) and its RTP timestamp. */
import type { RtpPacket } from './RtpPacket';

/** One encoded frame. */
export interface MediaFrame {
  /** Codec payload (H264: Annex-B with 4-byte start codes; VP8/Opus: as encoded). */
  data: Uint8Array;
  /** RTP timestamp of the frame (32-bit). */
  rtpTimestamp: number;
  /** True when the frame can start decoding (H264 IDR, VP8 key frame; every Opus frame). */
  keyframe: boolean;
}

/** Turns RTP packets of one stream back into frames. */
export interface Depacketizer {
  /** Feeds a packet; returns the frames it completed (often none). */
  push(packet: RtpPacket): MediaFrame[];
  /** Called with a reason whenever loss made the decoder need a key frame (for PLI). */
  onKeyframeNeeded?: (reason: string) => void;
}
