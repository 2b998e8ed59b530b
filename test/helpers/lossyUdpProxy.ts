/**
 * A UDP relay between one WebRTC client and a node's ICE-lite port that drops a share of the
 * node's RTP packets of one payload type, to test loss recovery on loopback. STUN, DTLS, RTCP and
 * other payload types (RTX) pass. The client is pointed at it by rewriting the answer's UDP
 * candidate; the node sees the relay as the client's address.
 */
import dgram from 'node:dgram';

/** Options of {@link LossyUdpProxy.start}. */
export interface LossyUdpProxyOptions {
  /** The node's UDP port (host 127.0.0.1). */
  targetPort: number;
  /** RTP payload type whose packets are dropped. */
  payloadType: number;
  /** Share of those packets dropped, 0..1 (every n-th packet, deterministic). */
  dropRatio: number;
}

/** The relay; `close()` when done. */
export class LossyUdpProxy {
  readonly port: number;
  /**
   * Packets of `payloadType` from the node, dropped and forwarded; transport-cc feedback packets
   * from the client (RTCP 205/15: SRTCP leaves the first header in the clear).
   */
  readonly counts = { dropped: 0, forwarded: 0, transportFeedback: 0 };
  readonly #socket: dgram.Socket;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    this.port = socket.address().port;
  }

  /** Binds 127.0.0.1 on a free port and relays. */
  static async start(o: LossyUdpProxyOptions): Promise<LossyUdpProxy> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const proxy = new LossyUdpProxy(socket);
    const every = Math.max(1, Math.round(1 / o.dropRatio));
    let seen = 0;
    let client: dgram.RemoteInfo | undefined;
    socket.on('message', (msg, from) => {
      if (from.port !== o.targetPort) {
        client = from;
        if (msg.length >= 8 && (msg[0]! & 0xc0) === 0x80 && msg[1] === 205 && (msg[0]! & 0x1f) === 15) proxy.counts.transportFeedback++;
        socket.send(msg, o.targetPort, '127.0.0.1');
        return;
      }
      if (!client) return;
      // RTP (version 2) and not RTCP (payload types 192–223 with the marker bit set): 200–206.
      const isRtp = msg.length > 12 && (msg[0]! & 0xc0) === 0x80 && !(msg[1]! >= 192 && msg[1]! <= 223);
      if (isRtp && (msg[1]! & 0x7f) === o.payloadType) {
        if (++seen % every === 0) {
          proxy.counts.dropped++;
          return;
        }
        proxy.counts.forwarded++;
      }
      socket.send(msg, client.port, client.address);
    });
    return proxy;
  }

  close(): void {
    this.#socket.close();
  }
}
