/**
 * Cuts one rendition's fragmented MP4 stream (one `moof`+`mdat` pair per frame, as ffmpeg's
 * `frag_every_frame` writes it) into LL-HLS partial segments and GOP-aligned media segments held
 * in memory, with a bounded DVR window. Parts get a global sequence number (`seq`) independent of
 * segment boundaries, so a preload hint for "the next part" is always right even when that part
 * turns out to open a new segment. Waiters (blocking playlist reloads, held part requests) are
 * woken on every change.
 */
import { EventEmitter } from 'node:events';
import { parseInit, parseMoof, type Mp4Box, type Mp4Init, type Mp4Track } from './Mp4BoxReader';

/** Maps media time to wall-clock time; shared by the renditions of a stream so their dates agree. */
export class ClockAnchor {
  #wallMs: number | undefined;
  #mediaSec = 0;

  /** Wall-clock ms of a media time (seconds); the first call fixes the mapping at `now`. */
  map(mediaSec: number, now = Date.now()): number {
    if (this.#wallMs === undefined) {
      this.#wallMs = now;
      this.#mediaSec = mediaSec;
    }
    return this.#wallMs + (mediaSec - this.#mediaSec) * 1000;
  }
}

/** One partial segment. */
export interface HlsPart {
  /** Global part sequence number of the rendition (0, 1, 2… across segments). */
  readonly seq: number;
  /** Media sequence number of the parent segment. */
  readonly msn: number;
  /** Part index within the parent segment. */
  readonly index: number;
  /** Duration in seconds (video time). */
  readonly duration: number;
  /** True when the part starts with a keyframe. */
  readonly independent: boolean;
  /** Wall-clock ms when the part became available. */
  readonly publishedAt: number;
  /** Wall-clock ms (per the clock anchor) of the end of the part's media. */
  readonly mediaEndWallMs: number;
  data: Buffer;
}

/** One media segment (complete, or the open one being filled). */
export interface HlsSegment {
  readonly msn: number;
  readonly parts: HlsPart[];
  /** Media time (s) of the first frame. */
  readonly startTime: number;
  /** Wall-clock ms of the first frame (EXT-X-PROGRAM-DATE-TIME). */
  readonly programDateTime: number;
  /** True when it starts with a keyframe. */
  readonly independent: boolean;
  /** Sum of its parts' durations (s). */
  duration: number;
  complete: boolean;
  /** Concatenated parts, set when complete. */
  data?: Buffer;
  /** Wall-clock ms when it completed. */
  completedAt?: number;
}

/** Options of {@link Packager}. */
export interface PackagerOptions {
  /** Part target duration (ms), e.g. 200–333. */
  partTargetMs: number;
  /** Segment target duration (ms); segments are cut at the first keyframe at or after it. */
  segmentTargetMs: number;
  /** EXT-X-TARGETDURATION (s); a segment is cut even without a keyframe before exceeding it. */
  targetDurationSec: number;
  /** Seconds of media kept and listed (at least 3 × target duration is always kept). */
  dvrWindowSec: number;
  /** Shared media-time → wall-clock mapping (default: a private one). */
  anchor?: ClockAnchor;
  /** Clock (ms) for tests. */
  now?: () => number;
}

/** Events of {@link Packager}. */
export interface PackagerEvents {
  init: [];
  part: [part: HlsPart];
  segment: [segment: HlsSegment];
  ended: [];
}

const EPS = 0.001;
/** Parts may never exceed PART-TARGET (RFC 8216bis §4.4.4.9); only float noise is tolerated. */
const PART_EPS = 1e-6;

