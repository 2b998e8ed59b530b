/**
 * VP8 RTP depacketizer (RFC 7741): strips the payload descriptor and joins the partitions of
 * a frame. A frame starts at a packet with S=1 and partition id 0 and ends at the marker bit.
 * After loss the stream is dropped until the next key frame and a key frame is requested.
 */
import type { Depacketizer, MediaFrame } from './MediaFrame';
import { SequenceTracker, type RtpPacket } from './RtpPacket';

/** Width/height of a VP8 key frame, from its uncompressed header. */
export function vp8KeyframeSize(frame: Uint8Array): { width: number; height: number } | undefined {
  if (frame.byteLength < 10 || (frame[0]! & 1) !== 0) return undefined;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  return { width: (frame[6]! | (frame[7]! << 8)) & 0x3fff, height: (frame[8]! | (frame[9]! << 8)) & 0x3fff };
}

/** Reassembles VP8 frames. */
export class Vp8Depacketizer implements Depacketizer {
  onKeyframeNeeded?: (reason: string) => void;
  readonly #seq = new SequenceTracker();
  #frame: { timestamp: number; parts: Uint8Array[]; corrupt: boolean } | undefined;
  #waitKeyframe = true;

  push(p: RtpPacket): MediaFrame[] {
    const out: MediaFrame[] = [];
    const order = this.#seq.next(p.sequenceNumber);
    if (order === 'old') return out;
    if (this.#frame && this.#frame.timestamp !== p.timestamp) this.#flush(out, false);
    if (order === 'gap') {
      if (this.#frame) this.#frame.corrupt = true;
      this.#loss('packet loss');
    }
    const d = parseDescriptor(p.payload);
    if (!d) {
      if (this.#frame) this.#frame.corrupt = true;
      return out;
    }
    if (d.start) {
      if (this.#frame) this.#flush(out, false);
      this.#frame = { timestamp: p.timestamp, parts: [], corrupt: false };
    }
    if (!this.#frame) return out; // middle of a frame whose start we missed
    this.#frame.parts.push(d.data);
    if (p.marker) this.#flush(out, true);
    return out;
  }

  #loss(reason: string): void {
    if (!this.#waitKeyframe) {
      this.#waitKeyframe = true;
      this.onKeyframeNeeded?.(reason);
    }
  }

  #flush(out: MediaFrame[], complete: boolean): void {
    const f = this.#frame;
    this.#frame = undefined;
    if (!f) return;
    if (f.corrupt || !complete) {
      this.#loss('incomplete frame');
      return;
    }
    const size = f.parts.reduce((n, x) => n + x.byteLength, 0);
    const data = new Uint8Array(size);
    let off = 0;
    for (const x of f.parts) {
      data.set(x, off);
      off += x.byteLength;
    }
    const keyframe = size > 0 && (data[0]! & 1) === 0;
    if (this.#waitKeyframe && !keyframe) return;
    if (keyframe) this.#waitKeyframe = false;
    out.push({ data, rtpTimestamp: f.timestamp, keyframe });
  }
}

function parseDescriptor(payload: Uint8Array): { start: boolean; data: Uint8Array } | undefined {
  if (payload.byteLength < 1) return undefined;
  const b0 = payload[0]!;
  let off = 1;
  if (b0 & 0x80) {
    if (payload.byteLength < 2) return undefined;
    const x = payload[off++]!;
    if (x & 0x80) off += payload[off] !== undefined && payload[off]! & 0x80 ? 2 : 1;
    if (x & 0x40) off += 1;
    if (x & 0x30) off += 1;
  }
  if (off > payload.byteLength) return undefined;
  return { start: (b0 & 0x10) !== 0 && (b0 & 0x07) === 0, data: payload.subarray(off) };
}
