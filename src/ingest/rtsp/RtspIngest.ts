/**
 * The node's RTSP pulls: the cameras of `rtsp.sources` plus those added through
 * `POST /v1/ingest/rtsp`, one {@link RtspPull} each, with their metrics and
 * `ingest.online`/`ingest.offline` webhooks.
 */
import type { BackupSwitchboard } from '../backup/BackupSwitchboard';
import client from 'prom-client';
import type { Logger } from '../../core/logger';
import type { Config } from '../../config/schema';
import { InvalidStateError, NotFoundError } from '../../core/errors';
import type { RoomManager } from '../../sfu/RoomManager';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import { RtspPull, type RtspPullView, type RtspSource } from './RtspPull';

/** How pull state changes reach webhooks (the node's WebhookDispatcher.emit, narrowed). */
export type RtspWebhookSink = (
  event:
    | { type: 'ingest.online'; room: string; data: { pullId: string; protocol: string; identity: string; url: string } }
    | { type: 'ingest.offline'; room: string; data: { pullId: string; protocol: string; identity: string; url: string; reason: string } },
) => void;

/** Dependencies of {@link RtspIngest}. */
export interface RtspIngestDeps {
  config: Config['rtsp'];
  rooms: RoomManager;
  metrics: SfuMetrics;
  webhooks: RtspWebhookSink;
  log: Logger;
  /** Seats for cameras with a role (primary/backup inputs); without it such pulls fail with `backup-off`. */
  backups?: Pick<BackupSwitchboard, 'claim'>;
}

/** A source as given (schema-parsed, id optional). */
export type RtspSourceInput = Omit<RtspSource, 'id'> & { id?: string };

/** Every RTSP pull of the node. */
export class RtspIngest {
  readonly #deps: RtspIngestDeps;
  readonly #pulls = new Map<string, RtspPull>();
  readonly #failures: client.Counter<'reason'>;
  #closed = false;

  constructor(deps: RtspIngestDeps) {
    this.#deps = deps;
    const registers = [deps.metrics.registry];
    const pulls = this.#pulls;
    new client.Gauge({
      name: 'subsec_rtsp_pulls',
      help: 'RTSP pulls by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const state of ['connecting', 'online', 'offline']) this.set({ state }, [...pulls.values()].filter((p) => p.state === state).length);
      },
    });
    this.#failures = new client.Counter({
      name: 'subsec_rtsp_failures_total',
      help: 'RTSP pull attempts that failed or dropped, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** Starts the configured sources. */
  start(): void {
    for (const source of this.#deps.config.sources) this.add(source);
  }

  /** Adds and starts a pull; throws InvalidState (id or stream taken, limit). */
  add(input: RtspSourceInput): RtspPullView {
    if (this.#closed) throw new InvalidStateError('node shutting down');
    const source: RtspSource = { ...input, id: input.id ?? `${input.room}-${input.stream}` };
    if (this.#pulls.has(source.id)) throw new InvalidStateError(`pull ${source.id} exists`);
    for (const p of this.#pulls.values()) {
      // A stream with primary and backup inputs may have a camera for each role.
      const otherRole = p.source.role && source.role && p.source.role !== source.role;
      if (p.source.room === source.room && p.source.stream === source.stream && !otherRole)
        throw new InvalidStateError(`stream ${source.room}/${source.stream} is already pulled by ${p.source.id}`);
    }
    if (this.#pulls.size >= this.#deps.config.maxPulls) throw new InvalidStateError(`RTSP pull limit (${this.#deps.config.maxPulls}) reached`);
    const { config, rooms, log, backups } = this.#deps;
    const pull: RtspPull = new RtspPull(source, {
      rooms,
      log,
      backups,
      settings: config,
      isTaken: () => {
        const room = rooms.get(source.room);
        return Boolean(room?.participants.some((p) => p.identity === source.stream && p.kind !== 'rtsp'));
      },
    });
    const base = { pullId: source.id, protocol: 'rtsp', identity: source.stream, url: source.url };
    pull.on('online', () => this.#deps.webhooks({ type: 'ingest.online', room: source.room, data: base }));
    pull.on('offline', (reason) => this.#deps.webhooks({ type: 'ingest.offline', room: source.room, data: { ...base, reason } }));
    pull.on('failed', (_reason, label) => this.#failures.inc({ reason: label }));
    this.#pulls.set(source.id, pull);
    pull.start();
    log.info('RTSP pull added', {
      id: source.id,
      url: source.url,
      room: source.room,
      stream: source.stream,
      transport: source.transport,
      ...(source.role ? { role: source.role } : {}),
    });
    return pull.view();
  }

  /** Stops and removes a pull; throws NotFound. */
  async remove(id: string): Promise<void> {
    const pull = this.#pulls.get(id);
    if (!pull) throw new NotFoundError(`no RTSP pull ${id}`);
    this.#pulls.delete(id);
    await pull.stop();
    this.#deps.log.info('RTSP pull removed', { id });
  }

  /** One pull's view; throws NotFound. */
  get(id: string): RtspPullView {
    const pull = this.#pulls.get(id);
    if (!pull) throw new NotFoundError(`no RTSP pull ${id}`);
    return pull.view();
  }

  /** Every pull's view, by id. */
  list(): RtspPullView[] {
    return [...this.#pulls.values()].map((p) => p.view()).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Stops every pull. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#pulls.keys()].map((id) => this.remove(id)));
  }
}
