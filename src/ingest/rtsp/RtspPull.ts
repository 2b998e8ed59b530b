/**
 * One RTSP camera the node pulls: an owned ffmpeg is the RTSP client (DESCRIBE/SETUP/PLAY with
 * Basic or Digest auth, RTP over TCP-interleaved or UDP, depacketizing, reordering), H264 copied
 * with SPS/PPS put before every key frame, audio transcoded to Opus, into an {@link RtpFeed}.
 * When the camera fails or drops, the pull retries with a capped exponential backoff until it
 * is stopped; its state and the last failure are kept for the API, and `online`/`offline` events
 * mark the transitions (the owner turns them into webhooks).
 */
import { BackupInputRefused, type BackupSwitchboard, claimInputSeat } from '../backup/BackupSwitchboard';
import type { InputSeat } from '../backup/BackupSwitch';
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import type { Logger } from '../../core/logger';
import type { rtspSourceSchema } from '../../config/schema';
import type { RoomManager } from '../../sfu/RoomManager';
import { FfmpegRtpIngest } from '../ffmpeg/FfmpegRtpIngest';

/** A configured camera (schema defaults applied). */
export type RtspSource = z.infer<typeof rtspSourceSchema> & { id: string };

/** Where a pull stands. */
export type RtspPullState = 'connecting' | 'online' | 'offline' | 'stopped';

/** Timing and transcoding of pulls. */
export interface RtspPullSettings {
  reconnectMinMs: number;
  reconnectMaxMs: number;
  ioTimeoutMs: number;
  probeTimeoutMs: number;
  audioBitrateKbps: number;
}

/** Events of {@link RtspPull}. */
export interface RtspPullEvents {
  online: [];
  offline: [reason: string, label: string];
  /** Every failed attempt (offline is only the first of an outage). */
  failed: [reason: string, label: string];
}

/** The API's view of a pull (no credentials). */
export interface RtspPullView {
  id: string;
  url: string;
  room: string;
  stream: string;
  transport: 'tcp' | 'udp';
  /** Its role when the stream has primary and backup inputs. */
  role: 'primary' | 'backup' | null;
  hasCredentials: boolean;
  state: RtspPullState;
  /** Failed attempts since it was last online. */
  failures: number;
  lastError: string | null;
  lastErrorLabel: string | null;
  /** When it last came online (ISO 8601). */
  onlineSince: string | null;
  /** When the next attempt starts, while offline (ISO 8601). */
  nextAttemptAt: string | null;
  /** Media ffmpeg found (e.g. `video:h264`, `audio:pcm_alaw`), while online. */
  media: string[];
}

/** The camera URL with credentials for ffmpeg (percent-encoded userinfo). */
export function urlWithCredentials(source: Pick<RtspSource, 'url' | 'username' | 'password'>): string {
  if (!source.username) return source.url;
  const user = encodeURIComponent(source.username);
  const pass = source.password !== undefined ? `:${encodeURIComponent(source.password)}` : '';
  return source.url.replace(/^(rtsps?:\/\/)/, `$1${user}${pass}@`);
}

/** One pulled camera. */
export class RtspPull extends EventEmitter<RtspPullEvents> {
  readonly source: RtspSource;
  readonly #rooms: RoomManager;
  readonly #settings: RtspPullSettings;
  readonly #log: Logger;
  /** Whether the stream name is taken by another publisher (the pull then waits). */
  readonly #isTaken: () => boolean;
  /** Seats for a camera with a role. */
  readonly #backups: Pick<BackupSwitchboard, 'claim'> | undefined;
  #state: RtspPullState = 'connecting';
  #ingest: FfmpegRtpIngest | undefined;
  #failures = 0;
  #lastError: { reason: string; label: string } | undefined;
  #onlineSince: number | undefined;
  #nextAttemptAt: number | undefined;
  #retry: NodeJS.Timeout | undefined;
  #reportedOffline = false;

  constructor(
    source: RtspSource,
    deps: { rooms: RoomManager; settings: RtspPullSettings; log: Logger; isTaken: () => boolean; backups?: Pick<BackupSwitchboard, 'claim'> | undefined },
  ) {
    super();
    this.source = source;
    this.#rooms = deps.rooms;
    this.#settings = deps.settings;
    this.#log = deps.log;
    this.#isTaken = deps.isTaken;
    this.#backups = deps.backups;
  }

  /** Current state. */
  get state(): RtspPullState {
    return this.#state;
  }

  /** Starts the first attempt. */
  start(): void {
    this.#attempt();
  }

