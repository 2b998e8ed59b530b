/**
 * Receives a producer's RTP on a plain UDP socket through a PlainTransport consumer on a given
 * router: a real receiver that counts packets without a WebRTC stack.
 */
import dgram from 'node:dgram';
import type { types } from 'mediasoup';

/** A counting RTP receiver. */
export interface RtpSink {
  readonly consumer: types.Consumer;
  packets(): number;
  close(): void;
}

/** Consumes `producerId` on `router` and counts the RTP packets that arrive on a local socket. */
export async function createRtpSink(router: types.Router, producerId: string): Promise<RtpSink> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', (msg) => {
    // RTP version 2, payload types outside RTCP's 200-204 range.
    if (msg.length >= 12 && msg[0]! >> 6 === 2 && (msg[1]! < 200 || msg[1]! > 204)) count++;
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  const consumer = await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: false });
  return {
    consumer,
    packets: () => count,
    close: () => {
      transport.close();
      socket.close();
    },
  };
}
