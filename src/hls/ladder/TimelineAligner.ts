/**
 * Puts a rung started later (its own ffmpeg, its own RTP consumer, so its own time zero) on the
 * decode-time line of the ladder's reference rung, so players switch between them and the audio
 * without a jump. Every rung keeps the source's keyframes (`-force_key_frames source`) and the
 * same 90 kHz timescale, so the right shift is an exact number of ticks: the difference between
 * the follower's first keyframe and the same keyframe in the reference. Which reference keyframe
 * that is comes from a rough estimate: once the follower has run `SETTLE_MS` (past ffmpeg's
 * start-up burst: it probes a second of input, then catches up), the smallest difference between
 * the reference's decode time and the follower's at the same wall-clock moment is the shift up to
 * the two pipelines' latency difference (tens of ms); the reference keyframe that gives the
 * nearest exact shift is the one (keyframes are at least a quarter second apart). The shift is
 * then added to every fragment's `tfdt` before the packager sees it.
 */
import { childBoxes, parseInit, parseMoof, type Mp4Box, type Mp4Init } from '../Mp4BoxReader';

/** A frame of the reference: its decode time (ticks), when it was read (ms), and whether it is a keyframe. */
interface RefFrame {
  ticks: number;
  at: number;
  key: boolean;
}

/** Reference frames remembered (~20 s at 30 fps). */
const KEPT_FRAMES = 600;
/** The follower's frames are compared with the reference for this long after its first keyframe (ms). */
const SETTLE_MS = 1500;
/** Boxes a follower may hold while it is being aligned. */
const MAX_QUEUED = 1200;

/** Adds `delta` ticks to the base media decode time of every track fragment of a `moof` (a copy). */
export function shiftTfdt(moof: Buffer, delta: number): Buffer {
  const out = Buffer.from(moof);
  const top = childBoxes(out, 0, out.length).find((b) => b.type === 'moof');
  if (!top) throw new Error('not a moof box');
  for (const traf of childBoxes(out, top.body, top.end)) {
    if (traf.type !== 'traf') continue;
    const tfdt = childBoxes(out, traf.body, traf.end).find((b) => b.type === 'tfdt');
    if (!tfdt) continue;
    if (out[tfdt.body] === 1) {
      const v = out.readBigUInt64BE(tfdt.body + 4) + BigInt(delta);
      if (v < 0n) throw new Error('shifted decode time below zero');
      out.writeBigUInt64BE(v, tfdt.body + 4);
    } else {
      const v = out.readUInt32BE(tfdt.body + 4) + delta;
      if (v < 0 || v > 0xffffffff) throw new Error('shifted decode time out of a version-0 tfdt');
      out.writeUInt32BE(v, tfdt.body + 4);
    }
  }
  return out;
}

/** The video fragment of a moof: decode time, timescale and whether it starts with a keyframe. */
export function videoFrame(moof: Buffer, init: Mp4Init): { ticks: number; timescale: number; key: boolean } | undefined {
  const video = init.tracks.find((t) => t.kind === 'video');
  if (!video) return undefined;
  const f = parseMoof(moof, init).tracks.find((t) => t.trackId === video.id);
  return f ? { ticks: f.baseDecodeTime, timescale: video.timescale, key: f.startsWithSync } : undefined;
}

/** One stream's timeline: the reference rung's frames and the followers aligned to them. */
export class TimelineAligner {
  readonly #frames: RefFrame[] = [];
  #init: Mp4Init | undefined;
  #timescale: number | undefined;

  /** Observes a box of the reference rung (passed on unchanged). */
  observeReference(box: Mp4Box, now = Date.now()): void {
    if (box.type === 'moov') {
      this.#init = parseInit(box.data);
      return;
    }
    if (box.type !== 'moof' || !this.#init) return;
    const f = videoFrame(box.data, this.#init);
    if (!f) return;
    this.#timescale = f.timescale;
    this.#frames.push({ ticks: f.ticks, at: now, key: f.key });
    if (this.#frames.length > KEPT_FRAMES) this.#frames.shift();
  }

  /** The reference's decode time reached at wall-clock `at` (its latest frame read by then). */
  #refTicksAt(at: number): number | undefined {
    for (let i = this.#frames.length - 1; i >= 0; i--) if (this.#frames[i]!.at <= at) return this.#frames[i]!.ticks;
    return undefined;
  }

  /**
   * A filter for a follower rung's boxes: `push(box)` hands them to `emit` once aligned (queued
   * until the shift is known; fragments before the first keyframe are dropped; ftyp/moov pass at
   * once). `offset()` is the shift in ticks once known.
   */
  follower(emit: (box: Mp4Box) => void, now: () => number = Date.now): { push: (box: Mp4Box) => void; offset: () => number | undefined; close: () => void } {
    let init: Mp4Init | undefined;
    let delta: number | undefined;
    let first: { ticks: number; at: number } | undefined;
    /** Smallest (reference − follower) decode-time difference seen at equal wall-clock times. */
    let estimate: number | undefined;
    const queue: Mp4Box[] = [];
    let skippingMdat = false;
    const shifted = (b: Mp4Box): Mp4Box => (b.type === 'moof' ? { ...b, data: shiftTfdt(b.data, delta!) } : b);
    const decide = () => {
      if (!first || estimate === undefined) return;
      let best: number | undefined;
      for (const f of this.#frames) {
        if (!f.key) continue;
        const d = f.ticks - first.ticks;
        if (best === undefined || Math.abs(d - estimate) < Math.abs(best - estimate)) best = d;
      }
      if (best === undefined) throw new Error('the reference rung has no keyframe to align with');
      delta = best;
      for (const b of queue.splice(0)) emit(shifted(b));
    };
    const push = (box: Mp4Box) => {
      if (box.type === 'moov') init = parseInit(box.data);
      if (box.type !== 'moof' && box.type !== 'mdat') {
        emit(box); // ftyp, moov…: no timing in them
        return;
      }
      if (delta !== undefined) {
        emit(shifted(box));
        return;
      }
      if (box.type === 'mdat') {
        if (skippingMdat) skippingMdat = false;
        else queue.push(box);
        return;
      }
      const f = init && videoFrame(box.data, init);
      if (!f) return;
      if (!first && !f.key) {
        skippingMdat = true; // before the first keyframe: this fragment is not played
        return;
      }
      if (this.#timescale !== undefined && f.timescale !== this.#timescale) throw new Error('rung timescale differs from the reference');
      const at = now();
      first ??= { ticks: f.ticks, at };
      const ref = this.#refTicksAt(at);
      if (ref !== undefined && (estimate === undefined || ref - f.ticks < estimate)) estimate = ref - f.ticks;
      queue.push(box);
      if (queue.length > MAX_QUEUED) throw new Error('rung could not be aligned with the reference');
      if (at - first.at >= SETTLE_MS) decide();
    };
    return { push, offset: () => delta, close: () => queue.splice(0) };
  }
}
