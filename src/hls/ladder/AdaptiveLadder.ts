/**
 * The mechanics of the audience-shaped ladder of one stream (docs/abr-ladder.md): one ffmpeg job
 * for the audio and the floor rung (the lowest configured rendition, the timeline's reference),
 * and one job per other rung, so a rung starts and stops on its own without touching the others.
 * Every `evaluateIntervalMs` the {@link AudienceTracker}'s data goes through the pure policy
 * ({@link decideLadder}); a change starts the new rung's job (listed in the playlists once it has
 * a segment, aligned on the floor's decode-time line by {@link TimelineAligner}) and retires the old
 * one: unlisted at once, its encode stopped (EXT-X-ENDLIST) once no player fetched it for
 * `retireIdleMs`, forgotten after a linger.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../../core/logger';
import type { Stream } from '../../streams/Stream';
import { ClockAnchor, type Packager, type PackagerOptions } from '../Packager';
import { LadderTranscoder, type LiveRendition, type RenditionSpec } from '../LadderTranscoder';
import { decideLadder, type LadderAction, type Rung } from './AudiencePolicy';
import { AudienceTracker } from './AudienceTracker';
import type { LadderAdaptationConfig } from './ladderConfig';
import { SegmentGate } from './SegmentGate';
import { TimelineAligner } from './TimelineAligner';

/** A rung as the API and webhooks show it. */
export interface RungView {
  name: string;
  videoKbps: number;
  height?: number;
  copySource: boolean;
  /** `live`: listed; `joining`: encoding, listed once it has a segment; `retiring`: unlisted, encoding until players leave it. */
  state: 'live' | 'joining' | 'retiring';
}

/** One change of the ladder (the `ladder.changed` webhook's data). */
export interface LadderChange {
  at: number;
  action: Exclude<LadderAction, 'none'>;
  /** The rung dropped, restored, lowered (its new form) or added. */
  rung: string;
  /** The rung a `lower` or a restore of a lowered rung replaces. */
  replaces?: string;
  before: RungView[];
  after: RungView[];
  reason: string;
}

/** The ladder's state for the API. */
export interface LadderView {
  rungs: RungView[];
  /** The last evaluation: what it decided and why. */
  lastDecision?: { at: number; action: LadderAction; reason: string };
  /** Recent changes, oldest first. */
  changes: LadderChange[];
  /** Viewers with throughput reports in the window. */
  viewers: number;
  /** Sessions in the window by the rendition they last requested. */
  sessionsByRendition: Record<string, number>;
  /** ffmpeg processes encoding for the ladder now. */
  encoders: number;
}

/** Options of {@link AdaptiveLadder}. */
export interface AdaptiveLadderOptions {
  stream: Stream;
  video: types.Producer;
  audio?: types.Producer;
  /** The configured ladder (`hls.renditions`). */
  configured: readonly RenditionSpec[];
  config: LadderAdaptationConfig;
  audioKbps: number;
  x264Preset: string;
  keyframeRequestIntervalMs: number;
  packager: Omit<PackagerOptions, 'anchor'>;
  /** How long an ended rung stays reachable (ms). */
  lingerMs: number;
  log: Logger;
  /** Called once when the floor/audio job ends (the stream's packaging ends with it). */
  onEnded: (reason: string) => void;
  /** Called on every change. */
  onChange?: (change: LadderChange) => void;
  ffmpegPath?: string;
}

const KEPT_CHANGES = 20;

interface Job {
  transcoder: LadderTranscoder;
  rung: Rung;
  rendition: LiveRendition;
  retiredAt?: number;
  stoppedAt?: number;
  closeFollower?: () => void;
}

/** The per-rung ladder of one stream, shaped by its audience. */
export class AdaptiveLadder {
  readonly audience: AudienceTracker;
  readonly #o: AdaptiveLadderOptions;
  readonly #anchor = new ClockAnchor();
  readonly #aligner = new TimelineAligner();
  readonly #configured: Rung[];
  readonly #floor: Rung;
  readonly #changedAt: Record<string, number> = {};
  /** Per rung name: the dwell multiplier (doubled each time a restored or added rung is dropped unplayed). */
  readonly #dwellFactor: Record<string, number> = {};
  /** Per rung name: the last change that brought it in (restore, add, lower). */
  readonly #cameBy: Record<string, LadderAction> = {};
  readonly #changes: LadderChange[] = [];
  readonly #base: LadderTranscoder;
  #jobs: Job[] = [];
  #startedAt = Date.now();
  #lastChangeAt: number | undefined;
  #lastDecision: LadderView['lastDecision'];
  #timer: NodeJS.Timeout | undefined;
  #housekeeping: NodeJS.Timeout | undefined;
  #closed = false;
  #playable = false;

