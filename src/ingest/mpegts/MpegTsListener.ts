/**
 * One MPEG-TS over UDP listener: a UDP port (unicast, or a joined multicast group) whose
 * datagrams carry 188-byte TS packets of one stream, published into a configured room/stream
 * through an owned ffmpeg ({@link FfmpegRtpIngest}, H264 copy + audio → Opus). The first sender
 * owns the stream until it goes silent; datagrams that are not TS (wrong size, no 0x47 sync
 * bytes) or come from another sender are counted and dropped. A stream ffmpeg cannot use ends
 * with its reason, and datagrams are dropped for `retryAfterMs` before ffmpeg is tried again.
 */
import { BackupInputRefused, type BackupSwitchboard, claimInputSeat } from '../backup/BackupSwitchboard';
import type { InputSeat } from '../backup/BackupSwitch';
import type { InputRole } from '../backup/inputRole';
import dgram from 'node:dgram';
import type { Logger } from '../../core/logger';
import type { RoomManager } from '../../sfu/RoomManager';
import { FfmpegRtpIngest } from '../ffmpeg/FfmpegRtpIngest';
import { RefusalLog } from '../RefusalLog';

/** One listener's configuration. */
export interface MpegTsListenerConfig {
  host: string;
  port: number;
  multicastGroup?: string;
  multicastInterface?: string;
  room: string;
  stream: string;
  /** The input's role when the stream has primary and backup inputs. */
  role?: InputRole;
}

/** What happened to a datagram, as a metric label. */
export type DatagramResult = 'accepted' | 'garbage' | 'foreign' | 'dropped';

/** Dependencies of {@link MpegTsListener}. */
export interface MpegTsListenerDeps {
  config: MpegTsListenerConfig;
  settings: { idleTimeoutMs: number; probeTimeoutMs: number; retryAfterMs: number; audioBitrateKbps: number };
  rooms: RoomManager;
  log: Logger;
  /** Counts a datagram. */
  count: (result: DatagramResult) => void;
  /** Counts an ended stream by reason. */
  ended: (label: string) => void;
  /** Seats for a listener with a role (primary/backup inputs); without it such streams are refused with `backup-off`. */
  backups?: Pick<BackupSwitchboard, 'claim'>;
}

const TS_PACKET = 188;
/** Bytes queued for ffmpeg beyond which datagrams are dropped (the node cannot keep up). */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** True when `d` is whole TS packets, each starting with the sync byte. */
export function isMpegTs(d: Buffer): boolean {
  if (d.length === 0 || d.length % TS_PACKET !== 0) return false;
  for (let i = 0; i < d.length; i += TS_PACKET) if (d[i] !== 0x47) return false;
  return true;
}

/** One UDP port of MPEG-TS. */
export class MpegTsListener {
  readonly config: MpegTsListenerConfig;
  readonly #deps: MpegTsListenerDeps;
  readonly #socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  readonly #refusals: RefusalLog;
  #ingest: FfmpegRtpIngest | undefined;
  #sender: string | undefined;
  /** Datagrams that arrived while the room and ffmpeg were being set up. */
  #pending: Buffer[] | undefined;
  #pendingBytes = 0;
  #lastDatagramAt = 0;
  #pausedUntil = 0;
  #idle: NodeJS.Timeout | undefined;
  #port = 0;
  #closed = false;

  constructor(deps: MpegTsListenerDeps) {
    this.#deps = deps;
    this.config = deps.config;
    this.#refusals = new RefusalLog(deps.log);
  }

  /** The bound port (after listen). */
  get port(): number {
    return this.#port;
  }

  /** True while a sender's stream is being ingested. */
  get live(): boolean {
    return this.#ingest?.live ?? false;
  }

