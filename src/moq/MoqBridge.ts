/**
 * The SFU → MoQ bridge: every stream in every room (the producers of one participant identity)
 * is offered as a MoQ broadcast at `<prefix>/<room>/<identity>` on the in-process relay, in the
 * @moq/hang format, so MoQ players and relays downstream can watch any SFU stream.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import type { Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import type { Participant } from '../sfu/Room';
import type { Broadcast } from '../../relay/model/Broadcast';
import { joinPath } from '../../relay/Path';
import { StreamBridge } from './StreamBridge';

/** Publishes in-process broadcasts (the relay satisfies it). */
export interface BroadcastPublisher {
  publish(path: string): Broadcast;
}

/** Lists bridged streams as outputs (the node's OutputRegistry satisfies it). */
export interface OutputSink {
  register(r: { kind: string; room: string; identity: string; url?: string; stats?: () => Record<string, number | string | boolean> }): { close(): void };
}

/** Options of {@link MoqBridge}. */
export interface MoqBridgeOptions {
  rooms: RoomManager;
  relay: BroadcastPublisher;
  /** Path prefix for bridged broadcasts ('' = `<room>/<identity>`). */
  prefix: string;
  /** Where bridged streams are listed (`/v1/streams`), with the relay URL clients use. */
  outputs?: { sink: OutputSink; relayUrl: () => string };
  /** Called for each broadcast created (room events add their `events.json` track); the returned function runs when it ends. */
  onBroadcast?: (room: string, identity: string, broadcast: Broadcast) => (() => void) | undefined;
  log: Logger;
}

/** Watches rooms and bridges their streams. */
export class MoqBridge {
  readonly #o: MoqBridgeOptions;
  /** `${room}\0${identity}` → bridge. */
  readonly #streams = new Map<string, StreamBridge>();
  readonly #detach: Array<() => void> = [];
  #closed = false;

  constructor(options: MoqBridgeOptions) {
    this.#o = options;
  }

  /** The broadcast path of a stream. */
  pathOf(room: string, identity: string): string {
    return joinPath(this.#o.prefix, room, identity);
  }

  /** Bridges currently running. */
  get streams(): StreamBridge[] {
    return [...this.#streams.values()];
  }

  /** Starts watching existing and future rooms. */
  start(): void {
    const onRoom = (room: Room) => this.#watch(room);
    this.#o.rooms.on('roomCreated', onRoom);
    this.#detach.push(() => this.#o.rooms.off('roomCreated', onRoom));
    for (const room of this.#o.rooms.rooms) this.#watch(room);
  }

  /** Stops every bridge. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of this.#detach.splice(0)) d();
    for (const s of this.#streams.values()) s.close();
    this.#streams.clear();
  }

  #watch(room: Room): void {
    if (this.#closed) return;
    const onAdded = (producer: types.Producer, participant: Participant) => this.#add(room, producer, participant.identity);
    const onRemoved = (producerId: string, participant: Participant) => this.#remove(room, producerId, participant.identity);
    const onClosed = () => {
      room.off('producerAdded', onAdded);
      room.off('producerRemoved', onRemoved);
      for (const [key, s] of this.#streams) {
        if (key.startsWith(room.name + '\0')) {
          s.close();
          this.#streams.delete(key);
        }
      }
    };
    room.on('producerAdded', onAdded);
    room.on('producerRemoved', onRemoved);
    room.once('closed', onClosed);
    this.#detach.push(() => {
      room.off('producerAdded', onAdded);
      room.off('producerRemoved', onRemoved);
      room.off('closed', onClosed);
    });
    for (const info of room.producerInfos()) {
      const p = room.getProducer(info.producerId);
      if (p) this.#add(room, p.producer, info.identity);
    }
  }

  #add(room: Room, producer: types.Producer, identity: string): void {
    if (this.#closed || room.closed) return;
    const key = `${room.name}\0${identity}`;
    let stream = this.#streams.get(key);
    if (!stream) {
      const path = this.pathOf(room.name, identity);
      const broadcast = this.#o.relay.publish(path);
      const detach = this.#o.onBroadcast?.(room.name, identity, broadcast);
      if (detach) broadcast.once('closed', detach);
      const created = new StreamBridge({ room, identity, broadcast, log: this.#o.log });
      stream = created;
      this.#streams.set(key, created);
      const out = this.#o.outputs;
      if (out) {
        const handle = out.sink.register({
          kind: 'moq',
          room: room.name,
          identity,
          url: `${out.relayUrl()}/${path}`,
          stats: () => ({ broadcast: path, tracks: created.size }),
        });
        broadcast.once('closed', () => handle.close());
      }
    }
    stream.addProducer(producer).catch((err: unknown) => this.#o.log.warn('cannot bridge producer to MoQ', { room: room.name, identity, producer: producer.id, error: err }));
  }

  #remove(room: Room, producerId: string, identity: string): void {
    const key = `${room.name}\0${identity}`;
    const stream = this.#streams.get(key);
    if (!stream) return;
    stream.removeProducer(producerId);
    if (stream.size === 0) {
      stream.close();
      this.#streams.delete(key);
    }
  }
}
