/**
 * The node's RTMP (and RTMPS) listener. Each TCP client gets an {@link RtmpConnection}; a
 * `publish` is checked here (stream key, token, grants, bans, room policy, conflicts, capacity)
 * and, when allowed, its FLV is piped into an owned ffmpeg ({@link FfmpegRtpIngest}) that passes
 * H264 through and transcodes audio to Opus into the room. Refusals and ends are logged (refusals
 * at most once per source per 10 s) and counted by reason. A client's faults end its connection
 * alone.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import client from 'prom-client';
import type { Logger } from '../../core/logger';
import type { Config } from '../../config/schema';
import type { TokenService } from '../../auth/tokens';
import type { RoomManager } from '../../sfu/RoomManager';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import { authorizePublish } from '../authorizePublish';
import { RefusalLog } from '../RefusalLog';
import { FfmpegRtpIngest } from '../ffmpeg/FfmpegRtpIngest';
import { BackupInputRefused, type BackupSwitchboard, claimInputSeat } from '../backup/BackupSwitchboard';
import type { InputSeat } from '../backup/BackupSwitch';
import { RtmpConnection, type PublishDecision } from './RtmpConnection';
import { parseStreamKey, type RtmpTarget } from './streamKey';

/** Dependencies of {@link RtmpServer}. */
export interface RtmpServerDeps {
  config: Config['rtmp'];
  rooms: RoomManager;
  tokens: TokenService;
  metrics: SfuMetrics;
  log: Logger;
  /** Streams with primary and backup inputs (publishers that add `role=` to the key); without it such keys are refused. */
  backups?: BackupSwitchboard;
}

/** A live RTMP publisher. */
export interface RtmpPublisher {
  target: RtmpTarget;
  remote: string;
  connection: RtmpConnection;
  ingest: FfmpegRtpIngest;
}

/** The RTMP ingest listener. */
export class RtmpServer {
  readonly #deps: RtmpServerDeps;
  readonly #servers: net.Server[] = [];
  readonly #connections = new Set<RtmpConnection>();
  /** `room/stream` → its publisher (reserved while it starts). */
  readonly #byStream = new Map<string, RtmpPublisher | 'starting'>();
  readonly #refusalLog: RefusalLog;
  readonly #rejections: client.Counter<'reason'>;
  readonly #ended: client.Counter<'reason'>;
  readonly #connectionErrors: client.Counter<'reason'>;
  #port = 0;
  #tlsPort = 0;
  #closed = false;

