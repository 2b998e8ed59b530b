/**
 * The node's SRT listener. Debian's ffmpeg (and srt-live-transmit) accept any caller in
 * listener mode and do not expose its stream id, so the node terminates the SRT handshake on
 * its own UDP port: it answers the induction with a SYN cookie, reads the stream id from the
 * conclusion, checks token, grants, room policy, capacity and conflicts, and answers a refusal
 * with an SRT rejection code the caller reports (e.g. "UNAUTHORIZED"). Accepted callers get an
 * {@link SrtSession} (an ffmpeg listener behind a packet relay). Nothing a caller sends reaches
 * another caller's session; junk and unknown packets are counted and dropped.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import client from 'prom-client';
import type { Logger } from '../../core/logger';
import type { Config } from '../../config/schema';
import type { TokenService } from '../../auth/tokens';
import { grantsRoom } from '../../auth/tokens';
import type { RoomManager } from '../../sfu/RoomManager';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import { HS_CONCLUSION, HS_INDUCTION, inductionResponse, parseHandshake, rejection, RejectReason } from './srtPackets';
import { parseStreamId, type SrtTarget } from './streamId';
import { MEDIA_FAILURES, SrtSession } from './SrtSession';
import { RefusalLog } from '../RefusalLog';
import { BackupInputRefused, type BackupSwitchboard, claimInputSeat } from '../backup/BackupSwitchboard';
import type { InputSeat } from '../backup/BackupSwitch';

/** Dependencies of {@link SrtServer}. */
export interface SrtServerDeps {
  config: Config['srt'];
  rooms: RoomManager;
  tokens: TokenService;
  metrics: SfuMetrics;
  log: Logger;
  /** Streams with primary and backup inputs (callers that add `role=` to the stream id); without it such ids are refused. */
  backups?: BackupSwitchboard;
}

/** A caller whose session was just refused keeps getting the same answer for this long (ms). */
const REJECTION_MEMORY_MS = 5_000;
/** A caller whose media could not be used is refused (NOTSUP_MEDIA, with the reason logged) this long (ms). */
const MEDIA_REFUSAL_MS = 10_000;
/** A publisher silent this long may be replaced by a new caller for the same stream (ms). */
const TAKEOVER_SILENCE_MS = 1_500;

/** The SRT ingest listener. */
export class SrtServer {
  readonly #deps: SrtServerDeps;
  readonly #socket = dgram.createSocket('udp4');
  readonly #secret = crypto.randomBytes(32);
  readonly #socketId = crypto.randomInt(1, 2 ** 31);
  /** `ip:port` of the caller → its session. */
  readonly #byCaller = new Map<string, SrtSession>();
  /** `room/stream` → the session publishing it. */
  readonly #byStream = new Map<string, SrtSession>();
  readonly #rejected = new Map<string, { packet: Buffer; until: number }>();
  readonly #pending = new Set<string>();
  /** `ip|room/stream` → why that caller's last contribution could not be used, until when. */
  readonly #mediaRefusals = new Map<string, { until: number; reason: string; label: string }>();
  readonly #refusalLog: RefusalLog;
  readonly #rejections: client.Counter<'reason'>;
  readonly #ended: client.Counter<'reason'>;
  readonly #junk: client.Counter;
  #port = 0;
  #closed = false;

