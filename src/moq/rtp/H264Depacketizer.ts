/**
 * H264 RTP depacketizer (RFC 6184, packetization-mode 1: single NAL, STAP-A, FU-A) into
 * Annex-B access units with 4-byte start codes. Parameter sets seen in band are cached and
 * prepended to IDR access units that lack them, so every group starts decodable (avc3).
 * After loss the stream is dropped until the next IDR and a key frame is requested.
 */
import type { Depacketizer, MediaFrame } from './MediaFrame';
import { SequenceTracker, type RtpPacket } from './RtpPacket';

const START_CODE = new Uint8Array([0, 0, 0, 1]);
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const STAP_A = 24;
const FU_A = 28;

interface AccessUnit {
  timestamp: number;
  nals: Uint8Array[];
  corrupt: boolean;
  idr: boolean;
  sps: boolean;
  pps: boolean;
}

/** Reassembles H264 access units. */
export class H264Depacketizer implements Depacketizer {
  onKeyframeNeeded?: (reason: string) => void;
  /** The latest SPS NAL (header included). */
  sps: Uint8Array | undefined;
  /** The latest PPS NAL (header included). */
  pps: Uint8Array | undefined;
  readonly #seq = new SequenceTracker();
  #au: AccessUnit | undefined;
  #fu: { header: number; parts: Uint8Array[] } | undefined;
  #waitKeyframe = true;

  push(p: RtpPacket): MediaFrame[] {
    const out: MediaFrame[] = [];
    const order = this.#seq.next(p.sequenceNumber);
    if (order === 'old') return out;
    if (order === 'gap') {
      // The lost packets may belong to the unit in progress or to the next one: drop both.
      if (this.#au) this.#au.corrupt = true;
      this.#loss('packet loss');
    }
    if (this.#au && this.#au.timestamp !== p.timestamp) this.#flush(out);
    const au = (this.#au ??= { timestamp: p.timestamp, nals: [], corrupt: false, idr: false, sps: false, pps: false });
    if (order === 'gap') au.corrupt = true;
    this.#payload(p.payload, au);
    if (p.marker) this.#flush(out);
    return out;
  }

  #loss(reason: string): void {
    this.#fu = undefined;
    if (!this.#waitKeyframe) {
      this.#waitKeyframe = true;
      this.onKeyframeNeeded?.(reason);
    }
  }

  #payload(payload: Uint8Array, au: AccessUnit): void {
    if (payload.byteLength < 1) {
      au.corrupt = true;
      return;
    }
    const type = payload[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.#fu = undefined;
      this.#nal(payload, au);
    } else if (type === STAP_A) {
      this.#fu = undefined;
      let off = 1;
      while (off + 2 <= payload.byteLength) {
        const size = (payload[off]! << 8) | payload[off + 1]!;
        off += 2;
        if (size === 0 || off + size > payload.byteLength) {
          au.corrupt = true;
          return;
        }
        this.#nal(payload.subarray(off, off + size), au);
        off += size;
      }
    } else if (type === FU_A) {
      if (payload.byteLength < 3) {
        au.corrupt = true;
        return;
      }
      const fuHeader = payload[1]!;
      const start = (fuHeader & 0x80) !== 0;
      const end = (fuHeader & 0x40) !== 0;
      if (start) this.#fu = { header: (payload[0]! & 0xe0) | (fuHeader & 0x1f), parts: [] };
      if (!this.#fu) {
        au.corrupt = true;
        return;
      }
      this.#fu.parts.push(payload.subarray(2));
      if (end) {
        const { header, parts } = this.#fu;
        this.#fu = undefined;
        const size = 1 + parts.reduce((n, x) => n + x.byteLength, 0);
        const nal = new Uint8Array(size);
        nal[0] = header;
        let off = 1;
        for (const x of parts) {
          nal.set(x, off);
          off += x.byteLength;
        }
        this.#nal(nal, au);
      }
    } else {
      // STAP-B, MTAP, FU-B and reserved types are not valid in packetization-mode 1.
      au.corrupt = true;
    }
  }

  #nal(nal: Uint8Array, au: AccessUnit): void {
    const type = nal[0]! & 0x1f;
    if (type === NAL_SPS) {
      this.sps = nal.slice();
      au.sps = true;
    } else if (type === NAL_PPS) {
      this.pps = nal.slice();
      au.pps = true;
    } else if (type === NAL_IDR) {
      au.idr = true;
    }
    au.nals.push(nal);
  }

  #flush(out: MediaFrame[]): void {
    const au = this.#au;
    this.#au = undefined;
    if (!au || au.nals.length === 0) return;
    if (this.#fu) {
      au.corrupt = true;
      this.#fu = undefined;
    }
    if (au.corrupt) {
      this.#loss('corrupt access unit');
      return;
    }
    if (this.#waitKeyframe && !au.idr) return;
    const nals = [...au.nals];
    if (au.idr) {
      if (!au.pps && this.pps) nals.unshift(this.pps);
      if (!au.sps && this.sps) nals.unshift(this.sps);
      this.#waitKeyframe = false;
    }
    const size = nals.reduce((n, x) => n + 4 + x.byteLength, 0);
    const data = new Uint8Array(size);
    let off = 0;
    for (const x of nals) {
      data.set(START_CODE, off);
      data.set(x, off + 4);
      off += 4 + x.byteLength;
    }
    out.push({ data, rtpTimestamp: au.timestamp, keyframe: au.idr });
  }
}