  constructor(deps: RtmpServerDeps) {
    this.#deps = deps;
    this.#refusalLog = new RefusalLog(deps.log);
    const registers = [deps.metrics.registry];
    const connections = this.#connections;
    const byStream = this.#byStream;
    new client.Gauge({
      name: 'subsec_rtmp_connections',
      help: 'Open RTMP(S) connections',
      registers,
      collect() {
        this.set(connections.size);
      },
    });
    new client.Gauge({
      name: 'subsec_rtmp_publishers',
      help: 'Live RTMP publishers',
      registers,
      collect() {
        this.set([...byStream.values()].filter((p) => p !== 'starting').length);
      },
    });
    this.#rejections = new client.Counter({ name: 'subsec_rtmp_rejected_total', help: 'RTMP publishes refused, by reason', labelNames: ['reason'], registers });
    this.#ended = new client.Counter({
      name: 'subsec_rtmp_sessions_ended_total',
      help: 'RTMP publishing sessions ended, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#connectionErrors = new client.Counter({
      name: 'subsec_rtmp_connection_errors_total',
      help: 'RTMP connections closed for a protocol fault or timeout before publishing, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** The bound RTMP port (after listen). */
  get port(): number {
    return this.#port;
  }

  /** The bound RTMPS port (after listen; 0 when RTMPS is off). */
  get tlsPort(): number {
    return this.#tlsPort;
  }

  /** Live publishers by `room/stream`. */
  get publishers(): ReadonlyMap<string, RtmpPublisher> {
    const out = new Map<string, RtmpPublisher>();
    for (const [k, v] of this.#byStream) if (v !== 'starting') out.set(k, v);
    return out;
  }

  /** Binds the listeners (port 0 = any free port). */
  async listen(): Promise<void> {
    const { config, log } = this.#deps;
    this.#port = await this.#bind(net.createServer(), config.port);
    log.info('RTMP listener ready', { address: `rtmp://${config.host}:${this.#port}/${config.app}` });
    if (config.tls.enabled) {
      const server = tls.createServer({ cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) });
      server.on('tlsClientError', (err) => {
        this.#connectionErrors.inc({ reason: 'tls' });
        log.debug('RTMPS TLS error', { error: err });
      });
      this.#tlsPort = await this.#bind(server, config.tls.port, 'secureConnection');
      log.info('RTMPS listener ready', { address: `rtmps://${config.host}:${this.#tlsPort}/${config.app}` });
    }
  }

  /** Ends every connection and publisher, waits for their ffmpeg processes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#servers) s.close();
    const ingests = [...this.#byStream.values()].filter((p): p is RtmpPublisher => p !== 'starting').map((p) => p.ingest);
    for (const c of this.#connections) c.terminate('NetStream.Publish.Failed', 'node shutting down');
    for (const i of ingests) i.close('node shutting down');
    await Promise.all(ingests.map((i) => i.closed));
  }

  #bind(server: net.Server, port: number, event: 'connection' | 'secureConnection' = 'connection'): Promise<number> {
    this.#servers.push(server);
    server.on(event, (socket: net.Socket) => this.#onSocket(socket));
    server.on('error', (err) => this.#deps.log.warn('RTMP listener error', { error: err }));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.#deps.config.host, () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  #onSocket(socket: net.Socket): void {
    const { config } = this.#deps;
    if (this.#closed || this.#connections.size >= config.maxConnections) {
      this.#connectionErrors.inc({ reason: this.#closed ? 'shutdown' : 'too-many-connections' });
      socket.destroy();
      return;
    }
    const connection: RtmpConnection = new RtmpConnection({
      socket,
      hooks: { publish: (app, name) => this.#publish(connection, app, name) },
      maxMessageBytes: config.maxMessageBytes,
      publishTimeoutMs: config.publishTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
    });
    this.#connections.add(connection);
    connection.once('ended', (reason, label) => {
      this.#connections.delete(connection);
      const publisher = [...this.#byStream.values()].find((p): p is RtmpPublisher => p !== 'starting' && p.connection === connection);
      if (publisher) return publisher.ingest.close(reason, label === 'client-left' ? 'publisher-left' : label);
      if (label === 'client-left' || label === 'refused') return;
      this.#connectionErrors.inc({ reason: label });
      this.#deps.log.debug('RTMP connection closed', { remote: connection.remote, reason });
    });
  }

  async #publish(connection: RtmpConnection, app: string, name: string): Promise<PublishDecision> {
    const { config, rooms, tokens } = this.#deps;
    const refuse = (code: string, label: string, reason: string, target?: RtmpTarget): PublishDecision => {
      this.#rejections.inc({ reason: label });
      this.#refusalLog.refused(`${connection.remote.replace(/:\d+$/, '')}|${target?.room}/${target?.stream}|${label}`, 'RTMP publisher refused', {
        remote: connection.remote,
        room: target?.room,
        stream: target?.stream,
        code,
        reason,
      });
      return { refused: { code, reason } };
    };
    if (this.#closed) return refuse('NetStream.Publish.Failed', 'shutdown', 'node shutting down');
    const target = parseStreamKey(app, name, config.app);
    if ('error' in target) return refuse('NetStream.Publish.BadName', 'bad-key', target.error);
    const refusal = await authorizePublish({ tokens, rooms, allowRoomCreation: config.allowRoomCreation }, target.room, target.stream, target.token);
    if (refusal) return refuse('NetStream.Publish.Denied', refusal.label, refusal.reason, target);
    const key = `${target.room}/${target.stream}${target.role ? `#${target.role}` : ''}`;
    if (this.#byStream.has(key))
      return target.role
        ? refuse('NetStream.Publish.BadName', 'role-taken', `stream ${target.room}/${target.stream} already has a ${target.role} input (rtmp)`, target)
        : refuse('NetStream.Publish.BadName', 'conflict', `stream ${key} is already being published`, target);
    if (!target.role && (rooms.get(target.room)?.producersOf(target.stream).length ?? 0) > 0)
      return refuse('NetStream.Publish.BadName', 'conflict', `stream ${key} is already being published by another client`, target);
    if ([...this.#byStream.values()].length >= config.maxSessions)
      return refuse('NetStream.Publish.Denied', 'capacity', `RTMP publisher limit (${config.maxSessions}) reached`, target);
    this.#byStream.set(key, 'starting');
    let seat: InputSeat | undefined;
    try {
      if (target.role) {
        const backups = this.#deps.backups;
        try {
          seat = await claimInputSeat(backups, target.room, target.stream, target.role, 'rtmp');
        } catch (err) {
          if (!(err instanceof BackupInputRefused)) throw err;
          if (this.#byStream.get(key) === 'starting') this.#byStream.delete(key);
          return refuse('NetStream.Publish.BadName', err.label, err.message, target);
        }
      }
      const room = seat ? seat.room : await rooms.getOrCreate(target.room);
      const ingest = new FfmpegRtpIngest({
        room,
        identity: target.stream,
        kind: 'rtmp',
        stdin: true,
        videoBitstreamFilter: 'h264_mp4toannexb',
        inputArgs: ['-fflags', 'nobuffer', '-probesize', '1000000', '-analyzeduration', '1000000', '-f', 'flv', '-i', 'pipe:0'],
        audioBitrateKbps: config.audioBitrateKbps,
        probeTimeoutMs: config.probeTimeoutMs,
        log: this.#deps.log,
      });
      const publisher: RtmpPublisher = { target, remote: connection.remote, connection, ingest };
      ingest.once('ended', (reason, label) => {
        seat?.release();
        if (this.#byStream.get(key) === publisher) this.#byStream.delete(key);
        this.#ended.inc({ reason: label });
        const level = label === 'publisher-left' || label === 'unpublished' || label === 'input-ended' || label === 'closed' ? 'info' : 'warn';
        this.#deps.log[level]('RTMP session ended', {
          remote: connection.remote,
          room: target.room,
          stream: target.stream,
          reason,
          ...(level === 'warn' ? { ffmpeg: ingest.stderrTail() } : {}),
        });
        // The client learns why when the media could not be used.
        connection.terminate(
          label === 'unsupported-media' || label === 'no-parameter-sets' || label === 'invalid-data'
            ? 'NetStream.Publish.Rejected'
            : 'NetStream.Publish.Failed',
          reason,
          'terminated',
        );
      });
      ingest.on('live', (streams) =>
        this.#deps.log.info('RTMP stream live', {
          room: target.room,
          stream: target.stream,
          ...(target.role ? { role: target.role } : {}),
          media: streams.map((s) => `${s.type.toLowerCase()}:${s.codec}`).join(','),
        }),
      );
      this.#byStream.set(key, publisher);
      await ingest.start();
      this.#deps.log.info('RTMP publisher accepted', { remote: connection.remote, room: target.room, stream: target.stream });
      return {
        sink: {
          write: (flv) => ingest.input?.write(flv) ?? true,
          onDrain: (cb) => {
            const input = ingest.input;
            if (input) input.once('drain', cb);
            else cb();
          },
        },
      };
    } catch (err) {
      seat?.release();
      if (this.#byStream.get(key) === 'starting') this.#byStream.delete(key);
      const p = this.#byStream.get(key);
      if (p && p !== 'starting' && p.connection === connection) p.ingest.close(`setup failed: ${(err as Error).message}`, 'ffmpeg-failed');
      this.#deps.log.error('RTMP publisher setup failed', { remote: connection.remote, error: err });
      return refuse('NetStream.Publish.Failed', 'internal', `internal error: ${(err as Error).message}`, target);
    }
  }
}
