/** Prometheus metrics of the MoQ relay, read from its counters at scrape time. */
import client from 'prom-client';
import type { RelayStats } from '../../relay/RelayStats';

/** Registers `subsec_moq_*` metrics on `registry`. */
export function registerMoqMetrics(registry: client.Registry, stats: RelayStats): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const counter = (name: string, help: string, read: () => number) => {
    let last = 0;
    return new client.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v > last) this.inc(v - last);
        last = Math.max(last, v);
      },
    });
  };
  gauge('subsec_moq_sessions', 'Open MoQ sessions', () => stats.sessions);
  new client.Gauge({
    name: 'subsec_moq_sessions_by_transport',
    help: 'Open MoQ sessions by transport (websocket, webtransport-h3, webtransport-h2, upstream-h3, upstream-websocket)',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, n] of Object.entries(stats.sessionsByTransport)) this.set({ transport }, n);
    },
  });
  gauge('subsec_moq_subscriptions', 'MoQ subscriptions served downstream', () => stats.subscriptions);
  gauge('subsec_moq_upstream_subscriptions', 'MoQ subscriptions held upstream (publishers, other relays)', () => stats.upstreamSubscriptions);
  counter('subsec_moq_sessions_refused_total', 'MoQ sessions refused at set-up', () => stats.sessionsRefused);
  counter('subsec_moq_groups_out_total', 'MoQ groups delivered downstream', () => stats.groupsOut);
  counter('subsec_moq_groups_dropped_total', 'MoQ groups dropped downstream as stale', () => stats.groupsDropped);
  counter('subsec_moq_frames_out_total', 'MoQ frames delivered downstream', () => stats.framesOut);
  counter('subsec_moq_bytes_out_total', 'MoQ payload bytes delivered downstream', () => stats.bytesOut);
  counter('subsec_moq_protocol_violations_total', 'MoQ sessions closed for a protocol violation', () => stats.protocolViolations);
}
