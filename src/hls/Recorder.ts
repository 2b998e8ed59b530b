/**
 * Records packaged LL-HLS streams to disk: every rendition's init segment and each media segment
 * as it completes, and, when the recording stops or the stream ends, VOD media playlists
 * (EXT-X-PLAYLIST-TYPE:VOD, EXT-X-ENDLIST) plus a multivariant playlist, so the directory plays
 * as it is from any static file server. Implements the RecordingController that
 * `POST/DELETE /v1/recordings` drive; `hls.recording.enabled` records every packaged stream.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/logger';
import { NotFoundError } from '../core/errors';
import type { RecordingController, RecordingInfo } from '../streams/OutputRegistry';
import type { Config } from '../config/schema';
import type { HlsService } from './HlsService';
import type { HlsStream } from './HlsStream';
import type { HlsSegment } from './Packager';

/** Options of {@link Recorder}. */
export interface RecorderOptions {
  service: HlsService;
  /** Root directory of recordings. */
  dir: string;
  log: Logger;
  /** Recordings kept in `list()` after they finish. */
  keepFinished?: number;
  /** Called once per recording when its VOD playlists are written (the node sends a webhook). */
  onFinished?: (info: RecordingInfo) => void;
}

interface Track {
  name: string;
  dir: string;
  segments: Array<{ msn: number; duration: number; programDateTime: number }>;
  /** Writes run one after another per rendition. */
  queue: Promise<void>;
  off: () => void;
}

interface Recording {
  info: RecordingInfo;
  stream: HlsStream;
  dir: string;
  tracks: Track[];
  offEnded: () => void;
  wasPinned: boolean;
  /** Its entry among the stream's outputs (`recording` in /v1/streams). */
  listing: { close(): void };
}

/** A path segment that cannot climb out of its parent, whatever the name. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 200) || '%';
}

/** VOD media playlist of recorded segments. */
export function vodPlaylist(segments: Track['segments'], targetDuration: number): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    '#EXT-X-PLAYLIST-TYPE:VOD',
    `#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? 0}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-MAP:URI="init.mp4"',
  ];
  for (const s of segments) {
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`, `#EXTINF:${s.duration.toFixed(5)},`, `s${s.msn}.m4s`);
  }
  lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** Records streams of the HLS service to disk. */
export class Recorder implements RecordingController {
  readonly #service: HlsService;
  readonly #dir: string;
  readonly #log: Logger;
  readonly #keep: number;
  readonly #active = new Map<string, Recording>();
  readonly #finished: RecordingInfo[] = [];
  readonly #onFinished: ((info: RecordingInfo) => void) | undefined;

  /** The node's recorder: records every packaged stream when `recording.enabled`, else on request. */
  static forService(service: HlsService, recording: Config['hls']['recording'], log: Logger, onFinished?: (info: RecordingInfo) => void): Recorder {
    const recorder = new Recorder({ service, dir: recording.dir, log, onFinished });
    if (recording.enabled) service.onStreamStarted((stream) => recorder.record(stream));
    return recorder;
  }

  constructor(options: RecorderOptions) {
    this.#service = options.service;
    this.#dir = path.resolve(options.dir);
    this.#log = options.log;
    this.#keep = options.keepFinished ?? 100;
    this.#onFinished = options.onFinished;
  }

  /** Starts recording a stream (starting its packaging when needed). */
  async start(room: string, identity: string): Promise<RecordingInfo> {
    for (const r of this.#active.values()) {
      if (r.info.room === room && r.info.identity === identity && !r.stream.ended) return { ...r.info };
    }
    const stream = await this.#service.acquire(room, identity);
    return this.record(stream);
  }

