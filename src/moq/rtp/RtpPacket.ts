/** RTP packet parsing (RFC 3550): header fields and the payload, skipping CSRCs, extensions and padding. */

/** A parsed RTP packet (payload is a view into the original buffer). */
export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
}

/** Parses an RTP packet; returns undefined for anything malformed. */
export function parseRtp(buf: Uint8Array): RtpPacket | undefined {
  if (buf.byteLength < 12) return undefined;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return undefined;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  const b1 = buf[1]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 12 + csrcCount * 4;
  if (offset > buf.byteLength) return undefined;
  if (extension) {
    if (offset + 4 > buf.byteLength) return undefined;
    const words = view.getUint16(offset + 2);
    offset += 4 + words * 4;
    if (offset > buf.byteLength) return undefined;
  }
  let end = buf.byteLength;
  if (padding) {
    const pad = buf[end - 1]!;
    if (pad === 0 || end - pad < offset) return undefined;
    end -= pad;
  }
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: buf.subarray(offset, end),
  };
}

/** Tracks sequence numbers: reports gaps (loss) and rejects duplicates/late packets. */
export class SequenceTracker {
  #last: number | undefined;

  /** 'ok', 'gap' (packets were lost before this one) or 'old' (duplicate or reordered; drop it). */
  next(seq: number): 'ok' | 'gap' | 'old' {
    const last = this.#last;
    if (last === undefined) {
      this.#last = seq;
      return 'ok';
    }
    const delta = (seq - last + 0x10000) & 0xffff;
    if (delta === 0 || delta > 0x8000) return 'old';
    this.#last = seq;
    return delta === 1 ? 'ok' : 'gap';
  }
}

/** Extends 32-bit RTP timestamps across wrap-around into a monotonic-ish 53-bit count. */
export class TimestampUnwrapper {
  #last: number | undefined;
  #extended = 0;

  /** The extended timestamp of `ts`. */
  unwrap(ts: number): number {
    if (this.#last === undefined) {
      this.#last = ts;
      this.#extended = ts;
      return ts;
    }
    const delta = (ts - this.#last) | 0;
    this.#last = ts;
    this.#extended += delta;
    return this.#extended;
  }
}