/** The in-memory LL-HLS packager of one rendition. */
export class Packager extends EventEmitter<PackagerEvents> {
  readonly options: Required<Omit<PackagerOptions, 'anchor' | 'now'>>;
  readonly #anchor: ClockAnchor;
  readonly #now: () => number;
  readonly #segments: HlsSegment[] = [];
  readonly #partsBySeq = new Map<number, HlsPart>();
  /** Segments dropped from the window but still downloadable for a grace period. */
  readonly #retired: HlsSegment[] = [];
  readonly #waiters = new Set<() => void>();
  #init: Buffer | undefined;
  #initInfo: Mp4Init | undefined;
  #video: Mp4Track | undefined;
  #pendingMoof: Buffer | undefined;
  #pending: Buffer[] = [];
  /** Media time (s) where the last published part ended. */
  #timelineEnd = 0;
  #pendingIndependent = false;
  /** True once a frame of the timing track is pending (empty fragments may come first). */
  #pendingHasFrame = false;
  #pendingEndTime = 0;
  #pendingFirstStart = 0;
  #lastFrameDuration = 0;
  #nextSeq = 0;
  #nextMsn = 0;
  #ended = false;
  #frames = 0;
  #firstFrameStart: number | undefined;
  #framesDuration = 0;
  #peakBitrate = 0;
  #bytes = 0;

  constructor(options: PackagerOptions) {
    super();
    this.setMaxListeners(0);
    this.options = {
      partTargetMs: options.partTargetMs,
      segmentTargetMs: options.segmentTargetMs,
      targetDurationSec: options.targetDurationSec,
      dvrWindowSec: options.dvrWindowSec,
    };
    this.#anchor = options.anchor ?? new ClockAnchor();
    this.#now = options.now ?? Date.now;
  }

  /** The initialisation segment, once known. */
  get init(): Buffer | undefined {
    return this.#init;
  }

  /** Tracks of the initialisation segment, once known. */
  get initInfo(): Mp4Init | undefined {
    return this.#initInfo;
  }

  /** Segments in the window, oldest first; the last one may be open (incomplete). */
  get segments(): readonly HlsSegment[] {
    return this.#segments;
  }

  /** The open segment being filled, if any. */
  get openSegment(): HlsSegment | undefined {
    const last = this.#segments.at(-1);
    return last && !last.complete ? last : undefined;
  }

