/**
 * RTMP chunk streams: {@link ChunkReader} reassembles messages from a connection's bytes
 * (basic headers of 1–3 bytes, message headers of types 0–3, extended timestamps, Set Chunk
 * Size and Abort handled in place), bounded in message size and chunk-stream count;
 * {@link encodeMessage} splits an outgoing message into chunks.
 */

/** A reassembled RTMP message. */
export interface RtmpMessage {
  typeId: number;
  streamId: number;
  /** Milliseconds (32-bit, wraps). */
  timestamp: number;
  payload: Buffer;
}

/** A protocol violation that ends the connection; `label` is its metric label. */
export class RtmpProtocolError extends Error {
  constructor(
    readonly label: 'oversized-message' | 'bad-chunk-size' | 'too-many-chunk-streams' | 'bad-chunk' | 'bad-handshake' | 'bad-command',
    message: string,
  ) {
    super(message);
  }
}

/** Message type ids. */
export const MSG = {
  SET_CHUNK_SIZE: 1,
  ABORT: 2,
  ACK: 3,
  USER_CONTROL: 4,
  WINDOW_ACK_SIZE: 5,
  SET_PEER_BANDWIDTH: 6,
  AUDIO: 8,
  VIDEO: 9,
  DATA_AMF3: 15,
  COMMAND_AMF3: 17,
  DATA_AMF0: 18,
  COMMAND_AMF0: 20,
} as const;

interface ChunkStreamState {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  parts: Buffer[];
  received: number;
  started: boolean;
}

const MAX_CHUNK_STREAMS = 64;

/** Reassembles RTMP messages from a byte stream. */
export class ChunkReader {
  /** Bytes consumed so far (for acknowledgements). */
  bytesIn = 0;
  #chunkSize = 128;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #streams = new Map<number, ChunkStreamState>();
  readonly #maxMessageBytes: number;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Adds bytes; returns the messages they complete. Throws {@link RtmpProtocolError}. */
  push(data: Buffer): RtmpMessage[] {
    this.bytesIn += data.length;
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, data]) : data;
    const out: RtmpMessage[] = [];
    for (;;) {
      const consumed = this.#readChunk(out);
      if (consumed === 0) break;
      this.#buffer = this.#buffer.subarray(consumed);
    }
    // A partial chunk never exceeds one header plus one chunk of payload; keep our own copy.
    if (this.#buffer.length) this.#buffer = Buffer.from(this.#buffer);
    return out;
  }

  /** Parses one chunk at the buffer's start; returns bytes consumed (0: incomplete). */
  #readChunk(out: RtmpMessage[]): number {
    const b = this.#buffer;
    if (b.length < 1) return 0;
    const fmt = b[0]! >> 6;
    let csid = b[0]! & 0x3f;
    let pos = 1;
    if (csid === 0) {
      if (b.length < 2) return 0;
      csid = 64 + b[1]!;
      pos = 2;
    } else if (csid === 1) {
      if (b.length < 3) return 0;
      csid = 64 + b[1]! + b[2]! * 256;
      pos = 3;
    }
    const headerLength = [11, 7, 3, 0][fmt]!;
    if (b.length < pos + headerLength) return 0;
    let state = this.#streams.get(csid);
    if (!state) {
      if (fmt !== 0) throw new RtmpProtocolError('bad-chunk', `chunk stream ${csid} starts with a type ${fmt} header`);
      if (this.#streams.size >= MAX_CHUNK_STREAMS) throw new RtmpProtocolError('too-many-chunk-streams', `more than ${MAX_CHUNK_STREAMS} chunk streams`);
      state = { timestamp: 0, delta: 0, length: 0, typeId: 0, streamId: 0, extended: false, parts: [], received: 0, started: false };
    }
    let tsField = 0;
    let length = state.length;
    let typeId = state.typeId;
    let streamId = state.streamId;
    if (fmt <= 2) tsField = b.readUIntBE(pos, 3);
    if (fmt <= 1) {
      length = b.readUIntBE(pos + 3, 3);
      typeId = b[pos + 6]!;
    }
    if (fmt === 0) streamId = b.readUInt32LE(pos + 7);
    pos += headerLength;
    const extended = fmt <= 2 ? tsField === 0xffffff : state.extended;
    if (extended) {
      if (b.length < pos + 4) return 0;
      if (fmt <= 2) tsField = b.readUInt32BE(pos);
      pos += 4;
    }
    const newMessage = state.received === 0;
    if (newMessage && length > this.#maxMessageBytes) {
      throw new RtmpProtocolError('oversized-message', `message of ${length} bytes exceeds the ${this.#maxMessageBytes}-byte limit`);
    }
    if (!newMessage && fmt <= 1 && length !== state.length) throw new RtmpProtocolError('bad-chunk', `chunk stream ${csid} changes message length mid-message`);
    const payloadLength = Math.min(this.#chunkSize, length - state.received);
    if (b.length < pos + payloadLength) return 0;
    // The whole chunk is here: commit the header.
    this.#streams.set(csid, state);
    state.extended = extended;
    state.length = length;
    state.typeId = typeId;
    state.streamId = streamId;
    if (newMessage) {
      if (fmt === 0) {
        state.timestamp = tsField;
        state.delta = 0;
      } else if (fmt <= 2) {
        state.delta = tsField;
        state.timestamp = (state.timestamp + tsField) >>> 0;
      } else if (state.started) {
        state.timestamp = (state.timestamp + state.delta) >>> 0;
      }
      state.started = true;
    }
    if (payloadLength > 0) state.parts.push(b.subarray(pos, pos + payloadLength));
    state.received += payloadLength;
    if (state.received >= length) {
      const payload = Buffer.concat(state.parts);
      state.parts = [];
      state.received = 0;
      this.#onMessage({ typeId, streamId, timestamp: state.timestamp, payload }, out);
    }
    return pos + payloadLength;
  }

  #onMessage(msg: RtmpMessage, out: RtmpMessage[]): void {
    if (msg.typeId === MSG.SET_CHUNK_SIZE) {
      if (msg.payload.length < 4) throw new RtmpProtocolError('bad-chunk-size', 'short Set Chunk Size');
      const size = msg.payload.readUInt32BE(0) & 0x7fffffff;
      if (size < 1) throw new RtmpProtocolError('bad-chunk-size', `chunk size ${size}`);
      this.#chunkSize = size;
      return;
    }
    if (msg.typeId === MSG.ABORT) {
      if (msg.payload.length < 4) return;
      const s = this.#streams.get(msg.payload.readUInt32BE(0));
      if (s) {
        s.parts = [];
        s.received = 0;
      }
      return;
    }
    out.push(msg);
  }
}

