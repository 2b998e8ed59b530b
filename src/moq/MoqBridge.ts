/**
 * The SFU → MoQ bridge, an output of the stream hub: every stream (the tracks of one identity in
 * a room) is announced as a MoQ broadcast at `<prefix>/<room>/<identity>` on the in-process relay,
 * in the @moq/hang format, so MoQ players and relays downstream can watch any SFU stream. The SFU
 * is consumed on demand: only while a MoQ subscriber holds one of the broadcast's tracks.
 */
import type { Logger } from '../core/logger';
import type { Broadcast } from '../../relay/model/Broadcast';
import { joinPath } from '../../relay/Path';
import type { Stream } from '../streams/Stream';
import type { StreamHub } from '../streams/StreamHub';
import { StreamBridge } from './StreamBridge';

/** Publishes in-process broadcasts (the relay satisfies it). */
export interface BroadcastPublisher {
  publish(path: string): Broadcast;
}

/** Options of {@link MoqBridge}. */
export interface MoqBridgeOptions {
  /** The streams to bridge: every stream of the hub, as it starts. */
  streams: Pick<StreamHub, 'on' | 'off' | 'list'>;
  relay: BroadcastPublisher;
  /** Path prefix for bridged broadcasts ('' = `<room>/<identity>`). */
  prefix: string;
  /** The relay URL clients use (bridged streams are listed in `/v1/streams` with it). */
  relayUrl: () => string;
  /** Called for each broadcast created (room events add their `events.json` track); the returned function runs when it ends. */
  onBroadcast?: (room: string, identity: string, broadcast: Broadcast) => (() => void) | undefined;
  log: Logger;
}

/** Bridges the hub's streams. */
export class MoqBridge {
  readonly #o: MoqBridgeOptions;
  readonly #streams = new Map<Stream, StreamBridge>();
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

  /** Starts bridging existing and future streams. */
  start(): void {
    const onStream = (stream: Stream) => this.#bridge(stream);
    this.#o.streams.on('streamStarted', onStream);
    this.#detach.push(() => this.#o.streams.off('streamStarted', onStream));
    for (const stream of this.#o.streams.list()) this.#bridge(stream);
  }

  /** Stops every bridge. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of this.#detach.splice(0)) d();
    for (const s of this.#streams.values()) s.close();
    this.#streams.clear();
  }

  #bridge(stream: Stream): void {
    if (this.#closed || stream.ended || this.#streams.has(stream)) return;
    const { room, identity } = stream;
    const path = this.pathOf(room.name, identity);
    const broadcast = this.#o.relay.publish(path);
    const detach = this.#o.onBroadcast?.(room.name, identity, broadcast);
    if (detach) broadcast.once('closed', detach);
    const bridge = new StreamBridge({ stream, broadcast, log: this.#o.log });
    this.#streams.set(stream, bridge);
    const handle = stream.attach({
      kind: 'moq',
      url: `${this.#o.relayUrl()}/${path}`,
      start: async () => undefined,
      close: () => bridge.close(),
      stats: () => ({ broadcast: path, tracks: bridge.size, active: bridge.active }),
    });
    broadcast.once('closed', () => handle.close());
    const add = (track: Stream['tracks'][number]) =>
      bridge
        .addProducer(track)
        .catch((err: unknown) => this.#o.log.warn('cannot bridge producer to MoQ', { room: room.name, identity, producer: track.id, error: err }));
    for (const track of stream.tracks) void add(track);
    stream.on('trackAdded', (track) => void add(track));
    stream.on('trackRemoved', (id) => bridge.removeProducer(id));
    stream.once('ended', () => {
      bridge.close();
      if (this.#streams.get(stream) === bridge) this.#streams.delete(stream);
    });
  }
}
