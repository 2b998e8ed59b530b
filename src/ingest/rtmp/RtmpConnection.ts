/**
 * One RTMP client connection: the simple handshake (C0/C1/C2 ↔ S0/S1/S2), chunk streams, the
 * AMF0 command exchange of a publisher (connect, releaseStream, FCPublish, createStream,
 * publish, FCUnpublish, deleteStream) and its media as FLV. It decides nothing about who may
 * publish: `publish` asks the server's {@link RtmpConnectionHooks.publish}, and a refusal is sent
 * as an `onStatus` error (or `_error` for connect) before the socket closes.
 *
 * Every fault of the client (junk, a truncated handshake, oversized messages, malformed AMF,
 * silence) ends this connection alone, with a reason the server counts.
 */
import crypto from 'node:crypto';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { decodeAmf0, encodeAmf0, type Amf0Value } from './amf0';
import { ChunkReader, controlMessage, encodeMessage, MSG, RtmpProtocolError, type RtmpMessage } from './chunks';
import { audioCodecOf, flvHeader, flvTag, videoCodecOf } from './flv';

/** Where a publisher's FLV goes once the server accepted it. */
export interface RtmpMediaSink {
  /** Writes FLV bytes; false: stop reading until `onDrain` calls back. */
  write(flv: Buffer): boolean;
  /** Calls `cb` once the sink can take more. */
  onDrain(cb: () => void): void;
}

/** The server's answer to a publish. */
export type PublishDecision = { refused: { code: string; reason: string } } | { sink: RtmpMediaSink };

/** What the connection asks of its server. */
export interface RtmpConnectionHooks {
  /** Decides on `publish` of `name` in `app`. */
  publish(app: string, name: string): Promise<PublishDecision>;
}

/** Why a connection ended, as a metric label. */
export type RtmpEndLabel =
  | RtmpProtocolError['label']
  | 'client-left'
  | 'unpublished'
  | 'idle'
  | 'handshake-timeout'
  | 'publish-timeout'
  | 'refused'
  | 'unsupported-media'
  | 'terminated';

/** Options of {@link RtmpConnection}. */
export interface RtmpConnectionOptions {
  socket: Socket;
  hooks: RtmpConnectionHooks;
  /** Messages larger than this end the connection. */
  maxMessageBytes: number;
  /** Time from accept to `publish` (ms). */
  publishTimeoutMs: number;
  /** Silence of a publishing client that ends it (ms). */
  idleTimeoutMs: number;
}

/** Events of {@link RtmpConnection}. */
export interface RtmpConnectionEvents {
  ended: [reason: string, label: RtmpEndLabel];
}

const HANDSHAKE_SIZE = 1536;
const OUT_CHUNK_SIZE = 4096;
const WINDOW_ACK_SIZE = 2_500_000;
const CSID_CONTROL = 2;
const CSID_COMMAND = 3;
const PUBLISH_STREAM_ID = 1;

/** One RTMP client. */
export class RtmpConnection extends EventEmitter<RtmpConnectionEvents> {
  readonly remote: string;
  /** The app of `connect` (after it arrived). */
  app = '';
  readonly #o: RtmpConnectionOptions;
  readonly #reader: ChunkReader;
  #phase: 'c0c1' | 'c2' | 'chunks' = 'c0c1';
  #handshake: Buffer = Buffer.alloc(0);
  #publishing: 'no' | 'deciding' | 'yes' = 'no';
  #sink: RtmpMediaSink | undefined;
  #flvStarted = false;
  #hasAudioHint: boolean | undefined;
  #codecChecked = { video: false, audio: false };
  #ackWindow = 0;
  #lastAck = 0;
  #lastDataAt = Date.now();
  #paused = false;
  #timers: NodeJS.Timeout[] = [];
  #ended = false;