/** Splits a message into chunks on chunk stream `csid` (2–63) with the given chunk size. */
export function encodeMessage(csid: number, msg: RtmpMessage, chunkSize: number): Buffer {
  const parts: Buffer[] = [];
  const extended = msg.timestamp >= 0xffffff;
  const head = Buffer.alloc(12 + (extended ? 4 : 0));
  head[0] = csid & 0x3f;
  head.writeUIntBE(extended ? 0xffffff : msg.timestamp, 1, 3);
  head.writeUIntBE(msg.payload.length, 4, 3);
  head[7] = msg.typeId;
  head.writeUInt32LE(msg.streamId, 8);
  if (extended) head.writeUInt32BE(msg.timestamp, 12);
  parts.push(head);
  for (let off = 0; off < msg.payload.length || off === 0; off += chunkSize) {
    if (off > 0) {
      const cont = Buffer.alloc(1 + (extended ? 4 : 0));
      cont[0] = 0xc0 | (csid & 0x3f);
      if (extended) cont.writeUInt32BE(msg.timestamp, 1);
      parts.push(cont);
    }
    parts.push(msg.payload.subarray(off, off + chunkSize));
    if (msg.payload.length === 0) break;
  }
  return Buffer.concat(parts);
}

/** A protocol control message (Set Chunk Size, Window Ack Size, Ack) with a 4-byte value. */
export function controlMessage(typeId: number, value: number, extra?: number): RtmpMessage {
  const payload = Buffer.alloc(extra === undefined ? 4 : 5);
  payload.writeUInt32BE(value >>> 0, 0);
  if (extra !== undefined) payload[4] = extra;
  return { typeId, streamId: 0, timestamp: 0, payload };
}
