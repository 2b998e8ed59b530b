/**
 * Puts a rung started later (its own ffmpeg, its own RTP consumer, so its own time zero) on the
 * decode-time line of the ladder's reference rung, so players switch between them and the
 * audio without a jump: every rung keeps the source's keyframes (`-force_key_frames source`) and
 * the same 90 kHz timescale, so the first keyframe of the new rung is matched with the reference
 * keyframe published nearest in time and the difference of their decode times, an exact number
 * of ticks, is added to every fragment's `tfdt` before the packager sees it.
 */
import { childBoxes, parseInit, parseMoof, type Mp4Box, type Mp4Init } from '../Mp4BoxReader';

/** A reference keyframe: its decode time (ticks) and when it was read (ms). */
interface Keyframe {
  ticks: number;
  at: number;
}

const KEPT_KEYFRAMES = 64;
/** A follower keyframe is matched with a reference one read at most this far apart (ms). */
const MATCH_WINDOW_MS = 1000;
/** Boxes a follower may hold while waiting for the reference's matching keyframe. */
const MAX_QUEUED = 600;

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

function videoKeyframe(moof: Buffer, init: Mp4Init): { ticks: number; timescale: number } | undefined {
  const video = init.tracks.find((t) => t.kind === 'video');
  if (!video) return undefined;
  const f = parseMoof(moof, init).tracks.find((t) => t.trackId === video.id);
  return f?.startsWithSync ? { ticks: f.baseDecodeTime, timescale: video.timescale } : undefined;
}

/** One stream's timeline: the reference rung's keyframes and the followers aligned to them. */
export class TimelineAligner {
  readonly #keyframes: Keyframe[] = [];
  readonly #waiting = new Set<() => void>();
  #init: Mp4Init | undefined;
  #timescale: number | undefined;

  /** Observes a box of the reference rung (passed on unchanged). */
  observeReference(box: Mp4Box, now = Date.now()): void {
    if (box.type === 'moov') {
      this.#init = parseInit(box.data);
      return;
    }
    if (box.type !== 'moof' || !this.#init) return;
    const k = videoKeyframe(box.data, this.#init);
    if (!k) return;
    this.#timescale = k.timescale;
    this.#keyframes.push({ ticks: k.ticks, at: now });
    if (this.#keyframes.length > KEPT_KEYFRAMES) this.#keyframes.shift();
    for (const w of [...this.#waiting]) w();
  }

  /**
   * A filter for a follower rung's boxes: `push(box)` hands the boxes to `emit` once aligned
   * (queued until the offset is known; fragments before the first keyframe are dropped).
   * `offset()` is the shift in ticks once known.
   */
  follower(emit: (box: Mp4Box) => void, now: () => number = Date.now): { push: (box: Mp4Box) => void; offset: () => number | undefined; close: () => void } {
    let init: Mp4Init | undefined;
    let delta: number | undefined;
    let first: { ticks: number; at: number } | undefined;
    const queue: Mp4Box[] = [];
    let skippingMdat = false;
    const flush = () => {
      for (const b of queue.splice(0)) emit(b.type === 'moof' ? { ...b, data: shiftTfdt(b.data, delta!) } : b);
    };
    const tryMatch = () => {
      if (!first || delta !== undefined) return;
      // Wait until the reference has read a keyframe at least as late as ours (or the window passed).
      const last = this.#keyframes.at(-1);
      if ((!last || last.at < first.at) && now() - first.at < MATCH_WINDOW_MS) return;
      let best: Keyframe | undefined;
      for (const k of this.#keyframes) if (!best || Math.abs(k.at - first.at) < Math.abs(best.at - first.at)) best = k;
      if (!best || Math.abs(best.at - first.at) > MATCH_WINDOW_MS) {
        // No counterpart: start over at the follower's next keyframe.
        first = undefined;
        queue.length = 0;
        return;
      }
      delta = best.ticks - first.ticks;
      this.#waiting.delete(tryMatch);
      flush();
    };
    this.#waiting.add(tryMatch);
    const push = (box: Mp4Box) => {
      if (box.type === 'moov') init = parseInit(box.data);
      if (box.type !== 'moof' && box.type !== 'mdat') {
        emit(box); // ftyp, moov…: no timing in them
        return;
      }
      if (delta !== undefined) {
        emit(box.type === 'moof' ? { ...box, data: shiftTfdt(box.data, delta) } : box);
        return;
      }
      if (box.type === 'moof' && init) {
        const k = videoKeyframe(box.data, init);
        if (!first && !k) {
          skippingMdat = true; // before the first keyframe: this fragment is not played
          return;
        }
        if (k && this.#timescale !== undefined && k.timescale !== this.#timescale) throw new Error('rung timescale differs from the reference');
        if (!first && k) first = { ticks: k.ticks, at: now() };
        skippingMdat = false;
      } else if (box.type === 'mdat' && skippingMdat) {
        skippingMdat = false;
        return;
      }
      queue.push(box);
      if (queue.length > MAX_QUEUED) throw new Error('rung could not be aligned with the reference');
      tryMatch();
    };
    return { push, offset: () => delta, close: () => this.#waiting.delete(tryMatch) };
  }
}
