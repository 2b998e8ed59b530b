/**
 * Puts H264 access units that ffmpeg split back together, at the RTP level, between ffmpeg's RTP
 * output and the SFU.
 *
 * Why: cameras that send each picture as several slices and repeat SPS/PPS before every slice
 * of a key frame (GStreamer's `rtph264pay config-interval=-1` does) break ffmpeg's H264 parser:
 * a parameter set after a slice starts a new access unit by the H264 spec, so the RTSP demuxer
 * hands one key frame over as one packet per slice, all with the same timestamp; ffmpeg's muxing
 * then makes the timestamps increase (by one tick of the output time base) and the RTP muxer
 * ends each with a marker bit. A WebRTC receiver decodes each as a key frame of one slice, and
 * every picture until the next key frame predicts from a broken one. ffmpeg emits the last slice
 * only once the next picture starts arriving, one frame interval after the others.
 *
 * What it does, per packet of one SSRC:
 * - A run of packets (one RTP timestamp) whose first slice starts after the last slice of the
 *   access unit before it (`first_mb_in_slice`; a new picture starts at macroblock 0) continues
 *   that access unit: it takes its timestamp, and the marker bit before it is cleared.
 * - SPS, PPS, SEI and AUD NAL units after the first slice of an access unit are removed (a
 *   packet left empty is dropped and later sequence numbers close the gap), so a key frame is
 *   led by its parameter sets once and the SFU sees one key frame start.
 * - So that the marker can still be cleared, a packet with the marker bit is held back while its
 *   access unit looks incomplete: its last slice starts before the last slice of the previous
 *   access unit of the same kind (key or delta) did (slice layouts are fixed for most encoders).
 *   The next access unit, or {@link H264AccessUnitJoiner.release}, sends it as it was. A stream of
 *   whole access units is held only at its first access unit of each kind.
 * Packets of a new timestamp wait (microseconds: ffmpeg writes them together) until their first
 * slice shows which case they are.
 */

/** What the joiner did so far (for logs and tests). */
export interface AccessUnitJoinerStats {
  /** Runs of packets joined to the access unit before them. */
  joined: number;
  /** Parameter set, SEI and AUD NAL units removed from inside access units. */
  nalsRemoved: number;
  /** Packets dropped because nothing was left in them. */
  packetsDropped: number;
  /** Runs joined to an access unit whose marker had already been sent (a layout the joiner did not expect). */
  lateSlices: number;
}

interface AccessUnit {
  /** The RTP timestamp it goes out with (its first run's). */
  timestamp: number;
  /** A slice (VCL NAL unit) has been seen. */
  vcl: boolean;
  /** It holds an IDR slice. */
  key: boolean;
  /** The largest first_mb_in_slice seen. */
  lastSliceStart: number;
  /** Its marker packet went out. */
  ended: boolean;
}

/** One packet of a run whose place is not known yet. */
interface Pending {
  packet: Buffer;
  header: RtpHeader;
}

const NAL_SLICE = 1;
const NAL_IDR = 5;
const STAP_A = 24;
const FU_A = 28;
/** NAL unit types that may not follow a slice within an access unit (SEI, SPS, PPS, AUD). */
const NOT_AFTER_SLICE = new Set([6, 7, 8, 9]);

/** RTP joiner of split H264 access units (see the file comment). */
export class H264AccessUnitJoiner {
  readonly stats: AccessUnitJoinerStats = { joined: 0, nalsRemoved: 0, packetsDropped: 0, lateSlices: 0 };
  #au: AccessUnit | undefined;
  /** The incoming timestamp of the current run, and whether the run continues `#au`. */
  #run: { timestamp: number; classified: boolean } | undefined;
  /** Packets of the current run before its first slice. */
  #pending: Pending[] = [];
  /** The marker packet of `#au`, held back (already rewritten). */
  #held: Buffer | undefined;
  /** Where the last slice of the previous access unit of each kind started. */
  readonly #layout: { key?: number; delta?: number } = {};
  /** Inside an FU-A whose NAL unit is being removed. */
  #droppingFragments = false;
  /** Packets dropped so far: later sequence numbers are lowered by this much. */
  #seqShift = 0;

  /** True while packets wait (a held marker packet or an unclassified run): call {@link release} if nothing follows. */
  get holding(): boolean {
    return this.#held !== undefined || this.#pending.length > 0;
  }