  /** Binds (and joins the multicast group). */
  listen(): Promise<number> {
    const { host, port, multicastGroup, multicastInterface } = this.config;
    this.#socket.on('message', (d, from) => this.#onDatagram(d, `${from.address}:${from.port}`));
    this.#socket.on('error', (err) => this.#deps.log.warn('MPEG-TS socket error', { error: err }));
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(port, multicastGroup ? undefined : host, () => {
        this.#socket.off('error', reject);
        try {
          if (multicastGroup) this.#socket.addMembership(multicastGroup, multicastInterface);
        } catch (err) {
          reject(err);
          return;
        }
        this.#port = this.#socket.address().port;
        this.#idle = setInterval(() => this.#checkIdle(), Math.min(500, this.#deps.settings.idleTimeoutMs));
        this.#deps.log.info('MPEG-TS listener ready', {
          address: `udp://${multicastGroup ?? host}:${this.#port}`,
          room: this.config.room,
          stream: this.config.stream,
        });
        resolve(this.#port);
      });
    });
  }

  /** Ends the stream and closes the socket; resolves once ffmpeg has exited. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#idle);
    const ingest = this.#ingest;
    ingest?.close('node shutting down', 'shutdown');
    try {
      this.#socket.close();
    } catch {
      // never bound
    }
    await ingest?.closed;
  }

  #onDatagram(d: Buffer, sender: string): void {
    if (this.#closed) return;
    if (!isMpegTs(d)) return this.#deps.count('garbage');
    if (this.#sender && this.#sender !== sender) {
      this.#refusals.refused(sender.replace(/:\d+$/, ''), 'MPEG-TS datagrams from a second sender dropped', { port: this.#port, owner: this.#sender, sender });
      return this.#deps.count('foreign');
    }
    if (!this.#sender) {
      if (Date.now() < this.#pausedUntil) return this.#deps.count('dropped');
      this.#start(sender);
      if (!this.#sender) return this.#deps.count('dropped');
    }
    this.#lastDatagramAt = Date.now();
    if (this.#pending) {
      if (this.#pendingBytes > MAX_QUEUED_BYTES) return this.#deps.count('dropped');
      this.#pending.push(d);
      this.#pendingBytes += d.length;
      return this.#deps.count('accepted');
    }
    const input = this.#ingest?.input;
    if (!input || input.writableLength > MAX_QUEUED_BYTES) return this.#deps.count('dropped');
    input.write(d);
    this.#deps.count('accepted');
  }

  #start(sender: string): void {
    const { room: roomName, stream } = this.config;
    // A listener with a role shares its stream with the other input: the switchboard decides (see #open).
    const existing = this.config.role ? 0 : (this.#deps.rooms.get(roomName)?.producersOf(stream).length ?? 0);
    if (existing > 0) {
      this.#pausedUntil = Date.now() + this.#deps.settings.retryAfterMs;
      this.#refusals.refused(sender.replace(/:\d+$/, ''), 'MPEG-TS stream refused', {
        port: this.#port,
        room: roomName,
        stream,
        reason: `stream ${roomName}/${stream} is being published by another client`,
      });
      this.#deps.ended('conflict');
      return;
    }
    this.#sender = sender;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#lastDatagramAt = Date.now();
    this.#deps.log.info('MPEG-TS sender started', { port: this.#port, sender, room: roomName, stream });
    this.#open().catch((err: Error) => {
      this.#deps.log.error('MPEG-TS stream setup failed', { port: this.#port, error: err });
      this.#reset('setup-failed');
    });
  }

  async #open(): Promise<void> {
    const { room: roomName, stream, role } = this.config;
    let seat: InputSeat | undefined;
    if (role) {
      try {
        seat = await claimInputSeat(this.#deps.backups, roomName, stream, role, 'mpegts');
      } catch (err) {
        if (!(err instanceof BackupInputRefused)) throw err;
        this.#refusals.refused(this.#sender?.replace(/:\d+$/, '') ?? '', 'MPEG-TS stream refused', {
          port: this.#port,
          room: roomName,
          stream,
          reason: err.message,
        });
        this.#reset(err.label);
        return;
      }
    }
    const room = seat ? seat.room : await this.#deps.rooms.getOrCreate(roomName);
    if (this.#closed) {
      seat?.release();
      return;
    }
    const ingest = new FfmpegRtpIngest({
      room,
      identity: stream,
      kind: 'mpegts',
      stdin: true,
      inputArgs: ['-fflags', 'nobuffer', '-probesize', '1000000', '-analyzeduration', '1000000', '-f', 'mpegts', '-i', 'pipe:0'],
      audioBitrateKbps: this.#deps.settings.audioBitrateKbps,
      probeTimeoutMs: this.#deps.settings.probeTimeoutMs,
      log: this.#deps.log,
    });
    this.#ingest = ingest;
    ingest.on('live', (streams) =>
      this.#deps.log.info('MPEG-TS stream live', {
        port: this.#port,
        room: roomName,
        stream,
        media: streams.map((m) => `${m.type.toLowerCase()}:${m.codec}`).join(','),
      }),
    );
    ingest.once('ended', (reason, label) => {
      seat?.release();
      const level = label === 'idle' || label === 'shutdown' || label === 'input-ended' ? 'info' : 'warn';
      this.#deps.log[level]('MPEG-TS stream ended', {
        port: this.#port,
        room: roomName,
        stream,
        sender: this.#sender,
        reason,
        ...(level === 'warn' ? { ffmpeg: ingest.stderrTail() } : {}),
      });
      if (this.#ingest === ingest) this.#reset(label);
    });
    try {
      await ingest.start();
    } catch (err) {
      seat?.release();
      throw err;
    }
    const input = ingest.input;
    for (const d of this.#pending ?? []) input?.write(d);
    this.#pending = undefined;
  }

  /** Forgets the sender; a stream that failed pauses new tries for `retryAfterMs`. */
  #reset(label: string): void {
    this.#deps.ended(label);
    this.#ingest = undefined;
    this.#sender = undefined;
    this.#pending = undefined;
    if (label !== 'idle' && label !== 'shutdown') this.#pausedUntil = Date.now() + this.#deps.settings.retryAfterMs;
  }

  #checkIdle(): void {
    if (this.#sender && this.#ingest && Date.now() - this.#lastDatagramAt > this.#deps.settings.idleTimeoutMs)
      this.#ingest.close(`sender silent for ${this.#deps.settings.idleTimeoutMs} ms`, 'idle');
  }
}
