/**
 * A minimal hand-driven RTMP publisher for hostile-input tests: raw handshake, connect,
 * createStream, publish, then arbitrary messages or bytes. Interop is tested with ffmpeg and
 * GStreamer; this exists to send what they never would (crafted codecs, junk, oversized chunks).
 */
import net from 'node:net';
import { encodeAmf0, decodeAmf0, type Amf0Value } from '../../src/ingest/rtmp/amf0';
import { ChunkReader, encodeMessage, MSG } from '../../src/ingest/rtmp/chunks';

/** A raw RTMP client connection. */
export class RawRtmpClient {
  readonly socket: net.Socket;
  /** Commands received (name and arguments). */
  readonly commands: Amf0Value[][] = [];
  closed = false;
  #reader = new ChunkReader(16 * 1024 * 1024);
  #handshakeLeft = 1 + 1536 * 2;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      if (this.#handshakeLeft > 0) {
        const used = Math.min(this.#handshakeLeft, d.length);
        this.#handshakeLeft -= used;
        d = d.subarray(used);
        if (this.#handshakeLeft === 0) socket.write(Buffer.alloc(1536)); // C2
        if (!d.length) return;
      }
      for (const m of this.#reader.push(d)) if (m.typeId === MSG.COMMAND_AMF0) this.commands.push(decodeAmf0(m.payload));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  /** Opens a TCP connection (no handshake yet). */
  static connect(port: number): Promise<RawRtmpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawRtmpClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends C0+C1 (C2 follows when S0S1S2 arrived). */
  handshake(): void {
    this.socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
  }

  /** True once the server's S0S1S2 arrived. */
  get handshaken(): boolean {
    return this.#handshakeLeft === 0;
  }

  /** Sends an AMF0 command on chunk stream 3. */
  command(streamId: number, ...values: Amf0Value[]): void {
    this.send({ typeId: MSG.COMMAND_AMF0, streamId, timestamp: 0, payload: encodeAmf0(...values) });
  }

  /** Sends one message (chunk size 128). */
  send(msg: { typeId: number; streamId: number; timestamp: number; payload: Buffer }, csid = 3): void {
    if (!this.socket.destroyed) this.socket.write(encodeMessage(csid, msg, 128));
  }

  /** connect + createStream + publish of `name` in `app`. */
  publish(app: string, name: string): void {
    this.command(0, 'connect', 1, { app, type: 'nonprivate', tcUrl: `rtmp://127.0.0.1/${app}` });
    this.command(0, 'createStream', 2, null);
    this.command(1, 'publish', 0, null, name, 'live');
  }

  /** The `onStatus` infos received. */
  statuses(): { level: string; code: string; description: string }[] {
    return this.commands.filter((c) => c[0] === 'onStatus').map((c) => c[3] as { level: string; code: string; description: string });
  }

  close(): void {
    this.socket.destroy();
  }
}