  /** Starts recording an already packaged stream. */
  record(stream: HlsStream): RecordingInfo {
    const startedAt = Date.now();
    const id = crypto.randomUUID();
    const dir = path.join(
      this.#dir,
      safeName(stream.room.name),
      safeName(stream.identity),
      `${new Date(startedAt).toISOString().replace(/[:.]/g, '-')}-${id.slice(0, 8)}`,
    );
    const info: RecordingInfo = { id, room: stream.room.name, identity: stream.identity, state: 'recording', startedAt, location: dir };
    const recording: Recording = { info, stream, dir, tracks: [], offEnded: () => undefined, wasPinned: stream.pinned, listing: { close: () => undefined } };
    stream.pinned = true;
    for (const r of stream.renditions) {
      const trackDir = path.join(dir, safeName(r.spec.name));
      fs.mkdirSync(trackDir, { recursive: true });
      const track: Track = { name: r.spec.name, dir: trackDir, segments: [], queue: Promise.resolve(), off: () => undefined };
      const write = (file: string, data: Buffer) => {
        track.queue = track.queue
          .then(() => fs.promises.writeFile(path.join(trackDir, file), data))
          .catch((err: unknown) => {
            this.#log.error('recording write failed', { id, file, error: err });
            info.state = 'failed';
          });
      };
      const p = r.packager;
      if (p.init) write('init.mp4', p.init);
      else p.once('init', () => write('init.mp4', p.init!));
      const onSegment = (s: HlsSegment) => {
        track.segments.push({ msn: s.msn, duration: s.duration, programDateTime: s.programDateTime });
        write(`s${s.msn}.m4s`, s.data!);
      };
      p.on('segment', onSegment);
      track.off = () => p.off('segment', onSegment);
      recording.tracks.push(track);
    }
    recording.offEnded = stream.onEnded(() => void this.#finish(recording));
    recording.listing = stream.source.attach({
      kind: 'recording',
      start: async () => undefined,
      close: () => this.#finish(recording).then(() => undefined),
      stats: () => ({ id, state: info.state, location: dir, segments: recording.tracks.reduce((n, t) => n + t.segments.length, 0) }),
    });
    this.#active.set(id, recording);
    this.#log.info('recording started', { id, room: info.room, stream: info.identity, dir });
    return { ...info };
  }

  /** Stops a recording and writes its playlists. */
  async stop(id: string): Promise<RecordingInfo> {
    const recording = this.#active.get(id);
    if (!recording) {
      const done = this.#finished.find((f) => f.id === id);
      if (done) return { ...done };
      throw new NotFoundError(`recording ${id} not found`);
    }
    return this.#finish(recording);
  }

  /** Running and recently finished recordings. */
  list(): RecordingInfo[] {
    return [...[...this.#active.values()].map((r) => ({ ...r.info })), ...this.#finished.map((f) => ({ ...f }))];
  }

  /** Stops every recording (playlists written). */
  async close(): Promise<void> {
    await Promise.all([...this.#active.values()].map((r) => this.#finish(r)));
  }

  async #finish(recording: Recording): Promise<RecordingInfo> {
    if (!this.#active.delete(recording.info.id)) return { ...recording.info };
    recording.offEnded();
    recording.listing.close();
    if (!recording.wasPinned && !recording.stream.ended) recording.stream.pinned = false;
    const { stream, info } = recording;
    for (const t of recording.tracks) {
      t.off();
      await t.queue;
      await fs.promises.writeFile(path.join(t.dir, 'index.m3u8'), vodPlaylist(t.segments, stream.targetDuration)).catch((err: unknown) => {
        this.#log.error('recording playlist write failed', { id: info.id, error: err });
        info.state = 'failed';
      });
    }
    await fs.promises.writeFile(path.join(recording.dir, 'index.m3u8'), stream.multivariantPlaylist()).catch(() => {
      info.state = 'failed';
    });
    if (info.state === 'recording') info.state = 'finished';
    info.endedAt = Date.now();
    this.#finished.unshift(info);
    this.#finished.length = Math.min(this.#finished.length, this.#keep);
    this.#log.info('recording finished', { id: info.id, state: info.state, segments: recording.tracks[0]?.segments.length ?? 0 });
    this.#onFinished?.({ ...info });
    return { ...info };
  }
}
