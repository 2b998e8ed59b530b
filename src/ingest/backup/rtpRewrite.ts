/**
 * RTP continuity across inputs: one {@link RtpRewriter} per output track keeps the SSRC, payload
 * type, sequence numbers and timestamps of the packets it sends continuous while the input
 * behind it changes, so receivers (WebRTC consumers, ffmpeg of LL-HLS, the MoQ bridge) see one
 * uninterrupted stream. {@link h264KeyFrameStart} tells where an input's H264 can be joined.
 */

/** Sequence number of an RTP packet. */
export function rtpSeq(packet: Buffer): number {
  return packet.readUInt16BE(2);
}

/** Timestamp of an RTP packet. */
export function rtpTimestamp(packet: Buffer): number {
  return packet.readUInt32BE(4);
}

/** Offset of the RTP payload (after CSRCs and the header extension); -1 when the packet is malformed. */
export function rtpPayloadOffset(packet: Buffer): number {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return -1;
  let offset = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return -1;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  return offset < packet.length ? offset : -1;
}

/** Whether an H264 RTP packet (RFC 6184) carries an SPS or an IDR slice, or starts one: the packet belongs to a key frame. */
export function h264KeyFrameStart(packet: Buffer): boolean {
  const at = rtpPayloadOffset(packet);
  if (at < 0) return false;
  const type = packet[at]! & 0x1f;
  if (type === 5 || type === 7) return true;
  if (type === 24) {
    // STAP-A: 16-bit sizes, each followed by a NAL unit.
    for (let i = at + 1; i + 2 < packet.length;) {
      const size = packet.readUInt16BE(i);
      const nal = packet[i + 2]! & 0x1f;
      if (nal === 5 || nal === 7) return true;
      i += 2 + size;
    }
    return false;
  }
  if (type === 28 && at + 1 < packet.length) {
    const header = packet[at + 1]!;
    const nal = header & 0x1f;
    return (header & 0x80) !== 0 && (nal === 5 || nal === 7);
  }
  return false;
}

/** Keeps one output track's RTP continuous while its source changes. */
export class RtpRewriter {
  readonly #ssrc: number;
  readonly #payloadType: number;
  readonly #clockRate: number;
  #seqOffset = 0;
  #tsOffset = 0;
  #lastSeq = -1;
  #lastTs = 0;
  #lastSentAt = 0;
  #sent = 0;

  constructor(ssrc: number, payloadType: number, clockRate: number) {
    this.#ssrc = ssrc;
    this.#payloadType = payloadType;
    this.#clockRate = clockRate;
  }

  /** Packets sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Joins a new source at `packet` (its first packet to send): the next sequence number follows
   * the last one sent, the timestamp is `outTimestamp`, or by default the last one plus the
   * wall-clock time since (at least one tick).
   */
  rebase(packet: Buffer, now: number, outTimestamp?: number): void {
    const inSeq = rtpSeq(packet);
    const inTs = rtpTimestamp(packet);
    const outTs = outTimestamp ?? this.expectedTimestamp(now) ?? inTs;
    this.#seqOffset = ((this.#lastSeq < 0 ? 0 : this.#lastSeq + 1) - inSeq) & 0xffff;
    this.#tsOffset = (outTs - inTs) >>> 0;
  }

  /** The last timestamp sent (undefined before the first packet). */
  get lastTimestamp(): number | undefined {
    return this.#lastSeq < 0 ? undefined : this.#lastTs;
  }

  /** The timestamp the next packet of a rebase at `now` would get (the last one plus the time since, at least one tick). */
  expectedTimestamp(now: number): number | undefined {
    if (this.#lastSeq < 0) return undefined;
    return (this.#lastTs + Math.max(1, Math.round(((now - this.#lastSentAt) * this.#clockRate) / 1000))) >>> 0;
  }

  /** Rewrites `packet` in place (SSRC, payload type, sequence number, timestamp) and returns it. */
  rewrite(packet: Buffer, now: number): Buffer {
    const seq = (rtpSeq(packet) + this.#seqOffset) & 0xffff;
    const ts = (rtpTimestamp(packet) + this.#tsOffset) >>> 0;
    packet[1] = (packet[1]! & 0x80) | this.#payloadType;
    packet.writeUInt16BE(seq, 2);
    packet.writeUInt32BE(ts, 4);
    packet.writeUInt32BE(this.#ssrc >>> 0, 8);
    if (this.#lastSeq < 0 || ahead(ts, this.#lastTs)) {
      this.#lastSentAt = now;
      this.#lastTs = ts;
    }
    if (this.#lastSeq < 0 || seqAhead(seq, this.#lastSeq)) this.#lastSeq = seq;
    this.#sent++;
    return packet;
  }
}

/** Whether RTP timestamp `a` is after `b` (modulo 2^32). */
function ahead(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/** Whether sequence number `a` is after `b` (modulo 2^16). */
function seqAhead(a: number, b: number): boolean {
  const d = (a - b) & 0xffff;
  return d !== 0 && d < 0x8000;
}
