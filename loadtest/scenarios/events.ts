/**
 * `events`: room events (bids, chat) at a chosen rate with N listeners. Senders (each its own
 * identity, under the node's per-identity rate limit) call `sendEvent`; listeners
 * `subscribeEvents` and receive `roomEvent` pushes. Measures the send round trip, the delivery
 * latency sender → every listener (one clock: all in this process), delivery completeness and
 * order (per-room sequence numbers must arrive gap-free and increasing).
 */
import { LatencyHistogram } from '../core/LatencyHistogram';
import { figure, type Figure } from '../core/result';
import { intOption, LIMITS, UsageError } from '../core/safety';
import type { Scenario, ScenarioOutput } from '../core/Scenario';
import { SignalingClient, SignalingError } from '../core/SignalingClient';

const ROOM = 'loadtest-events';
/** Events per second one sender identity sends (the node's default limit is 10/s per identity). */
const PER_SENDER_RATE = 5;

interface Listener {
  client: SignalingClient;
  lastSeq: number;
  received: number;
  gaps: number;
  outOfOrder: number;
}

/** The `events` scenario. */
export const eventsScenario: Scenario = {
  name: 'events',
  summary: 'Room events (bids/chat) at a chosen rate with N listeners: send round trip, delivery latency, completeness, order.',
  help: [
    '  --rate N              events per second over all senders (default 50)',
    `  --listeners N         subscribed clients (default 50, at most ${LIMITS.maxConnections})`,
    `  --senders N           sender identities (default: rate / ${PER_SENDER_RATE}, under the per-identity limit)`,
    '  --payload-bytes N     size of each event payload (default 100)',
    '  --type T              event type (default chat)',
  ],
  options: {
    rate: { type: 'string' },
    listeners: { type: 'string' },
    senders: { type: 'string' },
    'payload-bytes': { type: 'string' },
    type: { type: 'string' },
  },
  scrape: { gauges: { sockets: 'subsec_signaling_sockets' } },
  localNode: (_values, common) => ({ workers: common.workers }),
  async run(ctx): Promise<ScenarioOutput> {
    const v = ctx.values;
    const rate = intOption('rate', v.rate as string | undefined, 50, 1, 100_000);
    const listenerCount = intOption('listeners', v.listeners as string | undefined, 50, 1, LIMITS.maxConnections);
    const senderCount = intOption('senders', v.senders as string | undefined, Math.max(1, Math.ceil(rate / PER_SENDER_RATE)), 1, LIMITS.maxConnections);
    const payloadBytes = intOption('payload-bytes', v['payload-bytes'] as string | undefined, 100, 0, 60_000);
    const type = (v.type as string | undefined) ?? 'chat';
    if (!/^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/.test(type)) throw new UsageError('--type: a letter, then up to 63 of letters, digits, _ . : -');
    const target = ctx.target;
    const clients: SignalingClient[] = [];
    const listeners: Listener[] = [];
    const senders: SignalingClient[] = [];
    const sendRtt = new LatencyHistogram();
    const delivery = new LatencyHistogram();
    const errors = new Map<string, number>();
    let measuring = false;
    let accepted = 0;
    let firstSeq = Infinity;
    let lastSeq = 0;
    const padding = 'x'.repeat(Math.max(0, payloadBytes - 40));
    try {
      ctx.phase(`connecting ${listenerCount} listeners`);
      const listenToken = await target.token({ room: ROOM, identity: 'loadtest-listener', canSubscribe: true });
      for (let i = 0; i < listenerCount; i += 20) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(20, listenerCount - i) }, async () => {
            const client = await SignalingClient.connect(target.url);
            clients.push(client);
            await client.request('join', { protocol: 1, token: listenToken });
            const l: Listener = { client, lastSeq: 0, received: 0, gaps: 0, outOfOrder: 0 };
            client.onNotification = (name, data) => {
              if (name !== 'roomEvent') return;
              const e = data as { seq: number; payload?: { t?: number } };
              if (l.lastSeq > 0) {
                if (e.seq > l.lastSeq + 1) l.gaps += e.seq - l.lastSeq - 1;
                else if (e.seq <= l.lastSeq) l.outOfOrder++;
              }
              l.lastSeq = Math.max(l.lastSeq, e.seq);
              if (!measuring || typeof e.payload?.t !== 'number') return;
              l.received++;
              const ms = performance.timeOrigin + client.lastNotificationAt - e.payload.t;
              delivery.record(ms);
              // The report's latency chart is the delivery latency: what an audience feels.
              ctx.timeline.latency(ms);
              ctx.timeline.count('deliveries');
            };
            await client.request('subscribeEvents', {});
            return l;
          }),
        );
        listeners.push(...batch);
      }
      ctx.phase(`connecting ${senderCount} senders`);
      for (let i = 0; i < senderCount; i += 20) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(20, senderCount - i) }, async (_, k) => {
            const client = await SignalingClient.connect(target.url);
            clients.push(client);
            await client.request('join', {
              protocol: 1,
              token: await target.token({ room: ROOM, identity: `loadtest-sender-${i + k}`, canSubscribe: false, canPublishData: true }),
            });
            return client;
          }),
        );
        senders.push(...batch);
      }

      ctx.phase(`sending ${rate} events/s to ${listenerCount} listeners`);
      ctx.status(
        () =>
          `${accepted} events  ${ctx.timeline.totalOf('deliveries')} deliveries  ${[...errors.values()].reduce((a, b) => a + b, 0)} errors  delivery p99 ${delivery.percentile(99).toFixed(1)} ms`,
      );
      measuring = true;
      const t0 = performance.now();
      const end = t0 + ctx.common.durationS * 1000;
      const inFlight = new Set<Promise<void>>();
      let n = 0;
      // Open loop: events leave on schedule whatever the answers' latency, like real audiences.
      while (performance.now() < end && !ctx.signal.aborted) {
        const due = t0 + (n * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const sender = senders[n % senders.length]!;
        const sentAt = performance.now();
        const p = sender
          .request<{ event: { seq: number }; duplicate: boolean }>('sendEvent', {
            type,
            payload: { t: performance.timeOrigin + sentAt, n, pad: padding },
            idempotencyKey: `lt-${process.pid}-${n}`,
          })
          .then(
            (r) => {
              const ms = performance.now() - sentAt;
              sendRtt.record(ms);
              ctx.timeline.count('events');
              accepted++;
              firstSeq = Math.min(firstSeq, r.event.seq);
              lastSeq = Math.max(lastSeq, r.event.seq);
            },
            (err: unknown) => {
              const code = err instanceof SignalingError ? err.code : 'CLIENT_ERROR';
              errors.set(code, (errors.get(code) ?? 0) + 1);
              ctx.timeline.count('errors');
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        n++;
      }
      const seconds = (performance.now() - t0) / 1000;
      await Promise.all(inFlight);
      // Pushes still on their way get a moment before counting as undelivered.
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && listeners.some((l) => l.lastSeq < lastSeq)) await new Promise((r) => setTimeout(r, 50));
      measuring = false;
      const expected = accepted * listeners.length;
      const delivered = listeners.reduce((a, l) => a + l.received, 0);
      const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
      const figures: Record<string, Figure> = {
        eventsSent: figure('Events sent', n, 'count', 'none'),
        eventsPerS: figure('Events accepted per second', accepted / seconds, 'events/s', 'higher', 0.1),
        errors: figure('Send errors', errorCount, 'count', 'lower', 0),
        deliveriesPerS: figure('Deliveries per second (events × listeners)', delivered / seconds, 'msg/s', 'higher', 0.1),
        deliveredPct: figure('Delivered (of accepted × listeners)', expected > 0 ? (100 * delivered) / expected : null, '%', 'higher', 0.001),
        gaps: figure(
          'Sequence gaps seen by listeners',
          listeners.reduce((a, l) => a + l.gaps, 0),
          'count',
          'lower',
          0,
        ),
        outOfOrder: figure(
          'Out-of-order pushes seen by listeners',
          listeners.reduce((a, l) => a + l.outOfOrder, 0),
          'count',
          'lower',
          0,
        ),
        sendP50Ms: figure('Send round trip p50 (sendEvent → answer)', sendRtt.percentile(50), 'ms', 'lower', 0.25),
        sendP99Ms: figure('Send round trip p99', sendRtt.percentile(99), 'ms', 'lower', 0.3),
        deliveryP50Ms: figure('Delivery p50 (send → listener)', delivery.percentile(50), 'ms', 'lower', 0.25),
        deliveryP95Ms: figure('Delivery p95', delivery.percentile(95), 'ms', 'lower', 0.3),
        deliveryP99Ms: figure('Delivery p99', delivery.percentile(99), 'ms', 'lower', 0.3),
      };
      const notes = [
        'The latency chart shows delivery (send → listener) per second.',
        `${senders.length} senders (each its own identity) at ${rate} events/s in total, ${listeners.length} listeners, ${payloadBytes} B payloads, type ${type}; events ${Number.isFinite(firstSeq) ? `seq ${firstSeq}–${lastSeq}` : 'none accepted'}.`,
      ];
      if (errors.size)
        notes.push(
          `Send errors by code: ${[...errors].map(([c, k]) => `${c}: ${k}`).join(', ')}${errors.has('RATE_LIMITED') ? ' (the node limits each identity: raise --senders or events.rateLimit)' : ''}.`,
        );
      return {
        figures,
        series: {
          events: { label: 'events accepted per second', unit: 'events/s' },
          deliveries: { label: 'deliveries per second', unit: 'msg/s' },
          errors: { label: 'send errors per second', unit: 'count' },
        },
        charts: [
          {
            id: 'throughput',
            title: 'Events and deliveries per second',
            yLabel: 'per second',
            series: [
              { key: 'events', label: 'events accepted/s', from: 'timeline' },
              { key: 'deliveries', label: 'deliveries/s', from: 'timeline' },
              { key: 'errors', label: 'errors/s', from: 'timeline' },
            ],
          },
        ],
        notes,
        options: { rate, listeners: listenerCount, senders: senderCount, payloadBytes, type },
      };
    } finally {
      measuring = false;
      await Promise.all(clients.map((c) => c.close()));
    }
  },
};
