/**
 * A UDP hop on 127.0.0.1 between ffmpeg's H264 RTP and the SFU's PlainTransport that runs every
 * packet through an {@link H264AccessUnitJoiner}, so a picture ffmpeg split into several frames
 * reaches viewers as one. A held frame end is released after {@link HOLD_LIMIT_MS} when nothing
 * follows (the stream stopped). RTCP does not pass here: ffmpeg sends it to the transport itself.
 */
import dgram from 'node:dgram';
import { H264AccessUnitJoiner, type AccessUnitJoinerStats } from './H264AccessUnitJoiner';

/** How long a frame's last packet waits for more of its picture at most (ms). */
export const HOLD_LIMIT_MS = 500;

/** An open relay; `port` is where ffmpeg sends the video RTP. */
export class H264AccessUnitRelay {
  readonly #socket: dgram.Socket;
  readonly #joiner = new H264AccessUnitJoiner();
  readonly #targetPort: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(socket: dgram.Socket, targetPort: number) {
    this.#socket = socket;
    this.#targetPort = targetPort;
    socket.on('message', (packet, from) => {
      if (from.port === targetPort) return; // the transport's own packets, if any, are not ffmpeg's
      this.#send(this.#joiner.push(packet));
      clearTimeout(this.#timer);
      if (this.#joiner.holding) this.#timer = setTimeout(() => this.#send(this.#joiner.release()), HOLD_LIMIT_MS);
    });
    // A send or receive error on loopback leaves the feed without video, which the SFU's stats show; the ingest carries on.
    socket.on('error', () => undefined);
  }

  /** Binds a free port on 127.0.0.1 that forwards to `targetPort` on 127.0.0.1. */
  static async open(targetPort: number): Promise<H264AccessUnitRelay> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new H264AccessUnitRelay(socket, targetPort);
  }

  /** The port ffmpeg sends to. */
  get port(): number {
    return this.#socket.address().port;
  }

  /** What the joiner changed so far. */
  get stats(): AccessUnitJoinerStats {
    return this.#joiner.stats;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket.close();
  }

  #send(packets: Buffer[]): void {
    if (this.#closed) return;
    for (const packet of packets) this.#socket.send(packet, this.#targetPort, '127.0.0.1');
  }
}
