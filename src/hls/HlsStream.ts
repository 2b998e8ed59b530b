/**
 * The LL-HLS packaging of one stream (a participant identity's video and audio producers in a
 * room): the ffmpeg ladder job (or, with `hls.ladderAdaptation`, the audience-shaped ladder of
 * src/hls/ladder), one packager per rendition, the idle timer of on-demand
 * packaging, and the playlists it serves. Ends (EXT-X-ENDLIST) when the producers go away, the
 * room closes, or nobody asked for it within the idle timeout; lingers a little after that so
 * players and recorders see the end.
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import type { Room } from '../sfu/Room';
import type { Stream } from '../streams/Stream';
import type { Output } from '../streams/Output';
import { LadderTranscoder, type LiveRendition, type RenditionSpec } from './LadderTranscoder';
import { renderMediaPlaylist, renderMultivariantPlaylist, type RenditionReport } from './Playlist';
import type { DateRangeSource } from '../events/EventTimeline';
import { AdaptiveLadder, type LadderChange, type LadderView } from './ladder/AdaptiveLadder';
import type { AudienceTracker } from './ladder/AudienceTracker';
import type { LadderAdaptationConfig } from './ladder/ladderConfig';

/** The packaging settings of a stream (from the `hls` config section). */
export interface HlsStreamSettings {
  partTargetMs: number;
  segmentTargetMs: number;
  dvrWindowSec: number;
  idleTimeoutMs: number;
  keyframeRequestIntervalMs: number;
  audioKbps: number;
  x264Preset: string;
  renditions: readonly RenditionSpec[];
  /** The audience-shaped ladder (`hls.ladderAdaptation`); off or absent: the configured ladder, one ffmpeg. */
  ladderAdaptation?: LadderAdaptationConfig;
}

/** Options of {@link HlsStream}. */
export interface HlsStreamOptions {
  /** The stream from the hub (held by the service's lease while packaged). */
  source: Stream;
  settings: HlsStreamSettings;
  /** Never stops for idleness (eager mode, recording). */
  pinned: boolean;
  log: Logger;
  /** Called once when the stream is gone for good (after the linger). */
  onDisposed: (stream: HlsStream) => void;
  /** Room events as EXT-X-DATERANGE (src/events/EventTimeline.ts); none when absent. */
  dateRanges?: DateRangeSource;
  /** Called on every change of an audience-shaped ladder. */
  onLadderChanged?: (stream: HlsStream, change: LadderChange) => void;
}

/** EXT-X-TARGETDURATION for a segment target: room for a late source keyframe. */
export function targetDurationFor(segmentTargetMs: number): number {
  return Math.ceil((segmentTargetMs / 1000) * 1.5);
}

/** One packaged stream: the `hls` output of a hub stream. */
export class HlsStream implements Output {
  readonly kind = 'hls';
  readonly room: Room;
  readonly identity: string;
  /** Path segment that changes on every (re)start, so immutable URLs never repeat with new bytes. */
  readonly epoch = crypto.randomBytes(4).toString('hex');
  readonly startedAt = Date.now();
  readonly targetDuration: number;
  readonly partTarget: number;
  readonly #settings: HlsStreamSettings;
  readonly #log: Logger;
  readonly #onDisposed: HlsStreamOptions['onDisposed'];
  readonly #dateRanges: DateRangeSource | undefined;
  readonly #source: Stream;
  readonly #endListeners = new Set<(reason: string) => void>();
  #transcoder: LadderTranscoder | undefined;
  #ladder: AdaptiveLadder | undefined;
  /** The renditions of the first start (waited for before the first playlist is answered). */
  #startRenditions: LiveRendition[] = [];
  readonly #onLadderChanged: HlsStreamOptions['onLadderChanged'];
  #pinned: boolean;
  #lastRequest = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  #endReason: string | undefined;
  #disposed = false;
  #detach: (() => void) | undefined;

  constructor(options: HlsStreamOptions) {
    this.#source = options.source;
    this.room = options.source.room;
    this.identity = options.source.identity;
    this.#settings = options.settings;
    this.#pinned = options.pinned;
    this.#log = options.log;
    this.#onDisposed = options.onDisposed;
    this.#dateRanges = options.dateRanges;
    this.#onLadderChanged = options.onLadderChanged;
    this.targetDuration = targetDurationFor(options.settings.segmentTargetMs);
    this.partTarget = options.settings.partTargetMs / 1000;
  }

  /** The renditions (empty before start). */
  get renditions(): readonly LiveRendition[] {
    return this.#ladder?.renditions ?? this.#transcoder?.renditions ?? [];
  }