  constructor(options: AdaptiveLadderOptions) {
    this.#o = options;
    this.audience = new AudienceTracker(options.config.windowMs);
    this.#configured = options.configured.map((s) => ({ name: s.name, kbps: s.videoKbps, height: s.height, copySource: s.copySource, configName: s.name }));
    this.#floor = [...this.#configured].sort((a, b) => a.kbps - b.kbps)[0]!;
    const floorSpec = options.configured.find((s) => s.name === this.#floor.name)!;
    this.#base = new LadderTranscoder({
      ...this.#jobOptions([floorSpec]),
      audio: options.audio,
      onEnded: (reason) => options.onEnded(reason),
      route: (r, deliver) =>
        r.kind === 'video'
          ? (box) => {
              this.#aligner.observeReference(box);
              deliver(box);
            }
          : deliver,
    });
    for (const rung of this.#configured) if (rung !== this.#floor) this.#createJob(rung);
  }

  /** The floor rung's packager: the reference every other rung's segments follow. */
  get #floorPackager(): Packager {
    return this.#base.renditions.find((r) => r.kind === 'video')!.packager;
  }

  /** Every rendition being served (listed, joining and retiring), highest bitrate first, then the floor and audio. */
  get renditions(): LiveRendition[] {
    const now = Date.now();
    const running = new Set(this.#jobs.filter((j) => j.stoppedAt === undefined).map((j) => j.rung.name));
    // A stopped rung lingers (EXT-X-ENDLIST) unless a running one took its name back.
    const rungs = this.#jobs
      .filter((j) => j.stoppedAt === undefined || (now - j.stoppedAt < this.#o.lingerMs && !running.has(j.rung.name)))
      .map((j) => j.rendition);
    rungs.sort((a, b) => b.spec.videoKbps - a.spec.videoKbps);
    return [...rungs, ...this.#base.renditions];
  }

  /** ffmpeg process ids of the ladder (the floor/audio job and every rung's). */
  get pids(): number[] {
    return [this.#base.pid, ...this.#jobs.map((j) => j.transcoder.pid)].filter((p): p is number => p !== undefined);
  }

  /** Starts the floor/audio job and one job per other configured rung (created at construction); then evaluates periodically. */
  async start(): Promise<void> {
    const o = this.#o;
    this.#startedAt = Date.now();
    await this.#base.start();
    for (const job of [...this.#jobs]) await this.#startJob(job);
    this.#timer = setInterval(() => {
      try {
        this.evaluate();
      } catch (err) {
        o.log.warn('hls ladder evaluation failed', { error: err });
      }
    }, o.config.evaluateIntervalMs);
    this.#timer.unref();
    this.#housekeeping = setInterval(() => this.#retireIdle(), Math.min(1000, o.config.retireIdleMs));
    this.#housekeeping.unref();
  }

  /** Runs the policy once and applies its decision (also called by the timer). */
  evaluate(now = Date.now()): LadderView['lastDecision'] {
    if (this.#closed) return this.#lastDecision;
    if (!this.#playable) {
      // Rungs count as unrequested only from when players could fetch them: every first rung has a segment.
      if ([...this.#base.renditions, ...this.#listedJobs().map((j) => j.rendition)].some((r) => r.packager.lastCompleteMsn < 0)) {
        this.#lastDecision = { at: now, action: 'none', reason: 'waiting for every rung’s first segment' };
        return this.#lastDecision;
      }
      this.#playable = true;
      this.#startedAt = now;
    }
    const current = this.#listedJobs().map((j) => j.rung);
    const decision = decideLadder({
      now,
      config: this.#o.config,
      configured: this.#configured,
      current: [...current, this.#floor],
      floor: this.#floor.name,
      startedAt: this.#startedAt,
      lastChangeAt: this.#lastChangeAt,
      changedAt: this.#changedAt,
      dwellFactor: this.#dwellFactor,
      lastRequestAt: this.audience.lastRequests(),
      viewers: this.audience.viewers(now),
    });
    this.#lastDecision = { at: now, action: decision.action, reason: decision.reason };
    if (decision.action === 'none' || !decision.rung) return this.#lastDecision;
    const before = this.views().filter((r) => r.state !== 'retiring');
    const wanted = new Set(decision.after.map((r) => r.name));
    for (const j of this.#listedJobs()) if (!wanted.has(j.rung.name)) this.#retire(j, now);
    for (const r of decision.after) {
      if (r.name === this.#floor.name || this.#listedJobs().some((j) => j.rung.name === r.name)) continue;
      const retiring = this.#jobs.find((j) => j.rung.name === r.name && j.retiredAt !== undefined && j.stoppedAt === undefined);
      if (retiring) {
        retiring.retiredAt = undefined;
        retiring.rendition.retiring = false;
      } else {
        this.#startJob(this.#createJob(r)).catch((err: unknown) => this.#o.log.warn('ladder rung failed to start', { rung: r.name, error: err }));
      }
    }
    const name = decision.rung.name;
    if (decision.action === 'drop') {
      // Brought in and dropped again with no player fetching it meanwhile: a flap; it waits twice as long next time.
      const requested = (this.audience.lastRequests()[name] ?? 0) > (this.#changedAt[name] ?? 0);
      if (this.#cameBy[name] && this.#cameBy[name] !== 'drop' && !requested) this.#dwellFactor[name] = Math.min(16, (this.#dwellFactor[name] ?? 1) * 2);
    }
    this.#cameBy[name] = decision.action;
    for (const n of [name, decision.replaces?.name]) if (n) this.#changedAt[n] = now;
    this.#lastChangeAt = now;
    const change: LadderChange = {
      at: now,
      action: decision.action,
      rung: decision.rung.name,
      replaces: decision.replaces?.name,
      before,
      after: this.views().filter((r) => r.state !== 'retiring'),
      reason: decision.reason,
    };
    this.#changes.push(change);
    if (this.#changes.length > KEPT_CHANGES) this.#changes.shift();
    this.#o.log.info('hls ladder changed', { action: change.action, rung: change.rung, reason: change.reason });
    this.#o.onChange?.(change);
    return this.#lastDecision;
  }

  /** The rungs as the API shows them (highest bitrate first; the floor last). */
  views(): RungView[] {
    const view = (r: Rung, state: RungView['state']): RungView => ({ name: r.name, videoKbps: r.kbps, height: r.height, copySource: r.copySource, state });
    const jobs = this.#jobs
      .filter((j) => j.stoppedAt === undefined)
      .sort((a, b) => b.rung.kbps - a.rung.kbps)
      .map((j) => view(j.rung, j.retiredAt !== undefined ? 'retiring' : j.rendition.packager.lastCompleteMsn < 0 ? 'joining' : 'live'));
    return [...jobs, view(this.#floor, 'live')];
  }

  /** The ladder's state for the API. */
  view(now = Date.now()): LadderView {
    return {
      rungs: this.views(),
      lastDecision: this.#lastDecision,
      changes: [...this.#changes],
      viewers: this.audience.viewers(now).length,
      sessionsByRendition: this.audience.sessionsByRendition(now),
      encoders: this.pids.length,
    };
  }

  /** Stops every job (packagers end). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#housekeeping);
    for (const j of this.#jobs) {
      j.closeFollower?.();
      j.transcoder.close();
    }
    this.#base.close();
  }

  #listedJobs(): Job[] {
    return this.#jobs.filter((j) => j.retiredAt === undefined && j.stoppedAt === undefined);
  }

  #jobOptions(renditions: RenditionSpec[]) {
    const o = this.#o;
    return {
      stream: o.stream,
      video: o.video,
      renditions,
      audioKbps: o.audioKbps,
      x264Preset: o.x264Preset,
      keyframeRequestIntervalMs: o.keyframeRequestIntervalMs,
      packager: o.packager,
      log: o.log,
      anchor: this.#anchor,
      ffmpegPath: o.ffmpegPath,
    };
  }

  #createJob(rung: Rung): Job {
    const spec: RenditionSpec = { name: rung.name, copySource: rung.copySource, height: rung.height, videoKbps: rung.kbps };
    const job: Job = {
      rung,
      transcoder: new LadderTranscoder({
        ...this.#jobOptions([spec]),
        onEnded: (reason) => {
          if (job.stoppedAt !== undefined || this.#closed) return;
          this.#o.log.warn('hls ladder rung ended', { rung: rung.name, reason });
          job.stoppedAt = Date.now();
        },
        route: (r, deliver) => {
          // Aligned onto the floor's decode-time line, then started on one of its segment boundaries with its number.
          const gate = new SegmentGate(this.#floorPackager, r.packager, deliver);
          const f = this.#aligner.follower(gate.push);
          job.closeFollower = () => {
            f.close();
            gate.close();
          };
          return f.push;
        },
      }),
    } as Job;
    job.rendition = job.transcoder.renditions[0]!;
    this.#jobs.push(job);
    return job;
  }

  async #startJob(job: Job): Promise<void> {
    if (this.#closed) return;
    try {
      await job.transcoder.start();
    } catch (err) {
      job.stoppedAt = Date.now();
      throw err;
    }
  }

  #retire(job: Job, now: number): void {
    job.retiredAt = now;
    job.rendition.retiring = true;
  }

  /** Stops retiring rungs nobody fetched for `retireIdleMs`; forgets stopped ones after the linger. */
  #retireIdle(now = Date.now()): void {
    const requests = this.audience.lastRequests();
    for (const j of this.#jobs) {
      if (j.retiredAt === undefined || j.stoppedAt !== undefined) continue;
      const last = Math.max(requests[j.rung.name] ?? 0, j.retiredAt);
      if (now - last < this.#o.config.retireIdleMs) continue;
      j.stoppedAt = now;
      j.closeFollower?.();
      j.transcoder.close();
      this.#o.log.info('hls ladder rung stopped', { rung: j.rung.name });
    }
    this.#jobs = this.#jobs.filter((j) => j.stoppedAt === undefined || now - j.stoppedAt < this.#o.lingerMs);
  }
}