  constructor(options: RtmpConnectionOptions) {
    super();
    this.#o = options;
    this.#reader = new ChunkReader(options.maxMessageBytes);
    const s = options.socket;
    this.remote = `${s.remoteAddress}:${s.remotePort}`;
    s.setNoDelay(true);
    s.on('data', (data: Buffer) => this.#onData(data));
    s.on('error', () => undefined); // 'close' follows
    s.on('close', () => this.#end(this.#publishing === 'yes' ? 'publisher disconnected' : 'client disconnected', 'client-left'));
    this.#timers.push(
      setTimeout(() => {
        if (this.#publishing === 'no')
          this.#end(
            this.#phase === 'chunks' ? `no publish within ${options.publishTimeoutMs} ms` : 'handshake did not complete',
            this.#phase === 'chunks' ? 'publish-timeout' : 'handshake-timeout',
          );
      }, options.publishTimeoutMs),
    );
    const idle = setInterval(
      () => {
        if (!this.#paused && this.#publishing === 'yes' && Date.now() - this.#lastDataAt > options.idleTimeoutMs)
          this.#end(`no data for ${options.idleTimeoutMs} ms`, 'idle');
      },
      Math.min(250, options.idleTimeoutMs),
    );
    this.#timers.push(idle);
  }

  /** Ends a publishing client with an `onStatus` error (e.g. its media cannot be used). */
  terminate(code: string, reason: string, label: RtmpEndLabel = 'terminated'): void {
    if (this.#ended) return;
    this.#sendStatus('error', code, reason);
    this.#end(reason, label);
  }

  #onData(data: Buffer): void {
    if (this.#ended) return;
    this.#lastDataAt = Date.now();
    try {
      if (this.#phase !== 'chunks') {
        data = this.#onHandshake(data);
        if ((this.#phase as string) !== 'chunks' || data.length === 0) return;
      }
      for (const msg of this.#reader.push(data)) {
        this.#onMessage(msg);
        if (this.#ended) return;
      }
      if (this.#ackWindow > 0 && this.#reader.bytesIn - this.#lastAck >= this.#ackWindow) {
        this.#lastAck = this.#reader.bytesIn;
        this.#send(CSID_CONTROL, controlMessage(MSG.ACK, this.#reader.bytesIn));
      }
    } catch (err) {
      if (err instanceof RtmpProtocolError) this.#end(err.message, err.label);
      else this.#end(`malformed message: ${(err as Error).message}`, 'bad-command');
    }
  }

  /** Consumes handshake bytes; returns what follows the handshake. */
  #onHandshake(data: Buffer): Buffer {
    this.#handshake = Buffer.concat([this.#handshake, data]);
    if (this.#phase === 'c0c1') {
      if (this.#handshake[0] !== 3) throw new RtmpProtocolError('bad-handshake', `RTMP version ${this.#handshake[0]} (expected 3; RTMPE is not supported)`);
      if (this.#handshake.length < 1 + HANDSHAKE_SIZE) return Buffer.alloc(0);
      const c1 = this.#handshake.subarray(1, 1 + HANDSHAKE_SIZE);
      const s1 = crypto.randomBytes(HANDSHAKE_SIZE);
      s1.writeUInt32BE(0, 0);
      s1.writeUInt32BE(0, 4);
      this.#write(Buffer.concat([Buffer.from([3]), s1, c1]));
      this.#handshake = this.#handshake.subarray(1 + HANDSHAKE_SIZE);
      this.#phase = 'c2';
    }
    if (this.#handshake.length < HANDSHAKE_SIZE) return Buffer.alloc(0);
    const rest = this.#handshake.subarray(HANDSHAKE_SIZE);
    this.#handshake = Buffer.alloc(0);
    this.#phase = 'chunks';
    return rest;
  }

  #onMessage(msg: RtmpMessage): void {
    switch (msg.typeId) {
      case MSG.WINDOW_ACK_SIZE:
        if (msg.payload.length >= 4) this.#ackWindow = msg.payload.readUInt32BE(0);
        return;
      case MSG.USER_CONTROL:
        // Ping request → ping response with the same timestamp.
        if (msg.payload.length >= 6 && msg.payload.readUInt16BE(0) === 6) {
          const p = Buffer.from(msg.payload.subarray(0, 6));
          p.writeUInt16BE(7, 0);
          this.#send(CSID_CONTROL, { typeId: MSG.USER_CONTROL, streamId: 0, timestamp: 0, payload: p });
        }
        return;
      case MSG.COMMAND_AMF3:
        return this.#onCommand(decodeAmf0(msg.payload.subarray(1)), msg.streamId);
      case MSG.COMMAND_AMF0:
        return this.#onCommand(decodeAmf0(msg.payload), msg.streamId);
      case MSG.DATA_AMF0:
        return this.#onData0(msg);
      case MSG.AUDIO:
      case MSG.VIDEO:
        return this.#onMedia(msg);
      default:
        return; // ack, bandwidth, AMF3 data, shared objects: nothing to do
    }
  }

  #onCommand(values: Amf0Value[], streamId: number): void {
    const [name, txn] = values;
    if (typeof name !== 'string') throw new RtmpProtocolError('bad-command', 'command without a name');
    const id = typeof txn === 'number' ? txn : 0;
    switch (name) {
      case 'connect': {
        const cmd = values[2];
        const app = cmd && typeof cmd === 'object' && !Array.isArray(cmd) && !(cmd instanceof Date) ? cmd.app : undefined;
        this.app = typeof app === 'string' ? app : '';
        this.#send(CSID_CONTROL, controlMessage(MSG.WINDOW_ACK_SIZE, WINDOW_ACK_SIZE));
        this.#send(CSID_CONTROL, controlMessage(MSG.SET_PEER_BANDWIDTH, WINDOW_ACK_SIZE, 2));
        this.#send(CSID_CONTROL, controlMessage(MSG.SET_CHUNK_SIZE, OUT_CHUNK_SIZE));
        this.#command(
          '_result',
          id,
          { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
          { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 },
        );
        return;
      }
      case 'releaseStream':
      case 'FCPublish':
      case 'getStreamLength':
        if (id) this.#command('_result', id, null, undefined);
        return;
      case 'createStream':
        this.#command('_result', id, null, PUBLISH_STREAM_ID);
        return;
      case 'publish': {
        const publishName = values[3];
        if (this.#publishing !== 'no') return;
        this.#publishing = 'deciding';
        this.#decide(typeof publishName === 'string' ? publishName : '', streamId || PUBLISH_STREAM_ID);
        return;
      }
      case 'play':
        this.#sendStatus('error', 'NetStream.Play.Failed', 'this node takes RTMP contributions only; watch over WebRTC, WHEP, LL-HLS or MoQ', streamId);
        this.#end('client tried to play', 'refused');
        return;
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        if (this.#publishing === 'yes') this.#end(`publisher sent ${name}`, 'unpublished');
        return;
      default:
        return;
    }
  }

  #decide(publishName: string, streamId: number): void {
    this.#o.hooks.publish(this.app, publishName).then(
      (decision) => {
        if (this.#ended) return;
        if ('refused' in decision) {
          this.#sendStatus('error', decision.refused.code, decision.refused.reason, streamId);
          this.#end(`publish refused: ${decision.refused.reason}`, 'refused');
          return;
        }
        this.#sink = decision.sink;
        this.#publishing = 'yes';
        this.#lastDataAt = Date.now();
        // User control StreamBegin, then NetStream.Publish.Start.
        const begin = Buffer.alloc(6);
        begin.writeUInt32BE(streamId, 2);
        this.#send(CSID_CONTROL, { typeId: MSG.USER_CONTROL, streamId: 0, timestamp: 0, payload: begin });
        this.#sendStatus('status', 'NetStream.Publish.Start', `${publishName.split('?')[0]} is now published`, streamId);
      },
      (err: Error) => {
        this.#sendStatus('error', 'NetStream.Publish.Failed', `internal error: ${err.message}`, streamId);
        this.#end(`publish failed: ${err.message}`, 'refused');
      },
    );
  }

  #onData0(msg: RtmpMessage): void {
    if (this.#publishing !== 'yes') return;
    const values = decodeAmf0(msg.payload);
    const body = values[0] === '@setDataFrame' ? values.slice(1) : values;
    if (body[0] !== 'onMetaData') return;
    const meta = body[1];
    if (meta && typeof meta === 'object' && !Array.isArray(meta) && !(meta instanceof Date)) {
      this.#hasAudioHint = 'audiocodecid' in meta || 'audiosamplerate' in meta;
    }
    this.#writeFlv(18, msg.timestamp, encodeAmf0(...body));
  }

  #onMedia(msg: RtmpMessage): void {
    if (this.#publishing !== 'yes' || msg.payload.length === 0) return;
    if (msg.typeId === MSG.VIDEO && !this.#codecChecked.video) {
      const codec = videoCodecOf(msg.payload);
      if (codec && !codec.h264) {
        this.terminate(
          'NetStream.Publish.Rejected',
          `unsupported video codec ${codec.name}: this node carries H264 only (its WebRTC, LL-HLS and MoQ outputs); send H264`,
          'unsupported-media',
        );
        return;
      }
      this.#codecChecked.video = true;
    }
    if (msg.typeId === MSG.AUDIO && !this.#codecChecked.audio) {
      const codec = audioCodecOf(msg.payload);
      if (codec && !codec.decodable) {
        this.terminate('NetStream.Publish.Rejected', `unsupported audio codec ${codec.name}; send AAC`, 'unsupported-media');
        return;
      }
      this.#codecChecked.audio = true;
    }
    this.#writeFlv(msg.typeId, msg.timestamp, msg.payload);
  }

  #writeFlv(type: number, timestamp: number, body: Buffer): void {
    const sink = this.#sink;
    if (!sink) return;
    let bytes = flvTag(type, timestamp, body);
    if (!this.#flvStarted) {
      this.#flvStarted = true;
      bytes = Buffer.concat([flvHeader(this.#hasAudioHint ?? true, true), bytes]);
    }
    if (!sink.write(bytes) && !this.#paused) {
      this.#paused = true;
      this.#o.socket.pause();
      sink.onDrain(() => {
        this.#paused = false;
        this.#lastDataAt = Date.now();
        if (!this.#ended) this.#o.socket.resume();
      });
    }
  }

  #command(name: string, txn: number, ...args: Amf0Value[]): void {
    this.#send(CSID_COMMAND, { typeId: MSG.COMMAND_AMF0, streamId: 0, timestamp: 0, payload: encodeAmf0(name, txn, ...args) });
  }

  #sendStatus(level: 'status' | 'error', code: string, description: string, streamId = PUBLISH_STREAM_ID): void {
    const payload = encodeAmf0('onStatus', 0, null, { level, code, description });
    this.#send(CSID_COMMAND, { typeId: MSG.COMMAND_AMF0, streamId, timestamp: 0, payload });
  }

  #send(csid: number, msg: RtmpMessage): void {
    // The first control messages go out before the client learned our chunk size: 4-byte payloads fit 128.
    this.#write(encodeMessage(csid, msg, msg.typeId === MSG.SET_CHUNK_SIZE ? 128 : OUT_CHUNK_SIZE));
  }

  #write(bytes: Buffer): void {
    if (!this.#o.socket.destroyed) this.#o.socket.write(bytes);
  }

  #end(reason: string, label: RtmpEndLabel): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const t of this.#timers) clearTimeout(t);
    // end() flushes a refusal before the FIN; destroy() after a grace period for stuck peers.
    this.#o.socket.end();
    const s = this.#o.socket;
    const kill = setTimeout(() => s.destroy(), 2000);
    s.once('close', () => clearTimeout(kill));
    this.emit('ended', reason, label);
  }
}
