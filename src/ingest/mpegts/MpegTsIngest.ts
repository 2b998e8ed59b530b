/** The node's MPEG-TS over UDP listeners (`mpegts.listeners`), with their metrics. */
import type { BackupSwitchboard } from '../backup/BackupSwitchboard';
import client from 'prom-client';
import type { Logger } from '../../core/logger';
import type { Config } from '../../config/schema';
import type { RoomManager } from '../../sfu/RoomManager';
import type { SfuMetrics } from '../../metrics/SfuMetrics';
import { MpegTsListener } from './MpegTsListener';

/** Dependencies of {@link MpegTsIngest}. */
export interface MpegTsIngestDeps {
  config: Config['mpegts'];
  rooms: RoomManager;
  metrics: SfuMetrics;
  log: Logger;
  /** Seats for listeners with a role (primary/backup inputs). */
  backups?: Pick<BackupSwitchboard, 'claim'>;
}

/** Every MPEG-TS listener of the node. */
export class MpegTsIngest {
  /** The listeners, in config order. */
  readonly listeners: MpegTsListener[];

  constructor(deps: MpegTsIngestDeps) {
    const registers = [deps.metrics.registry];
    const datagrams = new client.Counter({
      name: 'subsec_mpegts_datagrams_total',
      help: 'UDP datagrams on MPEG-TS listeners: accepted, garbage (not TS), foreign (a second sender), dropped (paused or overloaded)',
      labelNames: ['result'],
      registers,
    });
    const ended = new client.Counter({
      name: 'subsec_mpegts_streams_ended_total',
      help: 'MPEG-TS streams ended (or refused), by reason',
      labelNames: ['reason'],
      registers,
    });
    const { idleTimeoutMs, probeTimeoutMs, retryAfterMs, audioBitrateKbps } = deps.config;
    this.listeners = deps.config.listeners.map(
      (config) =>
        new MpegTsListener({
          config,
          rooms: deps.rooms,
          log: deps.log,
          settings: { idleTimeoutMs, probeTimeoutMs, retryAfterMs, audioBitrateKbps },
          count: (result) => datagrams.inc({ result }),
          ended: (reason) => ended.inc({ reason }),
          backups: deps.backups,
        }),
    );
    const listeners = this.listeners;
    new client.Gauge({
      name: 'subsec_mpegts_live_streams',
      help: 'MPEG-TS listeners whose stream is live',
      registers,
      collect() {
        this.set(listeners.filter((l) => l.live).length);
      },
    });
  }

  /** Binds every listener. */
  async start(): Promise<void> {
    for (const l of this.listeners) await l.listen();
  }

  /** Closes every listener. */
  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close()));
  }
}
