/**
 * Starts a rung that joins a running ladder on one of the reference rung's segment boundaries,
 * with the reference's Media Sequence Number there. Both rungs carry the source's keyframes on
 * the same decode-time line (TimelineAligner) and cut segments by the same rule, so from a shared
 * first boundary every later boundary and number matches too — which players need: hls.js picks
 * the fragment after a level switch by sequence number, and rendition reports name MSNs.
 *
 * The follower's (already aligned) fragments are held while the reference has not yet reached
 * their time; a keyframe the reference passed without cutting there is dropped with its GOP.
 */
import type { Mp4Box, Mp4Init } from '../Mp4BoxReader';
import { parseInit } from '../Mp4BoxReader';
import type { Packager } from '../Packager';
import { videoFrame } from './TimelineAligner';

/** Media-time tolerance (s) for "the same boundary": both rungs' decode times are exact ticks. */
const SAME_TIME = 0.001;
/** Boxes held while waiting for the reference (~20 s at 30 fps, moof + mdat each). */
const MAX_HELD = 1200;

interface Held {
  box: Mp4Box;
  /** Set on a keyframe moof: its decode time (s). */
  keyAt?: number;
}

/** The gate in front of one follower rung's packager. */
export class SegmentGate {
  readonly #reference: Packager;
  readonly #follower: Packager;
  readonly #emit: (box: Mp4Box) => void;
  readonly #held: Held[] = [];
  readonly #onReferencePart = () => this.#resolve();
  #init: Mp4Init | undefined;
  #started = false;
  /** Dropping a GOP (its moofs and mdats) that cannot start the rung. */
  #skipping = false;

  constructor(reference: Packager, follower: Packager, emit: (box: Mp4Box) => void) {
    this.#reference = reference;
    this.#follower = follower;
    this.#emit = emit;
    reference.on('part', this.#onReferencePart);
  }

  /** True once the rung started on a reference boundary (everything passes from then on). */
  get started(): boolean {
    return this.#started;
  }

  /** Takes the follower's next box (shifted onto the reference's timeline). */
  push = (box: Mp4Box): void => {
    if (this.#started) {
      this.#emit(box);
      return;
    }
    if (box.type === 'moov') this.#init = parseInit(box.data);
    if (box.type !== 'moof' && box.type !== 'mdat') {
      this.#emit(box); // ftyp, moov…: no timing in them
      return;
    }
    if (box.type === 'moof') {
      const frame = this.#init && videoFrame(box.data, this.#init);
      if (frame?.key) {
        this.#skipping = false;
        this.#held.push({ box, keyAt: frame.ticks / frame.timescale });
      } else if (this.#held.length === 0) {
        this.#skipping = true; // not started and no keyframe held: this GOP cannot start the rung
      }
      if (this.#skipping) return;
      if (!frame?.key) this.#held.push({ box });
    } else if (!this.#skipping) {
      this.#held.push({ box });
    }
    while (this.#held.length > MAX_HELD) this.#dropFirstGop();
    this.#resolve();
  };

  /** Stops listening to the reference. */
  close(): void {
    this.#reference.off('part', this.#onReferencePart);
    this.#held.length = 0;
  }

  #resolve(): void {
    while (!this.#started && this.#held.length > 0) {
      const at = this.#held[0]!.keyAt!;
      const boundary = this.#reference.segments.find((s) => Math.abs(s.startTime - at) < SAME_TIME);
      if (boundary) {
        this.#follower.numberFrom(boundary.msn);
        this.#started = true;
        this.#reference.off('part', this.#onReferencePart);
        for (const h of this.#held.splice(0)) this.#emit(h.box);
        return;
      }
      // The reference has not read this keyframe yet: wait for it.
      if (this.#reference.mediaEnd <= at + SAME_TIME) return;
      this.#dropFirstGop(); // the reference passed this keyframe without a boundary there
    }
  }

  /** Drops the first held keyframe and everything up to the next one. */
  #dropFirstGop(): void {
    let next = this.#held.findIndex((h, i) => i > 0 && h.keyAt !== undefined);
    if (next < 0) {
      next = this.#held.length;
      this.#skipping = true; // the rest of this GOP is still to come
    }
    this.#held.splice(0, next);
  }
}
