/** This node's entry of `/v1/nodes`: identity, uptime, counts and load. */
import type { Config } from '../config/schema';
import type { WorkerPool } from '../sfu/WorkerPool';
import type { RoomManager } from '../sfu/RoomManager';
import type { WebRtcServerPool } from '../sfu/WebRtcServerPool';
import type { ConsumerIndex } from './ConsumerIndex';
import type { NodeView } from './ApiDeps';

/** What {@link localNodeInfo} reads. */
export interface LocalNodeSource {
  config: Config;
  url: string;
  startedAt: number;
  draining: boolean;
  pool: WorkerPool;
  rooms: RoomManager;
  consumers: ConsumerIndex;
  webRtcServers?: WebRtcServerPool;
}

/** Builds the node's entry from live state. */
export async function localNodeInfo(s: LocalNodeSource): Promise<NodeView> {
  const rooms = s.rooms.rooms.filter((r) => !r.closed);
  const workers = s.pool.workers;
  let consumers = 0;
  for (const r of rooms) for (const slot of r.slots) consumers += s.consumers.onRouter(slot.router.id);
  const capacity = Math.max(1, workers.length) * s.config.sfu.consumersPerRouter;
  return {
    id: s.config.node.id,
    region: s.config.node.region,
    url: s.url,
    self: true,
    draining: s.draining,
    startedAt: new Date(s.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - s.startedAt) / 1000),
    rooms: rooms.length,
    participants: rooms.reduce((n, r) => n + r.participants.length, 0),
    tracks: rooms.reduce((n, r) => n + r.producerInfos().length, 0),
    consumers,
    load: Math.round((consumers / capacity) * 1000) / 1000,
    workers: workers.map((w) => ({ index: w.index, pid: w.worker.pid, routers: w.routers, consumers: w.consumers })),
    webRtcServers: s.webRtcServers ? await s.webRtcServers.listening(workers.map((w) => w.worker)) : [],
  };
}
