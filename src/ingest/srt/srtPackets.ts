/**
 * The few SRT packets the node reads or writes itself (draft-sharabayko-srt): the control
 * header, the handshake (induction, conclusion, rejection) with its Stream ID extension, and
 * SHUTDOWN. Everything else on an accepted connection is relayed to ffmpeg untouched.
 */

/** Handshake type of an induction request/response. */
export const HS_INDUCTION = 1;
/** Handshake type of a conclusion request/response. */
export const HS_CONCLUSION = -1;
/** Handshake types from this value on are rejections (1000 + reason). */
export const HS_REJECTION_BASE = 1000;
const SRT_MAGIC = 0x4a17;
const CONTROL_HANDSHAKE = 0;
const CONTROL_SHUTDOWN = 5;
const EXT_SID = 5;
const HEADER = 16;
const CIF = 48;

/** SRT rejection reasons the node sends (SRT_REJX_* of libsrt ≥ 1.4.2). */
export const RejectReason = {
  BAD_REQUEST: 1400,
  UNAUTHORIZED: 1401,
  OVERLOAD: 1402,
  FORBIDDEN: 1403,
  NOT_FOUND: 1404,
  BAD_MODE: 1405,
  CONFLICT: 1409,
  /** The caller's last contribution carried media the node cannot use (see the log for why). */
  NOTSUP_MEDIA: 1415,
} as const;

/** Names of libsrt's own rejection reasons (sent by ffmpeg's listener), for logs. */
const SRT_REJ_NAMES: Record<number, string> = {
  1: 'system error',
  2: 'peer rejected',
  3: 'resource',
  4: 'rogue',
  5: 'backlog',
  6: 'internal error',
  7: 'closing',
  8: 'version',
  9: 'rendezvous cookie',
  10: 'wrong passphrase',
  11: 'encryption required',
  12: 'message API',
  13: 'congestion control',
  14: 'packet filter',
  15: 'group',
  16: 'timeout',
  17: 'crypto',
};

/** A parsed handshake. */
export interface Handshake {
  version: number;
  type: number;
  socketId: number;
  cookie: number;
  /** The Stream ID extension of an HSv5 conclusion, NUL padding removed. */
  streamId?: string;
}

/** True for SRT control packets. */
export function isControl(packet: Buffer): boolean {
  return packet.length >= HEADER && (packet[0]! & 0x80) !== 0;
}

/** Parses a handshake control packet; undefined for anything else or a malformed one. */
export function parseHandshake(packet: Buffer): Handshake | undefined {
  if (!isControl(packet) || (packet.readUInt16BE(0) & 0x7fff) !== CONTROL_HANDSHAKE || packet.length < HEADER + CIF) return undefined;
  const c = packet.subarray(HEADER);
  const hs: Handshake = { version: c.readUInt32BE(0), type: c.readInt32BE(20), socketId: c.readUInt32BE(24), cookie: c.readUInt32BE(28) };
  for (let off = CIF; off + 4 <= c.length;) {
    const type = c.readUInt16BE(off);
    const words = c.readUInt16BE(off + 2);
    const end = off + 4 + words * 4;
    if (end > c.length) return undefined;
    if (type === EXT_SID) {
      // The stream id travels as 32-bit words in little-endian byte order.
      const sid = Buffer.from(c.subarray(off + 4, end));
      for (let i = 0; i + 4 <= sid.length; i += 4) sid.subarray(i, i + 4).reverse();
      hs.streamId = sid.toString('utf8').replace(/\0+$/, '');
    }
    off = end;
  }
  return hs;
}

/** Our induction response to a caller's induction request (HSv5, our SYN cookie). */
export function inductionResponse(request: Buffer, cookie: number, socketId: number): Buffer {
  const out = Buffer.from(request.subarray(0, HEADER + CIF));
  const c = out.subarray(HEADER);
  out.writeUInt32BE(c.readUInt32BE(24), 12);
  c.writeUInt32BE(5, 0);
  c.writeUInt16BE(0, 4);
  c.writeUInt16BE(SRT_MAGIC, 6);
  c.writeUInt32BE(socketId >>> 0, 24);
  c.writeUInt32BE(cookie >>> 0, 28);
  return out;
}

/** A rejection of a caller's conclusion request with an SRT_REJX reason. */
export function rejection(request: Buffer, reason: number): Buffer {
  const out = Buffer.from(request.subarray(0, HEADER + CIF));
  const c = out.subarray(HEADER);
  out.writeUInt32BE(c.readUInt32BE(24), 12);
  c.writeInt32BE(HS_REJECTION_BASE + reason, 20);
  return out;
}

/** The caller's induction request rebuilt from its conclusion (to open ffmpeg's side). */
export function inductionFrom(conclusion: Buffer): Buffer {
  const out = Buffer.from(conclusion.subarray(0, HEADER + CIF));
  const c = out.subarray(HEADER);
  out.writeUInt32BE(0, 12);
  c.writeUInt32BE(4, 0);
  c.writeUInt16BE(0, 4);
  c.writeUInt16BE(2, 6);
  c.writeInt32BE(HS_INDUCTION, 20);
  c.writeUInt32BE(0, 28);
  return out;
}

/** A copy of a handshake with another SYN cookie (callers answer ours; ffmpeg expects its own). */
export function withCookie(handshake: Buffer, cookie: number): Buffer {
  const out = Buffer.from(handshake);
  out.writeUInt32BE(cookie >>> 0, HEADER + 28);
  return out;
}

/**
 * The packet with its header timestamp moved `delayUs` later (wrapping at 32 bits), as if its
 * sender had sent it that much later. libsrt's receiver takes the time base of its delivery
 * schedule (TSBPD) from the conclusion it accepts — its arrival time minus this timestamp — so a
 * conclusion the node held back while ffmpeg started must carry the time it was held, or every
 * packet of the connection is delivered that much later than the configured latency.
 */
export function withTimestampDelay(packet: Buffer, delayUs: number): Buffer {
  const out = Buffer.from(packet);
  out.writeUInt32BE((packet.readUInt32BE(8) + Math.max(0, Math.round(delayUs))) >>> 0, 8);
  return out;
}

/** A SHUTDOWN control packet to the socket `destSocketId`. */
export function shutdownPacket(destSocketId: number): Buffer {
  const out = Buffer.alloc(HEADER + 4);
  out.writeUInt16BE(0x8000 | CONTROL_SHUTDOWN, 0);
  out.writeUInt32BE(destSocketId >>> 0, 12);
  return out;
}

/** Human-readable reason of a rejection handshake type. */
export function rejectionName(handshakeType: number): string {
  const reason = handshakeType - HS_REJECTION_BASE;
  return SRT_REJ_NAMES[reason] ?? `reason ${reason}`;
}
