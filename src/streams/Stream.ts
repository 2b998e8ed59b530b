/**
 * A stream: the tracks (mediasoup producers) one identity publishes in a room, wherever they come
 * from — an SDK peer, WHIP, SRT, the synthetic source, or a pull from another node. The
 * {@link StreamHub} creates it when the identity's first track appears and ends it when the last
 * one goes (or the room closes). Every output — SDK subscribe, WHEP, LL-HLS, the MoQ bridge —
 * consumes it through {@link Stream.consume}, the one place consumers are counted against their
 * router's budget (and refused past the worker limit), and lists itself with {@link Stream.attach}.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { InvalidStateError, NotFoundError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
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
  /** The output that consumes (`sdk`, `whep`, `hls`, `moq`…): `/v1/streams` counts the stream's consumers per output. */
  output: string;
  /** Start paused (resume once the receiver is ready; default true). */
  paused?: boolean;
  /** RTP capabilities of the receiver (default: the router's, for plain-RTP receivers such as ffmpeg). */
  rtpCapabilities?: types.RtpCapabilities;
  /** Stored on the consumer. */
  appData?: Record<string, unknown>;
  /** Preferred simulcast/SVC layers (video). */
  preferredLayers?: types.ConsumerLayers;
  /** Send retransmissions as RTX (WebRTC receivers that offered RTX). */
  enableRtx?: boolean;
  /** The receiver's MID for this track (sent in the MID header extension). */
  mid?: string;
  /**
   * A copy of the track on the transport's router when that router is not one of the room's
   * (WHEP's routers in the viewer's payload-type numbering): consumed instead of the track; the
   * consumer still counts against `slot`, the room router the copy was piped from.
   */
  copy?: types.Producer;
}

/** The consumers of a stream made through {@link Stream.consume}, counted by output and by track. */
export interface StreamConsumerCounts {
  total: number;
  /** Output name → open consumers. */
  byOutput: Record<string, number>;
  /** Track (producer) id → open consumers. */
  byTrack: Record<string, number>;
}

/** Limits of {@link Stream.consume}. */
export interface ConsumerLimits {
  /** Consumers a mediasoup worker may hold in all; one more is refused with CAPACITY (0 = no limit). */
  maxConsumersPerWorker: number;
}

/** One identity's tracks in one room. Created by the {@link StreamHub}. */
export class Stream extends EventEmitter<StreamEvents> {
  readonly room: Room;
  readonly identity: string;
  /** {@link streamKey} of the stream. */
  readonly key: string;
  readonly #outputs: OutputRegistry;
  readonly #limits: ConsumerLimits;
  /** Open consumers made through {@link consume}: consumer id → output and track. */
  readonly #consumers = new Map<string, { output: string; trackId: string }>();
  #endReason: string | undefined;

  /** @internal Created by the hub. */
  constructor(room: Room, identity: string, outputs: OutputRegistry, limits: ConsumerLimits = { maxConsumersPerWorker: 0 }) {
    super();
    this.room = room;
    this.identity = identity;
    this.key = streamKey(room.name, identity);
    this.#outputs = outputs;
    this.#limits = limits;
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
   * Consumes one track on `transport` (a transport of `slot`'s router, or of the router that
   * holds `options.copy`), counted against the slot's consumer budget and in the stream's
   * consumer counts until the consumer closes. Pipes the track to that router first when it was
   * published on another one. Refuses with CAPACITY when the slot's worker holds
   * `maxConsumersPerWorker` consumers already.
   */
  async consume(transport: types.Transport, slot: RouterSlot, track: types.Producer, options: ConsumeOptions): Promise<types.Consumer> {
    if (this.ended) throw new InvalidStateError(`stream ${this.identity} has ended`);
    const entry = this.room.getProducer(track.id);
    if (!entry || entry.participant.identity !== this.identity) throw new NotFoundError(`track ${track.id} is not part of stream ${this.identity}`);
    const max = this.#limits.maxConsumersPerWorker;
    if (max > 0 && slot.worker.consumers >= max) {
      throw new SubsecError(
        ErrorCode.CAPACITY,
        `this node's media worker ${slot.worker.index} is at its limit of ${max} consumers; try again later or another node`,
      );
    }
    // Counted before the first await, so concurrent consumers cannot overshoot the limit.
    const uncount = countOn(slot);
    let consumer: types.Consumer;
    try {
      if (!options.copy) await this.room.ensureOnRouter(track.id, slot);
      consumer = await transport.consume({
        producerId: options.copy?.id ?? track.id,
        rtpCapabilities: options.rtpCapabilities ?? slot.router.rtpCapabilities,
        paused: options.paused ?? true,
        ...(options.appData ? { appData: options.appData } : {}),
        ...(options.preferredLayers ? { preferredLayers: options.preferredLayers } : {}),
        ...(options.enableRtx !== undefined ? { enableRtx: options.enableRtx } : {}),
        ...(options.mid !== undefined ? { mid: options.mid } : {}),
      });
    } catch (err) {
      uncount();
      throw err;
    }
    this.#consumers.set(consumer.id, { output: options.output, trackId: track.id });
    consumer.observer.once('close', () => {
      uncount();
      this.#consumers.delete(consumer.id);
    });
    return consumer;
  }

  /** The open consumers made through {@link consume}, by output and by track. */
  consumerCounts(): StreamConsumerCounts {
    const byOutput: Record<string, number> = {};
    const byTrack: Record<string, number> = {};
    for (const { output, trackId } of this.#consumers.values()) {
      byOutput[output] = (byOutput[output] ?? 0) + 1;
      byTrack[trackId] = (byTrack[trackId] ?? 0) + 1;
    }
    return { total: this.#consumers.size, byOutput, byTrack };
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

/** Counts one consumer against a slot's budget (and its worker's); the result uncounts it once. */
function countOn(slot: RouterSlot): () => void {
  slot.consumers++;
  slot.worker.consumers++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    slot.consumers = Math.max(0, slot.consumers - 1);
    slot.worker.consumers = Math.max(0, slot.worker.consumers - 1);
  };
}
