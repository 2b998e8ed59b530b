/** How this node's PipeTransports listen, from the `cascade.pipe` config slice and the sfu port range. */
import type { types } from 'mediasoup';

/** Resolved pipe settings. */
export interface PipeSettings {
  /** Local IP pipes bind. */
  listenIp: string;
  /** IP other nodes send to (default: listenIp). */
  announcedAddress?: string;
  /** Ask upstream nodes for SRTP-encrypted pipes. */
  enableSrtp: boolean;
  /** UDP port range. */
  portRange: { min: number; max: number };
}

/** The listenInfo of a pipe transport. */
export function pipeListenInfo(s: PipeSettings): types.TransportListenInfo {
  return { protocol: 'udp', ip: s.listenIp, ...(s.announcedAddress ? { announcedAddress: s.announcedAddress } : {}), portRange: s.portRange };
}
