/**
 * A broadcast at this relay: a path and its tracks. Tracks are either static (an in-process
 * publisher writes them continuously, so their cache is always warm) or fetched on demand from
 * the broadcast's {@link BroadcastSource} (a publishing session or an upstream relay): the first
 * downstream subscriber opens one upstream subscription, later ones share it, and it closes a
 * short linger after the last one leaves. Leases on static tracks are counted too, so an
 * in-process publisher can write only while someone watches (the `demand` event).
 */
import { EventEmitter } from 'node:events';
import { StreamCode, StreamError } from '../errors';
import { Track, type TrackOptions } from './Track';

/** A running upstream feed of one track; `close()` unsubscribes. */
export interface TrackFeed {
  close(): void;
}

/** Where a broadcast's on-demand tracks come from. */
export interface BroadcastSource {
  /** A label for logs ('session 12', 'upstream ws://…'). */
  readonly label: string;
  /**
   * Starts writing `track`'s groups; resolves once the upstream accepted. Rejects with a
   * {@link StreamError} (e.g. NOT_FOUND) when the track does not exist.
   */
  subscribe(path: string, track: Track, priority: number): Promise<TrackFeed>;
}

/** A downstream hold on a track; `release()` once done. */
export interface TrackLease {
  readonly track: Track;
  release(): void;
}

interface DynamicEntry {
  track: Track;
  ready: Promise<void>;
  feed: TrackFeed | undefined;
  refs: number;
  linger: NodeJS.Timeout | undefined;
}

/** Events of {@link Broadcast}. */
export interface BroadcastEvents {
  closed: [];
  /**
   * The static tracks gained their first downstream lease (true), or lost their last one a
   * linger ago (false): an in-process publisher may write only while they are wanted.
   */
  demand: [wanted: boolean];
}

/** Options of {@link Broadcast}. */
export interface BroadcastOptions {
  path: string;
  /** Where on-demand tracks come from (none: only static tracks exist). */
  source?: BroadcastSource;
  /** Origin ids the announcement passed through (moq-lite-04 hop chain). */
  hops?: bigint[];
  /** How long an unused on-demand track stays subscribed upstream (ms). */
  lingerMs?: number;
  /** Options for every track of this broadcast. */
  trackOptions?: TrackOptions;
}

/** One broadcast. */
export class Broadcast extends EventEmitter<BroadcastEvents> {
  readonly path: string;
  readonly hops: readonly bigint[];
  readonly source: BroadcastSource | undefined;
  readonly #lingerMs: number;
  readonly #trackOptions: TrackOptions;
  readonly #static = new Map<string, Track>();
  readonly #dynamic = new Map<string, DynamicEntry>();
  /** Downstream leases held on static tracks. */
  #staticLeases = 0;
  #wanted = false;
  #idle: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: BroadcastOptions) {
    super();
    this.path = options.path;
    this.source = options.source;
    this.hops = options.hops ?? [];
    this.#lingerMs = options.lingerMs ?? 2000;
    this.#trackOptions = options.trackOptions ?? {};
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Names of tracks currently held (static and on-demand). */
  get trackNames(): string[] {
    return [...this.#static.keys(), ...this.#dynamic.keys()];
  }

  /** True while a downstream subscriber holds one of the static tracks (or did within the linger). */
  get wanted(): boolean {
    return this.#wanted;
  }

  /** Creates a static track written in-process (replacing one of the same name). */
  createTrack(name: string): Track {
    if (this.#closed) throw new StreamError(StreamCode.NOT_FOUND, `broadcast ${this.path} is closed`);
    this.#static.get(name)?.close();
    const track = new Track(name, this.#trackOptions);
    this.#static.set(name, track);
    return track;
  }

  /** Removes a static track, ending it for its subscribers. */
  removeTrack(name: string): void {
    const t = this.#static.get(name);
    if (!t) return;
    this.#static.delete(name);
    t.close();
  }

  /**
   * Holds a track for a downstream subscriber: a static track directly, otherwise the shared
   * on-demand subscription (opened upstream on first use). Rejects with NOT_FOUND.
   */
  async acquire(name: string, priority: number): Promise<TrackLease> {
    if (this.#closed) throw new StreamError(StreamCode.NOT_FOUND, `broadcast ${this.path} is closed`);
    const local = this.#static.get(name);
    if (local) return { track: local, release: this.#holdStatic() };
    const source = this.source;
    if (!source) throw new StreamError(StreamCode.NOT_FOUND, `track ${name} not found in ${this.path}`);
    let entry = this.#dynamic.get(name);
    if (!entry || entry.track.closed) {
      const track = new Track(name, this.#trackOptions);
      const created: DynamicEntry = { track, ready: Promise.resolve(), feed: undefined, refs: 0, linger: undefined };
      created.ready = source.subscribe(this.path, track, priority).then(
        (feed) => {
          created.feed = feed;
          if (track.closed || this.#closed) feed.close();
        },
        (err: unknown) => {
          track.close(err instanceof Error ? err : new Error(String(err)));
          throw err;
        },
      );
      track.once('closed', () => {
        clearTimeout(created.linger);
        if (this.#dynamic.get(name) === created) this.#dynamic.delete(name);
        created.feed?.close();
      });
      this.#dynamic.set(name, created);
      entry = created;
    }
    const held = entry;
    held.refs++;
    clearTimeout(held.linger);
    held.linger = undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs > 0 || held.track.closed) return;
      held.linger = setTimeout(() => held.track.close(), this.#lingerMs);
      held.linger.unref?.();
    };
    try {
      await held.ready;
    } catch (err) {
      release();
      throw err;
    }
    return { track: held.track, release };
  }

  /** Counts a lease on a static track (announcing demand on the first); returns its release. */
  #holdStatic(): () => void {
    this.#staticLeases++;
    clearTimeout(this.#idle);
    this.#idle = undefined;
    if (!this.#wanted) {
      this.#wanted = true;
      this.emit('demand', true);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#staticLeases--;
      if (this.#staticLeases > 0 || this.#closed) return;
      this.#idle = setTimeout(() => {
        this.#idle = undefined;
        if (this.#staticLeases > 0 || this.#closed || !this.#wanted) return;
        this.#wanted = false;
        this.emit('demand', false);
      }, this.#lingerMs);
      this.#idle.unref?.();
    };
  }

  /** Ends the broadcast and every track. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idle);
    for (const t of this.#static.values()) t.close();
    for (const e of this.#dynamic.values()) e.track.close(new StreamError(StreamCode.CANCELLED, 'broadcast ended'));
    this.#static.clear();
    this.#dynamic.clear();
    this.emit('closed');
  }
}
