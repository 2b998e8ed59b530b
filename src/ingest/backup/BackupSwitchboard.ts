/**
 * The node's streams with primary and backup inputs (docs/backup-ingest.md): one
 * {@link BackupSwitch} per stream, created by its primary's arrival and closed when both inputs
 * are gone. Ingest servers (RTMP, SRT) claim a seat for a publisher that names a role; the
 * switchboard refuses what cannot work with a reason (roles off, a second input of a role, a
 * backup for a stream without primary, a role for a stream that is live without roles), counts
 * switches by reason and reports them as `ingest.switched` webhooks.
 */
import client from 'prom-client';
import type { Logger } from '../../core/logger';
import type { RoomManager } from '../../sfu/RoomManager';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import type { WebhookEventInput } from '../../webhooks/events';
import { NotFoundError } from '../../core/errors';
import type { IngestConfig } from './backupConfig';
import { BackupSwitch, type InputSeat, type SwitchView } from './BackupSwitch';
import type { InputRole } from './inputRole';

/** A publisher's role could not be given; `label` is the metric label, the message the reason the publisher hears. */
export class BackupInputRefused extends Error {
  readonly label: 'backup-off' | 'no-primary' | 'role-taken' | 'conflict';
  constructor(label: BackupInputRefused['label'], message: string) {
    super(message);
    this.name = 'BackupInputRefused';
    this.label = label;
  }
}

/**
 * Claims the `role` seat of `room/stream` for an ingest of `protocol`; a node without a
 * switchboard refuses with `backup-off` (every ingest with a role calls this, not `claim`).
 */
export function claimInputSeat(
  backups: Pick<BackupSwitchboard, 'claim'> | undefined,
  room: string,
  stream: string,
  role: InputRole,
  protocol: string,
): Promise<InputSeat> {
  if (!backups) return Promise.reject(new BackupInputRefused('backup-off', 'primary and backup inputs are off on this node'));
  return backups.claim(room, stream, role, protocol);
}

/** Dependencies of {@link BackupSwitchboard}. */
export interface BackupSwitchboardDeps {
  config: IngestConfig['backup'];
  rooms: RoomManager;
  metrics: SfuMetrics;
  webhooks: (event: WebhookEventInput) => void;
  log: Logger;
}

/** The node's switched streams. */
export class BackupSwitchboard {
  readonly #deps: BackupSwitchboardDeps;
  /** `room/stream` → its switch (a promise while it opens). */
  readonly #switches = new Map<string, Promise<BackupSwitch>>();
  readonly #opened = new Map<string, BackupSwitch>();
  readonly #switchCount: client.Counter<'reason'>;
  readonly #refusals: client.Counter<'reason'>;
  #closed = false;

  constructor(deps: BackupSwitchboardDeps) {
    this.#deps = deps;
    const registers = [deps.metrics.registry];
    const opened = this.#opened;
    this.#switchCount = new client.Counter({
      name: 'subsec_ingest_backup_switches_total',
      help: 'Changes of the live input of streams with primary and backup inputs, by reason (first-input, disconnect, stall, primary-restored)',
      labelNames: ['reason'],
      registers,
    });
    this.#refusals = new client.Counter({
      name: 'subsec_ingest_backup_refused_total',
      help: 'Publishers refused a primary or backup role, by reason (backup-off, no-primary, role-taken, conflict)',
      labelNames: ['reason'],
      registers,
    });
    new client.Gauge({
      name: 'subsec_ingest_backup_streams',
      help: 'Streams with primary and backup inputs, by live input (primary, backup, none)',
      labelNames: ['live'],
      registers,
      collect() {
        const counts = { primary: 0, backup: 0, none: 0 };
        for (const s of opened.values()) counts[s.view().live ?? 'none']++;
        for (const [live, n] of Object.entries(counts)) this.set({ live }, n);
      },
    });
  }

  /**
   * A seat for a publisher of `room/stream` in `role` over `protocol`: the primary opens the
   * stream's switch when there is none; throws {@link BackupInputRefused} with the reason when
   * the role cannot be given.
   */
  async claim(room: string, stream: string, role: InputRole, protocol: string): Promise<InputSeat> {
    const key = `${room}/${stream}`;
    const refuse = (label: BackupInputRefused['label'], message: string): never => {
      this.#refusals.inc({ reason: label });
      throw new BackupInputRefused(label, message);
    };
    if (!this.#deps.config.enabled || this.#closed) refuse('backup-off', 'primary and backup inputs are off on this node (ingest.backup.enabled)');
    let pending = this.#switches.get(key);
    if (!pending) {
      if (role === 'backup') refuse('no-primary', `stream ${key} has no primary input: connect the primary (role=primary) first`);
      const existing = this.#deps.rooms.get(room);
      if (existing && existing.producersOf(stream).length > 0)
        refuse('conflict', `stream ${key} is live with a single input; stop it before publishing inputs with a role`);
      pending = this.#open(room, stream, key);
    }
    const sw = await pending;
    if (sw.closed) refuse('no-primary', `stream ${key} ended while this input was connecting`);
    if (sw.has(role)) refuse('role-taken', `stream ${key} already has a ${role} input (${sw.protocolOf(role)})`);
    return sw.seat(role, protocol);
  }

  /** Every switched stream. */
  list(): SwitchView[] {
    return [...this.#opened.values()].map((s) => s.view()).sort((a, b) => `${a.room}/${a.stream}`.localeCompare(`${b.room}/${b.stream}`));
  }

  /** One switched stream; NotFoundError when there is none. */
  get(room: string, stream: string): SwitchView {
    const sw = this.#opened.get(`${room}/${stream}`);
    if (!sw) throw new NotFoundError(`stream ${room}/${stream} has no primary and backup inputs`);
    return sw.view();
  }

  /** Closes every switch (their inputs' feeds end). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sw of [...this.#opened.values()]) sw.close('node shutting down');
  }

  #open(roomName: string, stream: string, key: string): Promise<BackupSwitch> {
    const { rooms, config, log, webhooks } = this.#deps;
    const opening = (async () => {
      const room = await rooms.getOrCreate(roomName);
      const sw = new BackupSwitch({ room, stream, config });
      sw.on('switched', (e) => {
        this.#switchCount.inc({ reason: e.reason });
        log.info('live input switched', { room: roomName, stream, from: e.from, to: e.to, protocol: e.protocol, reason: e.reason, warmFrames: e.warmFrames });
        webhooks({ type: 'ingest.switched', room: roomName, data: { identity: stream, from: e.from, to: e.to, protocol: e.protocol, reason: e.reason } });
      });
      sw.on('noInput', (reason) => log.warn('no input delivers', { room: roomName, stream, reason }));
      sw.once('closed', (reason) => {
        if (this.#opened.get(key) === sw) this.#opened.delete(key);
        if (this.#switches.get(key) === opening) this.#switches.delete(key);
        log.info('switched stream ended', { room: roomName, stream, reason });
      });
      await sw.open();
      this.#opened.set(key, sw);
      return sw;
    })();
    this.#switches.set(key, opening);
    opening.catch(() => {
      if (this.#switches.get(key) === opening) this.#switches.delete(key);
    });
    return opening;
  }
}
