/** Prometheus metrics of the cascade, read at scrape time from the coordinator and the manager. */
import client from 'prom-client';
import type { Coordinator } from './Coordinator';
import type { CascadeManager } from './CascadeManager';

/** Registers the cascade's gauges, counters and the pull set-up histogram on `registry`. */
export function registerCascadeMetrics(registry: client.Registry, coordinator: Coordinator, manager: CascadeManager): void {
  new client.Gauge({
    name: 'subsec_cascade_nodes',
    help: 'Live nodes in the cascade registry (this one included)',
    registers: [registry],
    collect() {
      this.set(coordinator.liveNodes().length);
    },
  });
  new client.Gauge({
    name: 'subsec_cascade_coordinator_connected',
    help: '1 while the coordinator (Redis) is reachable',
    registers: [registry],
    collect() {
      this.set(coordinator.connected ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'subsec_cascade_origin_streams',
    help: 'Streams this node is the origin of (leases held)',
    registers: [registry],
    collect() {
      this.set(manager.origins.wanted.filter((w) => w.epoch !== undefined).length);
    },
  });
  new client.Gauge({
    name: 'subsec_cascade_pulls',
    help: 'Streams pulled from other nodes, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = { opening: 0, up: 0 };
      for (const p of manager.pulls()) counts[p.state] = (counts[p.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new client.Gauge({
    name: 'subsec_cascade_pipes_served',
    help: 'Pipes this node serves to other nodes',
    registers: [registry],
    collect() {
      this.set(manager.server.size);
    },
  });
  const setup = new client.Histogram({
    name: 'subsec_cascade_pull_setup_seconds',
    help: 'Time from pull request to producers in place',
    registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  const lost = new client.Counter({ name: 'subsec_cascade_nodes_lost_total', help: 'Nodes declared dead (heartbeat expired or left)', registers: [registry] });
  manager.on('pullUp', (ms) => setup.observe(ms / 1000));
  coordinator.on('nodeDown', () => lost.inc());
}
