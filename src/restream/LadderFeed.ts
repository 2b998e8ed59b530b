/**
 * Feeds a remuxer the LL-HLS ladder's CMAF: the init segment of a video rendition (and of the
 * audio one), then its parts from the latest keyframe on, then every part as the packager cuts
 * it — one fragmented MP4 byte stream per track, on the decode-time line the packager shares
 * across renditions. Which video rendition: the copied source when the source is H264 (no
 * encode at all), else the ladder's top rung (already encoded for HLS).
 */
import type { Writable } from 'node:stream';
import type { HlsStream } from '../hls/HlsStream';
import type { LiveRendition } from '../hls/LadderTranscoder';
import type { HlsPart, Packager } from '../hls/Packager';

/** The renditions a push reads: `copy` when the source passes through, else the top encoded rung. */
export interface FeedChoice {
  video: LiveRendition;
  audio: LiveRendition | undefined;
  /** `copy`: the publisher's H264 as sent; `ladder`: the ladder's top encoded rendition. */
  mode: 'copy' | 'ladder';
}

/** Picks the video rendition to push: the copied source, else the highest encoded one (by height, then bitrate). */
export function chooseRenditions(stream: Pick<HlsStream, 'renditions'>): FeedChoice | undefined {
  const videos = stream.renditions.filter((r) => r.kind === 'video');
  const copied = videos.find((r) => r.copied);
  const top = copied ?? [...videos].sort((a, b) => (b.spec.height ?? 1e9) - (a.spec.height ?? 1e9) || b.spec.videoKbps - a.spec.videoKbps)[0];
  if (!top) return undefined;
  return { video: top, audio: stream.renditions.find((r) => r.kind === 'audio'), mode: copied ? 'copy' : 'ladder' };
}

/** Media start (s) of a part: its segment's start plus the parts before it. */
function partStart(p: Packager, part: HlsPart): number | undefined {
  const seg = p.segments.find((s) => s.msn === part.msn);
  if (!seg) return undefined;
  let t = seg.startTime;
  for (const x of seg.parts) {
    if (x.seq === part.seq) return t;
    t += x.duration;
  }
  return undefined;
}

/** The latest keyframe part of the video packager, and its media start. */
function latestKeyframe(p: Packager): { part: HlsPart; start: number } | undefined {
  for (let i = p.segments.length - 1; i >= 0; i--) {
    const seg = p.segments[i]!;
    for (let j = seg.parts.length - 1; j >= 0; j--) {
      const part = seg.parts[j]!;
      if (!part.independent) continue;
      const start = partStart(p, part);
      if (start !== undefined) return { part, start };
    }
  }
  return undefined;
}

/** The audio part playing at media time `t` (or the first one after it). */
function audioPartAt(p: Packager, t: number): HlsPart | undefined {
  for (const seg of p.segments) {
    let s = seg.startTime;
    for (const part of seg.parts) {
      if (s + part.duration > t) return part;
      s += part.duration;
    }
  }
  return undefined;
}

/** One track's byte stream into a pipe: init, then parts in sequence order. */
class TrackFeed {
  #next: number;
  readonly #offPart: () => void;

  constructor(
    readonly packager: Packager,
    readonly pipe: Writable,
    first: HlsPart | undefined,
  ) {
    this.#next = first?.seq ?? packager.nextPartSeq;
    this.#write(packager.init!);
    this.#drain();
    const onPart = () => this.#drain();
    packager.on('part', onPart);
    this.#offPart = () => packager.off('part', onPart);
  }

  #write(data: Buffer): void {
    if (this.pipe.destroyed || this.pipe.writableEnded) return;
    this.pipe.write(data);
  }

  #drain(): void {
    for (;;) {
      const part = this.packager.part(this.#next);
      if (!part) {
        // A part that fell out of the window while the pipe was backed up: skip ahead.
        if (this.#next < this.packager.nextPartSeq && !this.packager.part(this.#next)) {
          this.#next = this.packager.nextPartSeq;
        }
        return;
      }
      this.#write(part.data);
      this.#next++;
    }
  }

  /** Bytes queued in the pipe that the reader has not taken yet. */
  get queued(): number {
    return this.pipe.writableLength;
  }

  close(): void {
    this.#offPart();
  }
}

/** The video (and audio) byte streams of one push attempt. */
export class LadderFeed {
  readonly #tracks: TrackFeed[] = [];

  /** Starts writing `choice`'s renditions to `videoPipe` (and `audioPipe`) from the latest keyframe. */
  constructor(choice: FeedChoice, videoPipe: Writable, audioPipe: Writable | undefined) {
    const key = latestKeyframe(choice.video.packager);
    this.#tracks.push(new TrackFeed(choice.video.packager, videoPipe, key?.part));
    if (choice.audio && audioPipe && choice.audio.packager.init) {
      const first = key ? audioPartAt(choice.audio.packager, key.start) : undefined;
      this.#tracks.push(new TrackFeed(choice.audio.packager, audioPipe, first));
    }
  }

  /** Bytes written to the pipes and not yet read by the remuxer (a destination that does not keep up). */
  get queuedBytes(): number {
    return this.#tracks.reduce((n, t) => n + t.queued, 0);
  }

  /** Stops feeding; `end` also closes the pipes (the remuxer then finishes and exits). */
  close(end: boolean): void {
    for (const t of this.#tracks) {
      t.close();
      if (end && !t.pipe.destroyed) t.pipe.end();
    }
  }
}