  /** Takes one RTP packet from ffmpeg; returns the packets to forward now, in order. */
  push(packet: Buffer): Buffer[] {
    const header = rtpHeader(packet);
    if (!header) return [packet];
    const out: Buffer[] = [];
    if (this.#run?.timestamp !== header.timestamp) {
      // A run that never showed a slice is a new access unit of its own.
      if (this.#pending.length > 0) this.#classify(false, out);
      this.#run = { timestamp: header.timestamp, classified: false };
    }
    if (!this.#run!.classified) {
      this.#pending.push({ packet, header });
      const slice = firstSlice(packet.subarray(header.payloadStart, header.payloadEnd));
      const marker = (packet[1]! & 0x80) !== 0;
      if (slice) {
        const au = this.#au;
        this.#classify(au !== undefined && slice.firstMb > au.lastSliceStart && slice.key === au.key, out);
      } else if (marker) this.#classify(false, out);
      return out;
    }
    this.#forward(packet, header, out);
    return out;
  }

  /** Sends what waits as it is (no more of its access unit came in time). */
  release(): Buffer[] {
    const out: Buffer[] = [];
    if (this.#pending.length > 0) this.#classify(false, out);
    this.#flushHeld(out);
    return out;
  }

  /** Places the pending run: joined to `#au` or the start of a new access unit. */
  #classify(continues: boolean, out: Buffer[]): void {
    const au = this.#au;
    if (continues && au) {
      // #forward clears a held marker; without one, the receiver has taken the unit as ended already.
      if (!this.#held) {
        this.stats.joined++;
        if (au.ended) this.stats.lateSlices++;
      }
    } else {
      this.#flushHeld(out);
      if (au?.vcl) this.#layout[au.key ? 'key' : 'delta'] = au.lastSliceStart;
      this.#au = { timestamp: this.#pending[0]!.header.timestamp, vcl: false, key: false, lastSliceStart: 0, ended: false };
    }
    if (this.#run) this.#run.classified = true;
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) this.#forward(p.packet, p.header, out);
  }

  #flushHeld(out: Buffer[]): void {
    if (!this.#held) return;
    out.push(this.#held);
    this.#held = undefined;
    this.#au!.ended = true;
  }

  /** Rewrites one packet of the current access unit and forwards or holds it. */
  #forward(packet: Buffer, header: RtpHeader, out: Buffer[]): void {
    const au = this.#au!;
    if (this.#held) {
      // More of the access unit whose end was held: that packet was not its end.
      this.#held[1] = this.#held[1]! & 0x7f;
      out.push(this.#held);
      this.#held = undefined;
      this.stats.joined++;
    }
    const payload = this.#filter(packet.subarray(header.payloadStart, header.payloadEnd), au);
    const marker = (packet[1]! & 0x80) !== 0;
    if (payload === null && !marker) {
      this.stats.packetsDropped++;
      this.#seqShift++;
      return;
    }
    // A marker packet with nothing left would lose the frame's end: it goes as it came.
    const rewritten = payload === null || payload === undefined ? packet : rebuild(packet, header, payload);
    rewritten.writeUInt16BE((header.seq - this.#seqShift) & 0xffff, 2);
    rewritten.writeUInt32BE(au.timestamp, 4);
    if (!marker) {
      out.push(rewritten);
      return;
    }
    const expected = this.#layout[au.key ? 'key' : 'delta'];
    if (au.vcl && !au.ended && (expected === undefined || au.lastSliceStart < expected)) {
      this.#held = rewritten;
      return;
    }
    au.ended = true;
    out.push(rewritten);
  }

  /**
   * The payload without NAL units that may not follow a slice: `undefined` when unchanged,
   * `null` when nothing is left. Notes slices (start, IDR) in `au`.
   */
  #filter(payload: Buffer, au: AccessUnit): Buffer | null | undefined {
    if (payload.length < 1) return undefined;
    const type = payload[0]! & 0x1f;
    if (type === STAP_A) {
      const kept: Buffer[] = [];
      let removed = 0;
      for (let o = 1; o + 2 <= payload.length;) {
        const size = payload.readUInt16BE(o);
        const nal = payload.subarray(o + 2, o + 2 + size);
        o += 2 + size;
        if (nal.length === 0) continue;
        if (this.#keep(nal, au)) kept.push(payload.subarray(o - 2 - size, o));
        else removed++;
      }
      if (removed === 0) return undefined;
      if (kept.length === 0) return null;
      return Buffer.concat([payload.subarray(0, 1), ...kept]);
    }
    if (type === FU_A) {
      if (payload.length < 2) return undefined;
      const start = (payload[1]! & 0x80) !== 0;
      const end = (payload[1]! & 0x40) !== 0;
      if (start) {
        const nal = Buffer.concat([Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)]), payload.subarray(2, 8)]);
        this.#droppingFragments = !this.#keep(nal, au);
      }
      if (!this.#droppingFragments) return undefined;
      if (end) this.#droppingFragments = false;
      return null;
    }
    if (type >= 1 && type <= 23) return this.#keep(payload, au) ? undefined : null;
    return undefined;
  }

  /** Whether one NAL unit stays; notes slices in `au`. */
  #keep(nal: Buffer, au: AccessUnit): boolean {
    const type = nal[0]! & 0x1f;
    if (type === NAL_SLICE || type === NAL_IDR) {
      au.vcl = true;
      if (type === NAL_IDR) au.key = true;
      const firstMb = firstMbInSlice(nal);
      if (firstMb !== undefined && firstMb > au.lastSliceStart) au.lastSliceStart = firstMb;
      return true;
    }
    if (au.vcl && NOT_AFTER_SLICE.has(type)) {
      this.stats.nalsRemoved++;
      return false;
    }
    return true;
  }
}

interface RtpHeader {
  seq: number;
  timestamp: number;
  payloadStart: number;
  payloadEnd: number;
}

/** The fields the joiner needs, or undefined for what is not an RTP packet with a payload. */
function rtpHeader(packet: Buffer): RtpHeader | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  let start = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < start + 4) return undefined;
    start += 4 + packet.readUInt16BE(start + 2) * 4;
  }
  const padding = packet[0]! & 0x20 ? packet[packet.length - 1]! : 0;
  const end = packet.length - padding;
  if (start >= end) return undefined;
  return { seq: packet.readUInt16BE(2), timestamp: packet.readUInt32BE(4), payloadStart: start, payloadEnd: end };
}

