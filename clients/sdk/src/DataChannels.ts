/**
 * Data messages of one connection over SCTP: a lazily created data producer for `sendData()` and
 * automatic data consumers for other peers' data producers.
 *
 * Encoding: strings are sent as they are, objects as JSON text, binary as binary. On receipt a
 * text message that parses as a JSON object or array is delivered parsed, any other text as a
 * string, binary as an ArrayBuffer.
 */
import type { DataConsumer, DataProducer } from 'mediasoup-client/types';
import type { DataProducerInfo } from '../../../src/protocol/signaling';
import { SubsecError, TimeoutError, toSubsecError } from './errors';
import type { NodeConnection } from './NodeConnection';

/** A data message from another peer. */
export interface DataMessage {
  /** Peer id of the sender. */
  peerId: string;
  /** Identity of the sender, when known. */
  identity?: string;
  /** Label of the sender's data producer ('chat' for the SDK's own). */
  label: string;
  /** The payload: parsed JSON object/array, string, or ArrayBuffer. */
  data: unknown;
}

/** What a client may send with `sendData()`. */
export type DataPayload = string | object | ArrayBuffer | ArrayBufferView;

/** Options of {@link DataChannels}. */
export interface DataChannelsOptions {
  /** Label of the data producer used for sending. */
  label: string;
  /** Whether to consume other peers' data producers. */
  autoConsume: boolean;
  /** Time to wait for the data channel to open, in ms. */
  openTimeoutMs: number;
  /** Own peer id (its data producers are not consumed). */
  selfPeerId: string;
  /** Looks up a peer's identity. */
  identityOf: (peerId: string) => string | undefined;
  /** Receives each message. */
  onMessage: (message: DataMessage) => void;
  /** Receives non-fatal failures. */
  onError: (error: SubsecError) => void;
}

/** SDK-created data producers say so in their protocol field. */
const PROTOCOL = 'subsec-json';

function decode(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  const first = data.trimStart()[0];
  if (first !== '{' && first !== '[') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

function encode(data: DataPayload): string | ArrayBuffer | ArrayBufferView {
  if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data;
  if (data === null || typeof data !== 'object') throw new TypeError('sendData expects a string, object or binary');
  return JSON.stringify(data);
}

function byteLength(payload: string | ArrayBuffer | ArrayBufferView): number {
  return typeof payload === 'string' ? new TextEncoder().encode(payload).length : payload.byteLength;
}

/** Data messaging of one connection. */
export class DataChannels {
  readonly #connection: NodeConnection;
  readonly #options: DataChannelsOptions;
  readonly #consumers = new Map<string, DataConsumer>();
  #producer?: Promise<DataProducer>;
  #closed = false;

  constructor(connection: NodeConnection, options: DataChannelsOptions) {
    this.#connection = connection;
    this.#options = options;
  }

  /**
   * Consumes the data producers that existed at join and, with `createProducer`, creates this
   * client's own data producer now: the node only forwards to data consumers that exist, so a
   * producer created on the first send would lose that message for every peer.
   */
  start(existing: readonly DataProducerInfo[], createProducer: boolean): void {
    for (const info of existing) this.add(info);
    if (createProducer) {
      this.#dataProducer().catch((error: unknown) => {
        if (this.#closed || this.#connection.closed) return;
        const wrapped = toSubsecError(error);
        this.#options.onError(new SubsecError(wrapped.code, `creating the data producer: ${wrapped.message}`, { type: 'data', cause: error }));
      });
    }
  }

  /** A data producer appeared. */
  add(info: DataProducerInfo): void {
    if (this.#closed || !this.#options.autoConsume || info.peerId === this.#options.selfPeerId) return;
    if (this.#consumers.has(info.dataProducerId)) return;
    void this.#consume(info);
  }

  /** A data producer closed. */
  remove(dataProducerId: string): void {
    this.#consumers.get(dataProducerId)?.close();
    this.#consumers.delete(dataProducerId);
  }

  /** Sends one message to every peer consuming this client's data producer. */
  async send(data: DataPayload): Promise<void> {
    const payload = encode(data);
    const size = byteLength(payload);
    if (size > this.#connection.maxMessageSize) {
      throw new SubsecError('PAYLOAD_TOO_LARGE', `data message of ${size} bytes exceeds ${this.#connection.maxMessageSize}`, {
        type: 'data',
      });
    }
    const producer = await this.#dataProducer();
    if (producer.readyState !== 'open') await this.#waitOpen(producer);
    try {
      // The DOM typings of RTCDataChannel.send take the union only through overloads.
      producer.send(payload as string);
    } catch (error) {
      throw toSubsecError(error, 'MEDIA_ERROR');
    }
  }

  /** Closes the data producer and consumers (the transports closing does the same; idempotent). */
  close(): void {
    this.#closed = true;
    for (const consumer of this.#consumers.values()) consumer.close();
    this.#consumers.clear();
    this.#producer?.then((p) => p.close()).catch(() => undefined);
  }

  #dataProducer(): Promise<DataProducer> {
    if (!this.#producer) {
      const promise = this.#connection.produceData(this.#options.label, PROTOCOL);
      this.#producer = promise;
      promise.catch(() => {
        if (this.#producer === promise) this.#producer = undefined;
      });
    }
    return this.#producer;
  }

  #waitOpen(producer: DataProducer): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`data channel did not open within ${this.#options.openTimeoutMs} ms`));
      }, this.#options.openTimeoutMs);
      const onOpen = (): void => {
        cleanup();
        resolve();
      };
      const onGone = (): void => {
        cleanup();
        reject(new SubsecError('CONNECTION_LOST', 'data channel closed before opening'));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        producer.off('open', onOpen);
        producer.off('close', onGone);
        producer.off('transportclose', onGone);
      };
      producer.on('open', onOpen);
      producer.on('close', onGone);
      producer.on('transportclose', onGone);
    });
  }

  async #consume(info: DataProducerInfo): Promise<void> {
    try {
      const consumer = await this.#connection.consumeData(info.dataProducerId);
      if (this.#closed) {
        consumer.close();
        return;
      }
      consumer.binaryType = 'arraybuffer';
      this.#consumers.set(info.dataProducerId, consumer);
      consumer.on('message', (data: unknown) => {
        const identity = this.#options.identityOf(info.peerId);
        this.#options.onMessage({
          peerId: info.peerId,
          ...(identity === undefined ? {} : { identity }),
          label: info.label,
          data: decode(data),
        });
      });
      consumer.on('close', () => this.#consumers.delete(info.dataProducerId));
    } catch (error) {
      if (this.#closed || this.#connection.closed) return;
      const wrapped = toSubsecError(error);
      // The producer may have closed between the notification and the request.
      if (wrapped.code === 'NOT_FOUND') return;
      this.#options.onError(new SubsecError(wrapped.code, `consuming data of peer ${info.peerId}: ${wrapped.message}`, { type: 'data', cause: error }));
    }
  }
}
