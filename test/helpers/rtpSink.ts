/**
 * Receives a producer's RTP on a plain UDP socket through a PlainTransport consumer on a given
 * router: a real receiver that counts packets without a WebRTC stack.
 */
import dgram from 'node:dgram';
import type { types } from 'mediasoup';
import type { Stream } from '../../src/streams/Stream';

/** A counting RTP receiver. */
export interface RtpSink {
  readonly consumer: types.Consumer;
  packets(): number;
  close(): void;
}

/**
 * Consumes `producerId` on `router` and counts the RTP packets that arrive on a local socket.
 * With `stream` (the hub stream the producer belongs to; `router` one of its room's routers) the
 * consumer is made through `stream.consume`, so it counts against the router's budget like an
 * output's.
 */
export async function createRtpSink(router: types.Router, producerId: string, stream?: Stream): Promise<RtpSink> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', (msg) => {
    // RTP version 2, payload types outside RTCP's 200-204 range.
    if (msg.length >= 12 && msg[0]! >> 6 === 2 && (msg[1]! < 200 || msg[1]! > 204)) count++;
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  let consumer: types.Consumer;
  try {
    if (stream) {
      const slot = stream.room.slots.find((s) => s.router === router);
      const track = stream.tracks.find((t) => t.id === producerId);
      if (!slot || !track) throw new Error(`router ${router.id} or track ${producerId} is not part of stream ${stream.identity}`);
      consumer = await stream.consume(transport, slot, track, { output: 'test', paused: false });
    } else {
      consumer = await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: false });
    }
  } catch (err) {
    transport.close();
    socket.close();
    throw err;
  }
  return {
    consumer,
    packets: () => count,
    close: () => {
      transport.close();
      socket.close();
    },
  };
}
