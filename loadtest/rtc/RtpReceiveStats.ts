/**
 * Receive statistics of one RTP stream from the packets alone: packets and bytes, loss from
 * sequence gaps, and video frames and freezes from frame arrival times (a frame = a new RTP
 * timestamp). A freeze follows WebRTC's stats definition: an inter-frame interval longer than
 * max(3 × the mean interval, mean + 150 ms).
 */

/** Counters of one stream (cumulative). */
export interface RtpCounters {
  packets: number;
  bytes: number;
  /** Packets the sequence numbers say were sent since the first one received. */
  expected: number;
  frames: number;
  freezes: number;
  /** Time spent frozen beyond the freeze threshold (ms). */
  freezeMs: number;
}

/** Tracks one SSRC. */
export class RtpReceiveStats {
  #packets = 0;
  #bytes = 0;
  #baseSeq = -1;
  #extMax = -1;
  #lastTs = -1;
  #lastFrameAt = 0;
  #frames = 0;
  #meanInterval = 0;
  #freezes = 0;
  #freezeMs = 0;

  /** Accounts one RTP packet (header parsed here) received at `now` (ms). */
  onPacket(packet: Uint8Array, now = performance.now()): void {
    if (packet.length < 12) return;
    this.#packets++;
    this.#bytes += packet.length;
    const seq = (packet[2]! << 8) | packet[3]!;
    if (this.#extMax < 0) {
      this.#baseSeq = seq;
      this.#extMax = seq;
    } else {
      const delta = (seq - (this.#extMax % 65536) + 65536) % 65536;
      if (delta > 0 && delta < 32768) this.#extMax += delta;
    }
    const ts = ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
    if (ts !== this.#lastTs) {
      if (this.#lastTs >= 0) {
        const interval = now - this.#lastFrameAt;
        if (this.#frames >= 10) {
          const threshold = Math.max(3 * this.#meanInterval, this.#meanInterval + 150);
          if (interval > threshold) {
            this.#freezes++;
            this.#freezeMs += interval - this.#meanInterval;
          }
        }
        // Exponential mean over ~30 frames, like the receiver's frame-rate estimate.
        this.#meanInterval = this.#frames === 0 ? interval : this.#meanInterval + (interval - this.#meanInterval) / Math.min(30, this.#frames + 1);
      }
      this.#lastTs = ts;
      this.#lastFrameAt = now;
      this.#frames++;
    }
  }

  /** Cumulative counters. */
  counters(): RtpCounters {
    return {
      packets: this.#packets,
      bytes: this.#bytes,
      expected: this.#extMax < 0 ? 0 : this.#extMax - this.#baseSeq + 1,
      frames: this.#frames,
      freezes: this.#freezes,
      freezeMs: this.#freezeMs,
    };
  }
}

/** True for RTCP in a muxed RTP/RTCP flow (RFC 5761: second byte 192–223). */
export function isRtcp(packet: Uint8Array): boolean {
  return packet.length >= 2 && packet[1]! >= 192 && packet[1]! <= 223;
}