  /** The renditions players are offered (multivariant playlist, MPD): not retiring, and with a segment once the stream runs. */
  get listedRenditions(): readonly LiveRendition[] {
    if (!this.#ladder) return this.renditions;
    // Once the stream ended every rung has ended too: the ladder as it was stays listed (EXT-X-ENDLIST in each).
    return this.renditions.filter(
      (r) => !r.retiring && (this.ended || !r.packager.ended) && (r.packager.lastCompleteMsn >= 0 || this.#startRenditions.includes(r)),
    );
  }

  /** The audience-shaped ladder's viewer data (undefined when adaptation is off). */
  get audience(): AudienceTracker | undefined {
    return this.#ladder?.audience;
  }

  /** The audience-shaped ladder (undefined when adaptation is off). */
  get adaptiveLadder(): AdaptiveLadder | undefined {
    return this.#ladder;
  }

  /** The ladder's state for the API (undefined when adaptation is off). */
  ladderView(): LadderView | undefined {
    return this.#ladder?.view();
  }

  /** ffmpeg process ids of the stream's ladder (for CPU accounting). */
  get encoderPids(): number[] {
    if (this.#ladder) return this.#ladder.pids;
    const pid = this.#transcoder?.pid;
    return pid === undefined ? [] : [pid];
  }

  /** Why it ended, once it has. */
  get endReason(): string | undefined {
    return this.#endReason;
  }

  /** True once ended (playlists carry EXT-X-ENDLIST). */
  get ended(): boolean {
    return this.#endReason !== undefined;
  }

  /** True once disposed (gone from the service). */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Keeps the stream alive regardless of requests (recording, eager mode). */
  set pinned(value: boolean) {
    this.#pinned = value;
  }

  get pinned(): boolean {
    return this.#pinned;
  }

  /** The rendition named `name`. */
  rendition(name: string): LiveRendition | undefined {
    return this.renditions.find((r) => r.spec.name === name);
  }

  /** Notes a request (keeps an on-demand stream alive). */
  touch(): void {
    this.#lastRequest = Date.now();
  }

  /** Calls `listener(reason)` once when the stream ends; returns an unsubscribe function. */
  onEnded(listener: (reason: string) => void): () => void {
    if (this.#endReason !== undefined) {
      listener(this.#endReason);
      return () => undefined;
    }
    this.#endListeners.add(listener);
    return () => this.#endListeners.delete(listener);
  }

  /** The hub stream packaged (other outputs built on this packaging attach to it). */
  get source(): Stream {
    return this.#source;
  }

  /** Where players reach it. */
  get url(): string {
    return `/hls/${encodeURIComponent(this.room.name)}/${encodeURIComponent(this.identity)}/index.m3u8`;
  }

  /** Consumes the stream's video and audio into the ladder job. */
  async start(): Promise<void> {
    const source = this.#source;
    const video = source.track('video');
    if (!video) throw new Error(`stream ${this.identity} has no video`);
    const audio = source.track('audio');
    const watched = new Set<string>([video.id, ...(audio ? [audio.id] : [])]);
    const onRemoved = (producerId: string) => {
      if (watched.has(producerId)) this.end('producer closed');
    };
    const onEnded = () => this.end(this.room.closed ? 'room closed' : 'producer closed');
    source.on('trackRemoved', onRemoved);
    source.once('ended', onEnded);
    this.#detach = () => {
      source.off('trackRemoved', onRemoved);
      source.off('ended', onEnded);
    };
    const s = this.#settings;
    const packager = { partTargetMs: s.partTargetMs, segmentTargetMs: s.segmentTargetMs, targetDurationSec: this.targetDuration, dvrWindowSec: s.dvrWindowSec };
    if (s.ladderAdaptation?.enabled) {
      this.#ladder = new AdaptiveLadder({
        stream: source,
        video,
        audio,
        configured: s.renditions,
        config: s.ladderAdaptation,
        audioKbps: s.audioKbps,
        x264Preset: s.x264Preset,
        keyframeRequestIntervalMs: s.keyframeRequestIntervalMs,
        packager,
        lingerMs: 3 * this.targetDuration * 1000,
        log: this.#log,
        onEnded: (reason) => this.end(reason),
        onChange: (change) => this.#onLadderChanged?.(this, change),
      });
    } else
      this.#transcoder = new LadderTranscoder({
        stream: source,
        video,
        audio,
        renditions: s.renditions,
        audioKbps: s.audioKbps,
        x264Preset: s.x264Preset,
        keyframeRequestIntervalMs: s.keyframeRequestIntervalMs,
        packager,
        log: this.#log,
        onEnded: (reason) => this.end(reason),
      });
    this.#idleTimer = setInterval(
      () => {
        if (!this.#pinned && Date.now() - this.#lastRequest > s.idleTimeoutMs) this.end('idle');
      },
      Math.min(1000, s.idleTimeoutMs),
    );
    this.#idleTimer.unref();
    // Every first rendition exists before its job starts: a request arriving meanwhile waits for them.
    this.#startRenditions = [...this.renditions];
    if (this.#ladder) await this.#ladder.start();
    else await this.#transcoder!.start();
    this.#log.info('hls packaging started', { room: this.room.name, stream: this.identity, renditions: s.renditions.map((r) => r.name), epoch: this.epoch });
  }