/** The packet with a new payload (header kept, padding dropped). */
function rebuild(packet: Buffer, header: RtpHeader, payload: Buffer): Buffer {
  const out = Buffer.concat([packet.subarray(0, header.payloadStart), payload]);
  out[0] = out[0]! & ~0x20;
  return out;
}

/** The first slice NAL unit that starts in an RTP payload: where it starts and whether it is IDR. */
function firstSlice(payload: Buffer): { firstMb: number; key: boolean } | undefined {
  const slice = (nal: Buffer) => {
    const type = nal[0]! & 0x1f;
    if (type !== NAL_SLICE && type !== NAL_IDR) return undefined;
    const firstMb = firstMbInSlice(nal);
    return firstMb === undefined ? undefined : { firstMb, key: type === NAL_IDR };
  };
  if (payload.length < 2) return undefined;
  const type = payload[0]! & 0x1f;
  if (type === STAP_A) {
    for (let o = 1; o + 2 <= payload.length;) {
      const size = payload.readUInt16BE(o);
      const found = size > 0 ? slice(payload.subarray(o + 2, o + 2 + size)) : undefined;
      if (found) return found;
      o += 2 + size;
    }
    return undefined;
  }
  if (type === FU_A) {
    if (!(payload[1]! & 0x80)) return undefined;
    return slice(Buffer.concat([Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)]), payload.subarray(2, 10)]));
  }
  return type >= 1 && type <= 23 ? slice(payload) : undefined;
}

/** A slice's first_mb_in_slice: the first Exp-Golomb code after the NAL header. */
export function firstMbInSlice(nal: Buffer): number | undefined {
  let bit = 8;
  const limit = Math.min(nal.length * 8, 8 + 64);
  const read = () => (nal[bit >> 3]! >> (7 - (bit++ & 7))) & 1;
  let zeros = 0;
  for (;;) {
    if (bit >= limit) return undefined;
    if (read() === 1) break;
    zeros++;
  }
  if (zeros > 31 || bit + zeros > nal.length * 8) return undefined;
  let value = 0;
  for (let i = 0; i < zeros; i++) value = value * 2 + read();
  return 2 ** zeros - 1 + value;
}