  /** Stops pulling (the feed leaves its room); resolves once ffmpeg has exited. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#retry);
    const ingest = this.#ingest;
    ingest?.close('pull removed', 'closed');
    await ingest?.closed;
  }

  /** The API's view. */
  view(): RtspPullView {
    const s = this.source;
    return {
      id: s.id,
      url: s.url,
      room: s.room,
      stream: s.stream,
      transport: s.transport,
      role: s.role ?? null,
      hasCredentials: Boolean(s.username),
      state: this.#state,
      failures: this.#failures,
      lastError: this.#lastError?.reason ?? null,
      lastErrorLabel: this.#lastError?.label ?? null,
      onlineSince: this.#state === 'online' && this.#onlineSince ? new Date(this.#onlineSince).toISOString() : null,
      nextAttemptAt: this.#state === 'offline' && this.#nextAttemptAt ? new Date(this.#nextAttemptAt).toISOString() : null,
      media: this.#state === 'online' ? (this.#ingest?.streams ?? []).map((m) => `${m.type.toLowerCase()}:${m.codec}`) : [],
    };
  }

  #attempt(): void {
    if (this.#state === 'stopped') return;
    // Retries of an offline camera stay `offline` until media flows again.
    if (this.#state !== 'offline') this.#state = 'connecting';
    // A camera with a role shares its stream with the other input: the switchboard decides (see #run).
    if (!this.source.role && this.#isTaken())
      return this.#failed(`stream ${this.source.room}/${this.source.stream} is being published by another client`, 'conflict');
    this.#run().catch((err: Error) => this.#failed(`cannot start the pull: ${err.message}`, 'internal'));
  }

  async #run(): Promise<void> {
    const { source } = this;
    let seat: InputSeat | undefined;
    if (source.role) {
      try {
        seat = await claimInputSeat(this.#backups, source.room, source.stream, source.role, 'rtsp');
      } catch (err) {
        if (err instanceof BackupInputRefused) return this.#failed(err.message, err.label);
        throw err;
      }
    }
    const room = seat ? seat.room : await this.#rooms.getOrCreate(source.room);
    if (this.#state === 'stopped') {
      seat?.release();
      return;
    }
    const us = (ms: number) => String(ms * 1000);
    const ingest = new FfmpegRtpIngest({
      room,
      identity: source.stream,
      kind: 'rtsp',
      stdin: false,
      joinWebhooks: false,
      // SPS/PPS from the SDP go before every key frame: cameras that send them out of band only still start viewers.
      videoBitstreamFilter: 'dump_extra=freq=keyframe',
      // Cameras that repeat SPS/PPS before every slice of a key frame get it split by ffmpeg's parser.
      joinAccessUnits: true,
      inputArgs: [
        '-rtsp_transport',
        source.transport,
        '-timeout',
        us(this.#settings.ioTimeoutMs),
        '-fflags',
        'nobuffer',
        '-probesize',
        '500000',
        '-analyzeduration',
        '1000000',
        '-i',
        urlWithCredentials(source),
      ],
      audioBitrateKbps: this.#settings.audioBitrateKbps,
      probeTimeoutMs: this.#settings.probeTimeoutMs,
      log: this.#log,
    });
    this.#ingest = ingest;
    ingest.once('live', () => {
      if (this.#state === 'stopped') return;
      this.#state = 'online';
      this.#failures = 0;
      this.#onlineSince = Date.now();
      this.#reportedOffline = false;
      this.#log.info('RTSP camera online', {
        id: source.id,
        room: source.room,
        stream: source.stream,
        media: ingest.streams.map((m) => `${m.type.toLowerCase()}:${m.codec}`).join(','),
      });
      this.emit('online');
    });
    ingest.once('ended', (reason, label) => {
      seat?.release();
      if (this.#ingest === ingest) this.#ingest = undefined;
      if (this.#state === 'stopped') return;
      this.#failed(label === 'input-ended' ? 'the camera closed the stream or the connection dropped' : reason, label);
    });
    try {
      await ingest.start();
    } catch (err) {
      seat?.release();
      throw err;
    }
  }

  #failed(reason: string, label: string): void {
    if (this.#state === 'stopped') return;
    const wasOnline = this.#state === 'online';
    this.#failures++;
    this.#lastError = { reason, label };
    this.#state = 'offline';
    const delay = Math.min(this.#settings.reconnectMaxMs, this.#settings.reconnectMinMs * 2 ** Math.min(20, this.#failures - 1));
    this.#nextAttemptAt = Date.now() + delay;
    this.emit('failed', reason, label);
    // One offline notice per outage: when an online camera fails, or the first failure of a new pull.
    if (wasOnline || !this.#reportedOffline) {
      this.#reportedOffline = true;
      this.#log.warn('RTSP camera offline', { id: this.source.id, room: this.source.room, stream: this.source.stream, reason, retryInMs: delay });
      this.emit('offline', reason, label);
    } else {
      this.#log.debug('RTSP attempt failed', { id: this.source.id, reason, failures: this.#failures, retryInMs: delay });
    }
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#attempt(), delay);
  }
}