  /**
   * Resolves true once every rendition has a complete segment (or the stream ended with some
   * media), false on timeout or abort.
   */
  async waitStarted(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (const r of this.#startRenditions) {
      const ok = await r.packager.waitUntil(() => r.packager.lastCompleteMsn >= 0, Math.max(0, deadline - Date.now()), signal);
      if (!ok) return r.packager.lastCompleteMsn >= 0;
    }
    return this.#startRenditions.length > 0;
  }

  /** Ends packaging (EXT-X-ENDLIST), then disposes after a linger of 3 target durations. Idempotent. */
  end(reason: string): void {
    if (this.#endReason !== undefined) return;
    this.#endReason = reason;
    clearInterval(this.#idleTimer);
    this.#detach?.();
    this.#transcoder?.close();
    this.#ladder?.close();
    this.#log.info('hls packaging ended', { room: this.room.name, stream: this.identity, reason });
    for (const l of [...this.#endListeners]) {
      try {
        l(reason);
      } catch (err) {
        this.#log.warn('hls end listener failed', { error: err });
      }
    }
    this.#endListeners.clear();
    this.#lingerTimer = setTimeout(() => this.dispose(), reason === 'shutdown' ? 0 : 3 * this.targetDuration * 1000);
    this.#lingerTimer.unref();
  }

  /** Ends packaging (the output's close; the stream lingers as after any end). Idempotent. */
  close(): void {
    this.end('closed');
  }

  /** Ends and forgets the stream at once. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.end('disposed');
    this.#disposed = true;
    clearTimeout(this.#lingerTimer);
    this.#onDisposed(this);
  }

  /** Multivariant playlist text. */
  multivariantPlaylist(uriSuffix = ''): string {
    const audio = this.listedRenditions.find((r) => r.kind === 'audio' && r.packager.initInfo);
    const audioTrack = audio?.packager.initInfo!.tracks[0];
    const audioBandwidth = audio ? Math.max(audio.packager.peakBitrate, this.#settings.audioKbps * 1000) : 0;
    return renderMultivariantPlaylist(
      this.listedRenditions
        .filter((r) => r.kind === 'video' && r.packager.initInfo)
        .map((r) => {
          const video = r.packager.initInfo!.tracks.find((t) => t.kind === 'video');
          const videoBandwidth = r.packager.peakBitrate > 0 ? r.packager.peakBitrate : r.spec.videoKbps * 1000;
          return {
            uri: `${r.spec.name}/index.m3u8`,
            bandwidth: videoBandwidth + audioBandwidth,
            codecs: [...(video ? [video.codec] : []), ...(audioTrack ? [audioTrack.codec] : [])],
            width: video?.width,
            height: video?.height,
            frameRate: r.packager.frameRate,
            audioGroup: audio ? 'audio' : undefined,
          };
        })
        .sort((a, b) => b.bandwidth - a.bandwidth),
      uriSuffix,
      audio && audioTrack ? { groupId: 'audio', uri: `${audio.spec.name}/index.m3u8`, channels: audioTrack.channels ?? 2 } : undefined,
    );
  }

  /** Media playlist text of a rendition. */
  mediaPlaylist(r: LiveRendition, skip: 'YES' | 'v2' | undefined, uriSuffix = ''): string {
    const reports: RenditionReport[] = [];
    for (const other of this.listedRenditions) {
      if (other === r || other.kind !== r.kind) continue;
      const last = other.packager.lastPart;
      if (!last) continue;
      reports.push({ uri: `../${other.spec.name}/index.m3u8`, lastMsn: last.msn, lastPart: last.index });
    }
    return renderMediaPlaylist({
      targetDuration: this.targetDuration,
      partTarget: this.partTarget,
      segments: r.packager.segments,
      nextPartSeq: r.packager.nextPartSeq,
      ended: r.packager.ended,
      skip,
      renditionReports: reports,
      uriSuffix,
      pathPrefix: `${this.epoch}/`,
      dateRanges: this.#dateRanges?.dateRangeTags(this.room.name, r.packager.segments[0]?.programDateTime ?? Date.now()),
    });
  }

  /** Live numbers for the admin listing. */
  stats(): Record<string, number | string | boolean> {
    const first = this.renditions[0]?.packager;
    return {
      renditions: this.renditions.length,
      segments: first?.segments.length ?? 0,
      lastMsn: first?.lastCompleteMsn ?? -1,
      heldRequests: this.renditions.reduce((n, r) => n + r.packager.waiting, 0),
      ended: this.ended,
    };
  }

  /** The producers being packaged (for tests and listings). */
  get producers(): types.Producer[] {
    return this.#source.tracks;
  }
}
