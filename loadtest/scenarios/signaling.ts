/**
 * `signaling`: WebSocket join/subscribe churn. Each virtual client loops: open `/ws`, `join`,
 * `setRtpCapabilities`, create a receive transport, `consume` every producer of the room,
 * hold, `leave`, close. A publisher client holds media-less producers in each room, so every
 * consume makes the node create a real consumer; each join/leave is also broadcast to the
 * room's other clients, which is part of the load.
 */
import { LatencyHistogram } from '../core/LatencyHistogram';
import { figure, type Figure } from '../core/result';
import { intOption, LIMITS, UsageError } from '../core/safety';
import type { Scenario, ScenarioOutput } from '../core/Scenario';
import { fakeVideoRtpParameters, SignalingClient, SignalingError } from '../core/SignalingClient';

const STEPS = ['connect', 'join', 'transport', 'consume', 'leave'] as const;
type Step = (typeof STEPS)[number];

/** The `signaling` scenario. */
export const signalingScenario: Scenario = {
  name: 'signaling',
  summary: 'WebSocket join/subscribe churn: N clients loop connect → join → transport → consume → hold → leave.',
  help: [
    `  --clients N           concurrent virtual clients (default 20, at most ${LIMITS.maxConnections})`,
    '  --rooms N             rooms the clients are spread over (default 1)',
    '  --producers N         media-less video producers per room to consume (default 2)',
    '  --hold MS             time a client stays joined after subscribing (default 200)',
  ],
  options: {
    clients: { type: 'string' },
    rooms: { type: 'string' },
    producers: { type: 'string' },
    hold: { type: 'string' },
  },
  scrape: { gauges: { sockets: 'subsec_signaling_sockets', consumers: 'subsec_consumers' } },
  localNode: (_values, common) => ({ workers: common.workers }),
  async run(ctx): Promise<ScenarioOutput> {
    const v = ctx.values;
    const clients = intOption('clients', v.clients as string | undefined, 20, 1, LIMITS.maxConnections);
    const roomCount = intOption('rooms', v.rooms as string | undefined, 1, 1, 1000);
    const producers = intOption('producers', v.producers as string | undefined, 2, 0, 16);
    const holdMs = intOption('hold', v.hold as string | undefined, 200, 0, 60_000);
    if (roomCount > clients) throw new UsageError('--rooms must not exceed --clients');
    const rooms = Array.from({ length: roomCount }, (_, i) => `loadtest-signaling-${i}`);
    const steps = Object.fromEntries(STEPS.map((s) => [s, new LatencyHistogram()])) as Record<Step, LatencyHistogram>;
    const errorsByCode = new Map<string, number>();
    const target = ctx.target;

    ctx.phase('setting up publishers and tokens');
    const publishers: SignalingClient[] = [];
    try {
      for (const room of rooms) {
        const pub = await SignalingClient.connect(target.url);
        publishers.push(pub);
        await pub.request('join', { protocol: 1, token: await target.token({ room, identity: 'loadtest-pub', canPublish: true }) });
        if (producers > 0) {
          const t = await pub.request<{ transportId: string }>('createTransport', { direction: 'send' });
          for (let i = 0; i < producers; i++) {
            await pub.request('produce', { transportId: t.transportId, kind: 'video', rtpParameters: fakeVideoRtpParameters(0x10000 + i) });
          }
        }
      }
      const tokens = await Promise.all(
        Array.from({ length: clients }, (_, i) => target.token({ room: rooms[i % roomCount]!, identity: `loadtest-client-${i}`, canSubscribe: true })),
      );
      const deadline = Date.now() + ctx.common.durationS * 1000;
      let active = 0;
      ctx.status(
        () =>
          `${active} clients  ${ctx.timeline.totalOf('sessions')} sessions  ${ctx.timeline.totalOf('errors')} errors  set-up p99 ${ctx.timeline.total.percentile(99).toFixed(1)} ms`,
      );
      ctx.phase(`churning with ${clients} clients`);

      const timed = async <T>(step: Step, fn: () => Promise<T>): Promise<T> => {
        const t = performance.now();
        const out = await fn();
        steps[step].record(performance.now() - t);
        return out;
      };

      const loop = async (i: number) => {
        active++;
        try {
          while (Date.now() < deadline && !ctx.signal.aborted) {
            const started = performance.now();
            let client: SignalingClient | undefined;
            try {
              client = await timed('connect', () => SignalingClient.connect(target.url));
              const c = client;
              const joined = await timed('join', () =>
                c.request<{ routerRtpCapabilities: unknown; producers: Array<{ producerId: string }> }>('join', { protocol: 1, token: tokens[i]! }),
              );
              await c.request('setRtpCapabilities', { rtpCapabilities: joined.routerRtpCapabilities });
              const t = await timed('transport', () => c.request<{ transportId: string }>('createTransport', { direction: 'recv' }));
              await timed('consume', () =>
                Promise.all(joined.producers.map((p) => c.request('consume', { transportId: t.transportId, producerId: p.producerId, paused: false }))),
              );
              const setupMs = performance.now() - started;
              ctx.timeline.latency(setupMs);
              ctx.timeline.count('sessions');
              if (holdMs > 0) await new Promise((r) => setTimeout(r, Math.min(holdMs, Math.max(0, deadline - Date.now()))));
              await timed('leave', () => c.request('leave', {}));
            } catch (err) {
              const code = err instanceof SignalingError ? err.code : 'CLIENT_ERROR';
              errorsByCode.set(code, (errorsByCode.get(code) ?? 0) + 1);
              ctx.timeline.count('errors');
            } finally {
              await client?.close();
            }
          }
        } finally {
          active--;
        }
      };
      // Clients start spread over the first second so they do not all connect in one burst.
      await Promise.all(Array.from({ length: clients }, (_, i) => new Promise<void>((r) => setTimeout(r, (i * 1000) / clients)).then(() => loop(i))));

      const sessions = ctx.timeline.totalOf('sessions');
      const errors = ctx.timeline.totalOf('errors');
      const seconds = ctx.common.durationS;
      const figures: Record<string, Figure> = {
        sessions: figure('Sessions completed', sessions, 'count', 'none'),
        sessionsPerS: figure('Sessions per second', sessions / seconds, 'sessions/s', 'higher', 0.15),
        errors: figure('Errors', errors, 'count', 'lower', 0),
        setupP50Ms: figure('Set-up p50 (connect → consumers created)', ctx.timeline.total.percentile(50), 'ms', 'lower', 0.2),
        setupP99Ms: figure('Set-up p99', ctx.timeline.total.percentile(99), 'ms', 'lower', 0.3),
      };
      for (const s of STEPS) {
        figures[`${s}P50Ms`] = figure(`${s} p50`, steps[s].percentile(50), 'ms', 'lower', 0.2);
        figures[`${s}P99Ms`] = figure(`${s} p99`, steps[s].percentile(99), 'ms', 'lower', 0.3);
      }
      const notes = [`${clients} clients over ${roomCount} room(s) with ${producers} producer(s) each, holding ${holdMs} ms per session.`];
      if (errorsByCode.size > 0) notes.push(`Errors by code: ${[...errorsByCode].map(([c, n]) => `${c}: ${n}`).join(', ')}.`);
      return {
        figures,
        series: { sessions: { label: 'sessions per second', unit: 'sessions/s' }, errors: { label: 'errors per second', unit: 'count' } },
        charts: [
          {
            id: 'throughput',
            title: 'Sessions per second',
            yLabel: 'per second',
            series: [
              { key: 'sessions', label: 'sessions/s', from: 'timeline' },
              { key: 'errors', label: 'errors/s', from: 'timeline' },
            ],
          },
          {
            id: 'sockets',
            title: 'Open signaling sockets and consumers (from /metrics)',
            yLabel: 'count',
            series: [
              { key: 'sockets', label: 'sockets', from: 'server' },
              { key: 'consumers', label: 'consumers', from: 'server' },
            ],
          },
        ],
        notes,
        options: { clients, rooms: roomCount, producers, holdMs },
      };
    } finally {
      await Promise.all(publishers.map((p) => p.close()));
    }
  },
};