  /** MSN of the last complete segment (-1 when none). */
  get lastCompleteMsn(): number {
    for (let i = this.#segments.length - 1; i >= 0; i--) if (this.#segments[i]!.complete) return this.#segments[i]!.msn;
    return -1;
  }

  /** The most recent part, if any. */
  get lastPart(): HlsPart | undefined {
    return this.#partsBySeq.get(this.#nextSeq - 1);
  }

  /** Sequence number the next part will get (the preload hint). */
  get nextPartSeq(): number {
    return this.#nextSeq;
  }

  /** True once the stream ended (EXT-X-ENDLIST). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Measured frame rate (frames/s of video), or undefined before the first frames. */
  get frameRate(): number | undefined {
    return this.#framesDuration > 0 ? this.#frames / this.#framesDuration : undefined;
  }

  /** Highest bitrate of a complete segment (bits/s), 0 before the first. */
  get peakBitrate(): number {
    return this.#peakBitrate;
  }

  /** Media time (s) where the latest frame of the timing track ends (0 before the first). */
  get mediaEnd(): number {
    return this.#pendingEndTime;
  }

  /**
   * Numbers the first segment `msn` (the next ones follow): a rung started later takes the
   * reference rung's number for the same media, so players switching between them by Media
   * Sequence Number (hls.js does) or rendition report land on the same content. Only before the
   * first segment.
   */
  numberFrom(msn: number): void {
    if (this.#segments.length > 0) throw new Error('segments are already numbered');
    this.#nextMsn = msn;
  }

  /** Bytes of media received. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Requests held by callers that watch the events themselves (the HTTP fast path), for counting. */
  heldElsewhere = 0;

  /** Number of callers waiting for a change (including {@link heldElsewhere}). */
  get waiting(): number {
    return this.#waiters.size + this.heldElsewhere;
  }

  /** A part by global sequence number (window or grace period). */
  part(seq: number): HlsPart | undefined {
    return this.#partsBySeq.get(seq);
  }

  /** A complete segment by MSN (window or grace period). */
  segment(msn: number): HlsSegment | undefined {
    const s = this.#segments.find((x) => x.msn === msn) ?? this.#retired.find((x) => x.msn === msn);
    return s?.complete ? s : undefined;
  }

  /** Feeds one top-level box of the rendition's fMP4 stream. */
  pushBox(box: Mp4Box): void {
    if (this.#ended) return;
    switch (box.type) {
      case 'ftyp':
        this.#init = box.data;
        return;
      case 'moov': {
        const info = parseInit(box.data);
        this.#init = this.#init && !this.#initInfo ? Buffer.concat([this.#init, box.data]) : box.data;
        this.#initInfo = info;
        // The timing track: video, or audio in an audio-only stream (every audio frame is a sync sample).
        this.#video = info.tracks.find((t) => t.kind === 'video') ?? info.tracks.find((t) => t.kind === 'audio');
        this.emit('init');
        this.#wake();
        return;
      }
      case 'moof':
        this.#pendingMoof = box.data;
        return;
      case 'mdat': {
        const moof = this.#pendingMoof;
        this.#pendingMoof = undefined;
        if (!moof || !this.#initInfo) return;
        this.#fragment(moof, box.data);
        return;
      }
      default:
        return; // styp, sidx, free, prft…: not needed by the playlists
    }
  }

  /** Ends the stream: closes the open part and segment and wakes every waiter. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#flushPart();
    this.#closeSegment();
    this.#ended = true;
    this.emit('ended');
    this.#wake();
  }

  /**
   * Resolves true once `ready()` holds (checked now and after every change), false when
   * `timeoutMs` passes or `signal` aborts first. Never rejects.
   */
  waitUntil(ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const check = () => {
        if (ready()) finish(true);
        else if (this.#ended) finish(false);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.#waiters.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #fragment(moof: Buffer, mdat: Buffer): void {
    const info = parseMoof(moof, this.#initInfo!);
    const data = Buffer.concat([moof, mdat]);
    this.#bytes += data.length;
    const v = this.#video && info.tracks.find((t) => t.trackId === this.#video!.id);
    if (!v || v.sampleCount === 0) {
      // Audio-only fragment: rides along with the part being filled.
      if (this.openSegment) this.#pending.push(data);
      return;
    }
    const ts = this.#video!.timescale;
    const start = v.baseDecodeTime / ts;
    const duration = v.duration / ts;
    const sync = v.startsWithSync;
    const open = this.openSegment;
    // Durations come from the decode-time line (tfdt), not from per-frame estimates, so a gap in
    // the source is absorbed by the next part instead of drifting the playlist off the media.
    const pendingAfter = start + duration - this.#timelineEnd;
    if (!open) {
      if (!sync) return; // a stream starts on a keyframe
      // ffmpeg re-bases RTP timestamps on the first RTCP sender report, which shows as a long first
      // frame: start on a later keyframe instead of publishing a part longer than the target.
      if (this.#nextSeq === 0 && duration > this.options.partTargetMs / 1000) return;
      if (this.#segments.length === 0) this.#timelineEnd = start;
      this.#openSegment(this.#timelineEnd, true);
    } else {
      const soFar = open.duration + (this.#pending.length > 0 ? this.#pendingEndTime - this.#timelineEnd : 0);
      const segmentTarget = this.options.segmentTargetMs / 1000;
      const hardCut = pendingAfter + open.duration > this.options.targetDurationSec + 0.49;
      if ((sync && soFar >= segmentTarget - EPS) || hardCut) {
        this.#flushPart();
        this.#closeSegment();
        this.#openSegment(this.#timelineEnd, sync);
      }
    }
    const target = this.options.partTargetMs / 1000;
    if (this.#pendingDuration() > 0 && this.#partSpanWith(start + duration) > target + PART_EPS) this.#flushPart();
    if (!this.#pendingHasFrame) {
      this.#pendingIndependent = sync;
      this.#pendingFirstStart = start;
    }
    this.#pendingHasFrame = true;
    this.#pending.push(data);
    this.#pendingEndTime = start + duration;
    this.#lastFrameDuration = duration;
    this.#frames += v.sampleCount;
    this.#firstFrameStart ??= start;
    this.#framesDuration = start + duration - this.#firstFrameStart;
    // Close the part now when the next frame would not fit, so it is published without waiting.
    if (this.#partSpanWith(this.#pendingEndTime + this.#lastFrameDuration) > target + PART_EPS) this.#flushPart();
  }

  /**
   * How long the pending part would be if it ended at `end`: from the timeline's end or from its
   * first frame, whichever is earlier (a frame may start before the timeline's end when the encoder's
   * last-sample duration was an estimate), so neither the listed duration nor the media span passes
   * PART-TARGET.
   */
  #partSpanWith(end: number): number {
    const from = this.#pendingHasFrame ? Math.min(this.#timelineEnd, this.#pendingFirstStart) : this.#timelineEnd;
    return end - from;
  }

  #pendingDuration(): number {
    return this.#pending.length > 0 ? Math.max(0, this.#pendingEndTime - this.#timelineEnd) : 0;
  }

  #openSegment(start: number, independent: boolean): void {
    const segment: HlsSegment = {
      msn: this.#nextMsn++,
      parts: [],
      startTime: start,
      programDateTime: this.#anchor.map(start, this.#now()),
      independent,
      duration: 0,
      complete: false,
    };
    this.#segments.push(segment);
  }

  #flushPart(): void {
    const open = this.openSegment;
    const duration = this.#pendingDuration();
    if (!open || !this.#pendingHasFrame || duration === 0) return;
    const part: HlsPart = {
      seq: this.#nextSeq++,
      msn: open.msn,
      index: open.parts.length,
      duration,
      independent: this.#pendingIndependent,
      publishedAt: this.#now(),
      mediaEndWallMs: this.#anchor.map(this.#pendingEndTime, this.#now()),
      data: this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending),
    };
    this.#pending = [];
    this.#pendingHasFrame = false;
    this.#timelineEnd = this.#pendingEndTime;
    this.#pendingIndependent = false;
    open.parts.push(part);
    open.duration += part.duration;
    this.#partsBySeq.set(part.seq, part);
    this.emit('part', part);
    this.#wake();
  }

  #closeSegment(): void {
    const open = this.openSegment;
    if (!open) return;
    if (open.parts.length === 0) {
      this.#segments.pop();
      this.#nextMsn--;
      return;
    }
    open.complete = true;
    open.completedAt = this.#now();
    const data = Buffer.concat(open.parts.map((p) => p.data));
    let offset = 0;
    for (const p of open.parts) {
      p.data = data.subarray(offset, offset + p.data.length);
      offset += p.data.length;
    }
    open.data = data;
    if (open.duration > 0) this.#peakBitrate = Math.max(this.#peakBitrate, Math.round((data.length * 8) / open.duration));
    this.#trim();
    this.emit('segment', open);
    this.#wake();
  }

  #trim(): void {
    const keep = Math.max(this.options.dvrWindowSec, 3 * this.options.targetDurationSec);
    const grace = 3 * this.options.targetDurationSec * 1000;
    let total = this.#segments.reduce((n, s) => n + (s.complete ? s.duration : 0), 0);
    while (this.#segments.length > 1 && this.#segments[0]!.complete && total - this.#segments[0]!.duration >= keep) {
      const old = this.#segments.shift()!;
      total -= old.duration;
      this.#retired.push(old);
    }
    const now = this.#now();
    while (this.#retired.length > 0 && now - (this.#retired[0]!.completedAt ?? now) > keep * 1000 + grace) {
      const gone = this.#retired.shift()!;
      for (const p of gone.parts) this.#partsBySeq.delete(p.seq);
    }
  }
}
