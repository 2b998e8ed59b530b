/**
 * A stream: the tracks (mediasoup producers) one identity publishes in a room, wherever they come
 * from — an SDK peer, WHIP, SRT, the synthetic source, or a pull from another node. The
 * {@link StreamHub} creates it when the identity's first track appears and ends it when the last
 * one goes (or the room closes). Outputs consume it through {@link Stream.consume}, which counts
 * each consumer against its router's budget, and list themselves with {@link Stream.attach}.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { InvalidStateError, NotFoundError } from '../core/errors';
import type { Room, RouterSlot } from '../sfu/Room';
import type { OutputHandle, OutputRegistry } from './OutputRegistry';
import type { Output } from './Output';
import { RemoteParticipant } from './RemoteParticipant';

/** The one key of a stream in maps (room names and identities cannot contain NUL). */
export function streamKey(room: string, identity: string): string {
  return `${room}\u0000${identity}`;
}

/** The room of a {@link streamKey}. */
export function roomOfKey(key: string): string {
  return key.split('\u0000')[0]!;
}

/** Where a stream's media comes from: published on this node, or pulled from `node` (lease `epoch`). */
export type StreamOrigin = { type: 'local' } | { type: 'remote'; node: string; epoch: number };

/** Events of {@link Stream}. */
export interface StreamEvents {
  /** A track (producer) joined the stream after its first one. */
  trackAdded: [track: types.Producer];
  /** A track left the stream (the stream may live on with others). */
  trackRemoved: [trackId: string];
  /** The stream ended: its last track left or its room closed. Fires once. */
  ended: [reason: string];
}

/** Options of {@link Stream.consume}. */
export interface ConsumeOptions {
  /** Start paused (resume once the receiver is ready; default true). */
  paused?: boolean;
  /** RTP capabilities of the receiver (default: the router's, for plain-RTP receivers such as ffmpeg). */
  rtpCapabilities?: types.RtpCapabilities;
  /** Stored on the consumer (`type` names the output in `/v1/streams` consumer counts). */
  appData?: Record<string, unknown>;
}

/** One identity's tracks in one room. Created by the {@link StreamHub}. */
export class Stream extends EventEmitter<StreamEvents> {
  readonly room: Room;
  readonly identity: string;
  /** {@link streamKey} of the stream. */
  readonly key: string;
  readonly #outputs: OutputRegistry;
  #endReason: string | undefined;

  /** @internal Created by the hub. */
  constructor(room: Room, identity: string, outputs: OutputRegistry) {
    super();
    this.room = room;
    this.identity = identity;
    this.key = streamKey(room.name, identity);
    this.#outputs = outputs;
  }

  /** The open tracks, in the order they were published. */
  get tracks(): types.Producer[] {
    if (this.room.closed) return [];
    return this.room.producersOf(this.identity).filter((p) => !p.closed);
  }

  /** The first open track of a kind. */
  track(kind: 'audio' | 'video'): types.Producer | undefined {
    return this.tracks.find((p) => p.kind === kind);
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#endReason !== undefined;
  }

  /** Why it ended, once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** Where the media comes from (the cascade pulls remote streams; nothing else needs to know). */
  get origin(): StreamOrigin {
    for (const t of this.tracks) {
      const p = this.room.getProducer(t.id)?.participant;
      if (p instanceof RemoteParticipant) return { type: 'remote', node: p.origin, epoch: p.epoch };
    }
    return { type: 'local' };
  }

  /** The router the track `producerId` was published on (consumers there need no pipe). */
  slotOf(producerId: string): RouterSlot {
    const entry = this.room.getProducer(producerId);
    if (!entry || entry.participant.identity !== this.identity) throw new NotFoundError(`track ${producerId} is not part of stream ${this.identity}`);
    return this.room.slotOf(entry.participant.id);
  }

  /**
   * Consumes one track on `transport` (a transport of `slot`'s router), counted against the
   * slot's consumer budget until the consumer closes. Pipes the track to that router first when
   * it was published on another one.
   */
  async consume(transport: types.Transport, slot: RouterSlot, track: types.Producer, options: ConsumeOptions = {}): Promise<types.Consumer> {
    if (this.ended) throw new InvalidStateError(`stream ${this.identity} has ended`);
    await this.room.ensureOnRouter(track.id, slot);
    const consumer = await transport.consume({
      producerId: track.id,
      rtpCapabilities: options.rtpCapabilities ?? slot.router.rtpCapabilities,
      paused: options.paused ?? true,
      ...(options.appData ? { appData: options.appData } : {}),
    });
    const uncount = this.countConsumer(slot);
    consumer.observer.once('close', uncount);
    return consumer;
  }

  /** Counts one consumer against `slot`'s budget by hand (for consumers made elsewhere); call the result when it closes. */
  countConsumer(slot: RouterSlot): () => void {
    return this.room.countConsumer(slot);
  }

  /** Lists an output of this stream in `/v1/streams` until the handle is closed (or the output ends). */
  attach(output: Output): OutputHandle {
    return this.#outputs.register({
      kind: output.kind,
      room: this.room.name,
      identity: this.identity,
      ...(output.url ? { url: output.url } : {}),
      stats: () => output.stats(),
    });
  }

  /** @internal The hub ends the stream. */
  end(reason: string): void {
    if (this.#endReason !== undefined) return;
    this.#endReason = reason;
    this.emit('ended', reason);
    this.removeAllListeners();
  }
}
