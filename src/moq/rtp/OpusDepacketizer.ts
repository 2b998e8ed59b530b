/** Opus RTP depacketizer (RFC 7587): one packet carries one Opus frame; every frame is independent. */
import type { Depacketizer, MediaFrame } from './MediaFrame';
import { SequenceTracker, type RtpPacket } from './RtpPacket';

/** Passes Opus frames through, dropping duplicates and late packets. */
export class OpusDepacketizer implements Depacketizer {
  readonly #seq = new SequenceTracker();

  push(p: RtpPacket): MediaFrame[] {
    if (this.#seq.next(p.sequenceNumber) === 'old' || p.payload.byteLength === 0) return [];
    return [{ data: p.payload.slice(), rtpTimestamp: p.timestamp, keyframe: true }];
  }
}
