/**
 * One track at this relay: a small cache of its latest groups and the fan-out point for every
 * downstream subscription. One upstream feed (or in-process producer) writes; many read.
 */
import { EventEmitter } from 'node:events';
import { StreamCode, StreamError } from '../errors';
import { Group, DEFAULT_GROUP_LIMITS, DEFAULT_TIMESCALE, type GroupLimits } from './Group';

/**
 * A track's immutable properties as moq-lite-05's TRACK_INFO carries them. A track fed by a
 * lite-05+ publisher takes the publisher's; any other track gets {@link defaultTrackProperties}.
 */
export interface TrackProperties {
  priority: number;
  ordered: boolean;
  /** How long a non-latest group is kept after a newer one starts (ms); 0 = unbounded. */
  latencyMax: number;
  /** Frame timestamp units per second. */
  timescale: number;
}

/** Properties of a track whose producer declared none: microsecond wall-clock timestamps. */
export function defaultTrackProperties(): TrackProperties {
  return { priority: 0, ordered: false, latencyMax: 0, timescale: DEFAULT_TIMESCALE };
}

/** Events of {@link Track}. */
export interface TrackEvents {
  /** A new group started (fan-out hook). */
  group: [group: Group];
  /** The track ended: cleanly (undefined) or with an error. */
  closed: [error: Error | undefined];
}

/** Options of {@link Track}. */
export interface TrackOptions {
  /** Groups kept for late joiners (≥ 1; default 2). */
  cacheGroups?: number;
  /** Per-group size limits. */
  groupLimits?: GroupLimits;
}

/** A track: producer API (`appendGroup`, `close`) and consumer API (`latest`, events). */
export class Track extends EventEmitter<TrackEvents> {
  readonly name: string;
  readonly #cacheGroups: number;
  readonly #groupLimits: GroupLimits;
  /** Cached groups, ascending by sequence. */
  readonly #cache: Group[] = [];
  #nextSequence = 0;
  #properties: TrackProperties = defaultTrackProperties();
  #closed = false;
  #error: Error | undefined;

  constructor(name: string, options: TrackOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.name = name;
    this.#cacheGroups = Math.max(1, options.cacheGroups ?? 2);
    this.#groupLimits = options.groupLimits ?? DEFAULT_GROUP_LIMITS;
  }

  /** The track's properties (TRACK_INFO). */
  get properties(): TrackProperties {
    return this.#properties;
  }

  /** Sets the properties the upstream publisher declared; only before the first group. */
  setProperties(properties: TrackProperties): void {
    if (this.#nextSequence > 0 || this.#cache.length > 0) throw new StreamError(StreamCode.INTERNAL, `track ${this.name} already has groups`);
    this.#properties = { ...properties };
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The close reason, if the track failed. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** The newest cached group (a late joiner starts here: its first frame is a keyframe). */
  latest(): Group | undefined {
    return this.#cache.at(-1);
  }

  /** The cached group with `sequence`, if still cached. */
  cached(sequence: number): Group | undefined {
    return this.#cache.find((g) => g.sequence === sequence);
  }

  /**
   * Starts a group (default: the next sequence). Groups may arrive out of order from
   * upstream; one older than everything cached is still delivered live but not cached.
   */
  appendGroup(sequence = this.#nextSequence): Group {
    if (this.#closed) throw new StreamError(StreamCode.INTERNAL, `track ${this.name} is closed`);
    const group = new Group(sequence, this.#groupLimits);
    this.#nextSequence = Math.max(this.#nextSequence, sequence + 1);
    let i = this.#cache.length;
    while (i > 0 && this.#cache[i - 1]!.sequence > sequence) i--;
    if (this.#cache[i - 1]?.sequence === sequence) {
      this.#cache[i - 1]!.abort(new StreamError(StreamCode.OLD, `group ${sequence} replaced`));
      this.#cache.splice(i - 1, 1, group);
    } else {
      this.#cache.splice(i, 0, group);
    }
    while (this.#cache.length > this.#cacheGroups) {
      const evicted = this.#cache.shift()!;
      // A still-open evicted group stays readable by pumps holding it; it is just not cached.
      if (evicted === group) break;
    }
    this.emit('group', group);
    return group;
  }

  /**
   * Forgets the cached groups, so a late joiner waits for the next group instead of starting at
   * stale media (an in-process producer that paused). Readers of those groups read on.
   */
  clearCache(): void {
    this.#cache.length = 0;
  }

  /** Ends the track (and any open group). Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    for (const g of this.#cache) {
      if (error) g.abort(error);
      else g.finish();
    }
    this.emit('closed', error);
  }
}