  constructor(deps: SrtServerDeps) {
    this.#deps = deps;
    this.#refusalLog = new RefusalLog(deps.log);
    const sessions = this.#byCaller;
    const registers = [deps.metrics.registry];
    new client.Gauge({
      name: 'subsec_srt_sessions',
      help: 'Open SRT contributions',
      registers,
      collect() {
        this.set(sessions.size);
      },
    });
    this.#rejections = new client.Counter({ name: 'subsec_srt_rejected_total', help: 'SRT callers refused, by reason', labelNames: ['reason'], registers });
    this.#ended = new client.Counter({ name: 'subsec_srt_sessions_ended_total', help: 'SRT sessions ended, by reason', labelNames: ['reason'], registers });
    this.#junk = new client.Counter({
      name: 'subsec_srt_junk_packets_total',
      help: 'UDP packets on the SRT port that belong to no session and are no handshake',
      registers,
    });
  }

  /** The bound UDP port (after listen). */
  get port(): number {
    return this.#port;
  }

  /** Open sessions by `room/stream`. */
  get sessions(): ReadonlyMap<string, SrtSession> {
    return this.#byStream;
  }

  /** Binds the listener (port 0 = any free port); resolves with the port. */
  listen(): Promise<number> {
    const { host, port } = this.#deps.config;
    this.#socket.on('message', (packet, from) => this.#onPacket(packet, from));
    this.#socket.on('error', (err) => this.#deps.log.warn('SRT socket error', { error: err }));
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(port, host, () => {
        this.#socket.off('error', reject);
        this.#port = this.#socket.address().port;
        this.#deps.log.info('SRT listener ready', {
          address: `srt://${host}:${this.#port}`,
          latencyMs: this.#deps.config.latencyMs,
          encrypted: Boolean(this.#deps.config.passphrase),
        });
        resolve(this.#port);
      });
    });
  }

  /** Ends every session, waits for their ffmpeg processes, closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sessions = [...this.#byCaller.values()];
    for (const s of sessions) s.close('node shutting down', 'shutdown');
    await Promise.all(sessions.map((s) => s.closed));
    try {
      this.#socket.close();
    } catch {
      // never bound
    }
  }

  #onPacket(packet: Buffer, from: dgram.RemoteInfo): void {
    const key = `${from.address}:${from.port}`;
    const session = this.#byCaller.get(key);
    if (session) return session.fromCaller(packet);
    const hs = parseHandshake(packet);
    if (!hs) return this.#junk.inc();
    const send = (p: Buffer) => this.#socket.send(p, from.port, from.address);
    if (hs.type === HS_INDUCTION) return send(inductionResponse(packet, this.#cookie(key, 0), this.#socketId));
    if (hs.type !== HS_CONCLUSION) return this.#junk.inc();
    const remembered = this.#rejected.get(key);
    if (remembered && remembered.until > Date.now()) return send(remembered.packet);
    if (this.#pending.has(key)) return; // a retransmitted conclusion while we authorize
    if (hs.cookie !== this.#cookie(key, 0) && hs.cookie !== this.#cookie(key, -1)) return this.#junk.inc();
    this.#pending.add(key);
    const arrivedAt = performance.now();
    this.#admit(packet, arrivedAt, hs.streamId, hs.socketId, key, from, send)
      .catch((err) => {
        this.#deps.log.error('SRT session failed to start', { remote: key, error: err });
        this.#refuse(packet, key, send, RejectReason.OVERLOAD, 'internal', 'internal error');
      })
      .finally(() => this.#pending.delete(key));
  }

  async #admit(
    packet: Buffer,
    arrivedAt: number,
    streamId: string | undefined,
    callerSocketId: number,
    key: string,
    from: dgram.RemoteInfo,
    send: (p: Buffer) => void,
  ): Promise<void> {
    const { config, rooms, tokens } = this.#deps;
    const refuse = (code: number, label: string, why: string, target?: SrtTarget) => this.#refuse(packet, key, send, code, label, why, target);
    if (this.#closed) return refuse(RejectReason.OVERLOAD, 'shutdown', 'node shutting down');
    const target = parseStreamId(streamId);
    if ('error' in target) return refuse(RejectReason.BAD_REQUEST, 'bad-streamid', target.error);
    if (target.mode !== 'publish') return refuse(RejectReason.BAD_MODE, 'bad-mode', `mode "${target.mode}" is not supported (publish only)`, target);
    let token;
    try {
      token = await tokens.verify(target.token);
    } catch (err) {
      return refuse(RejectReason.UNAUTHORIZED, 'unauthorized', (err as Error).message, target);
    }
    const mediaKey = `${from.address}|${target.room}/${target.stream}`;
    const mediaRefusal = this.#mediaRefusals.get(mediaKey);
    if (mediaRefusal && mediaRefusal.until > Date.now()) {
      return refuse(RejectReason.NOTSUP_MEDIA, mediaRefusal.label, `the last contribution could not be used: ${mediaRefusal.reason}`, target);
    }
    if (!grantsRoom(token, target.room)) return refuse(RejectReason.FORBIDDEN, 'forbidden', `token is not valid for room ${target.room}`, target);
    try {
      await tokens.admission?.check(token, target.room);
    } catch (err) {
      return refuse(RejectReason.FORBIDDEN, 'banned', (err as Error).message, target);
    }
    if (!token.canPublish) return refuse(RejectReason.FORBIDDEN, 'forbidden', 'token does not allow publishing', target);
    if (token.identity !== target.stream && !token.admin)
      return refuse(RejectReason.FORBIDDEN, 'forbidden', `token identity "${token.identity}" may not publish stream "${target.stream}"`, target);
    const existingRoom = rooms.get(target.room);
    if (!existingRoom && !config.allowRoomCreation) return refuse(RejectReason.NOT_FOUND, 'room-not-found', `room ${target.room} does not exist`, target);
    const streamKey = `${target.room}/${target.stream}${target.role ? `#${target.role}` : ''}`;
    const current = this.#byStream.get(streamKey);
    if (current) {
      if (Date.now() - current.lastCallerPacketAt < TAKEOVER_SILENCE_MS) {
        return target.role
          ? refuse(RejectReason.CONFLICT, 'role-taken', `stream ${target.room}/${target.stream} already has a ${target.role} input (srt)`, target)
          : refuse(RejectReason.CONFLICT, 'conflict', `stream ${streamKey} is already being published`, target);
      }
      current.close('a new caller took over the silent stream', 'replaced');
    } else if (!target.role && existingRoom && existingRoom.producersOf(target.stream).length > 0) {
      return refuse(RejectReason.CONFLICT, 'conflict', `stream ${streamKey} is already being published by another client`, target);
    }
    if (this.#byCaller.size >= config.maxSessions)
      return refuse(RejectReason.OVERLOAD, 'capacity', `SRT session limit (${config.maxSessions}) reached`, target);
    let seat: InputSeat | undefined;
    if (target.role) {
      try {
        seat = await claimInputSeat(this.#deps.backups, target.room, target.stream, target.role, 'srt');
      } catch (err) {
        if (!(err instanceof BackupInputRefused)) throw err;
        const code = err.label === 'backup-off' ? RejectReason.FORBIDDEN : err.label === 'no-primary' ? RejectReason.NOT_FOUND : RejectReason.CONFLICT;
        return refuse(code, err.label, err.message, target);
      }
    }
    const room = seat ? seat.room : await rooms.getOrCreate(target.room);
    const session = new SrtSession({
      room,
      target,
      conclusion: packet,
      conclusionAt: arrivedAt,
      callerSocketId,
      sendToCaller: send,
      config,
      log: this.#deps.log,
    });
    this.#byCaller.set(key, session);
    this.#byStream.set(streamKey, session);
    session.once('ended', (reason, label) => {
      seat?.release();
      if (this.#byCaller.get(key) === session) this.#byCaller.delete(key);
      if (this.#byStream.get(streamKey) === session) this.#byStream.delete(streamKey);
      this.#ended.inc({ reason: label });
      if (MEDIA_FAILURES.has(label)) {
        this.#mediaRefusals.set(mediaKey, { until: Date.now() + MEDIA_REFUSAL_MS, reason, label });
        if (this.#mediaRefusals.size > 1000) for (const [k, v] of this.#mediaRefusals) if (v.until < Date.now()) this.#mediaRefusals.delete(k);
      }
      if (label === 'rejected-media' || label === 'rejected-handshake')
        this.#rejections.inc({ reason: label === 'rejected-media' ? 'unsupported-media' : 'handshake' });
    });
    this.#deps.log.info('SRT caller accepted', { remote: `${from.address}:${from.port}`, room: target.room, stream: target.stream });
    try {
      await session.start();
    } catch (err) {
      session.close(`session setup failed: ${(err as Error).message}`, 'ffmpeg-failed');
      throw err;
    }
  }

  #refuse(packet: Buffer, key: string, send: (p: Buffer) => void, code: number, label: string, why: string, target?: SrtTarget): void {
    const answer = rejection(packet, code);
    this.#rejected.set(key, { packet: answer, until: Date.now() + REJECTION_MEMORY_MS });
    if (this.#rejected.size > 1000) for (const [k, v] of this.#rejected) if (v.until < Date.now()) this.#rejected.delete(k);
    this.#rejections.inc({ reason: label });
    // One line per source, stream and reason per 10 s: a caller retrying in a loop is counted, not logged each time.
    this.#refusalLog.refused(`${key.replace(/:\d+$/, '')}|${target?.room}/${target?.stream}|${label}`, 'SRT caller refused', {
      remote: key,
      room: target?.room,
      stream: target?.stream,
      code,
      reason: why,
    });
    send(answer);
  }

  /** SYN cookie of a caller address for the current (0) or previous (-1) minute. */
  #cookie(key: string, minuteOffset: number): number {
    const minute = Math.floor(Date.now() / 60_000) + minuteOffset;
    return crypto.createHmac('sha256', this.#secret).update(`${key}|${minute}`).digest().readUInt32BE(0);
  }
}
