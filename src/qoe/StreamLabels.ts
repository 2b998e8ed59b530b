/**
 * Bounded stream labels: the first `maxStreams` streams (room + publisher identity) to show
 * activity get their own `{room, stream}` label values and plots; further ones are folded into
 * one `other` stream until an idle stream is evicted and frees its place. Labels are assigned
 * first come rather than top-N so a counter never jumps between two label sets.
 */

/** A stream as metrics and plots name it. */
export interface StreamLabel {
  /** `${room}/${stream}`, or `other`. */
  readonly key: string;
  readonly room: string;
  /** The publisher identity, or `other`. */
  readonly stream: string;
}

/** The label every stream beyond the limit shares. */
export const OTHER_STREAM: StreamLabel = Object.freeze({ key: 'other', room: 'other', stream: 'other' });

/** The label table. */
export class StreamLabels {
  readonly #max: number;
  readonly #labels = new Map<string, { label: StreamLabel; lastActiveMs: number }>();

  /** `maxStreams`: labels besides `other`. */
  constructor(maxStreams: number) {
    this.#max = maxStreams;
  }

  /** The label of a stream, assigning one when there is room; marks it active. */
  label(room: string, stream: string, nowMs: number): StreamLabel {
    const key = `${room}/${stream}`;
    const entry = this.#labels.get(key);
    if (entry) {
      entry.lastActiveMs = nowMs;
      return entry.label;
    }
    if (this.#labels.size >= this.#max) return OTHER_STREAM;
    const label: StreamLabel = Object.freeze({ key, room, stream });
    this.#labels.set(key, { label, lastActiveMs: nowMs });
    return label;
  }

  /** The label of a stream if it has one (does not assign or mark). */
  get(room: string, stream: string): StreamLabel | undefined {
    return this.#labels.get(`${room}/${stream}`)?.label;
  }

  /** Marks a labelled stream active (a viewer or producer is still there). */
  touch(key: string, nowMs: number): void {
    const entry = this.#labels.get(key);
    if (entry) entry.lastActiveMs = nowMs;
  }

  /** Removes and returns the labels not active for `idleMs`. */
  evictIdle(nowMs: number, idleMs: number): StreamLabel[] {
    const out: StreamLabel[] = [];
    for (const [key, entry] of this.#labels) {
      if (nowMs - entry.lastActiveMs < idleMs) continue;
      this.#labels.delete(key);
      out.push(entry.label);
    }
    return out;
  }

  /** Every assigned label. */
  list(): StreamLabel[] {
    return [...this.#labels.values()].map((e) => e.label);
  }

  /** Number of assigned labels (without `other`). */
  get size(): number {
    return this.#labels.size;
  }
}

/** Keeps the first `max` distinct values of a label and maps the rest to `other` (reasons, renditions). */
export class BoundedValues {
  readonly #max: number;
  readonly #seen = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  /** `value` itself while there is room or it was seen before; else `other`. */
  map(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return 'other';
    this.#seen.add(value);
    return value;
  }

  /** Values given a place so far. */
  get values(): string[] {
    return [...this.#seen];
  }
}
