/**
 * `moq`: N @moq/net subscribers (moq-dev's client, WebSocket/QMux) through the target's MoQ
 * relay, fed by one publisher the tool runs: a video-like track (frames at a set rate, a group
 * per second) whose frames carry their send time, so every received frame gives a
 * publish → relay → subscriber latency on one clock. Also counts missing frames and groups,
 * and reads the relay's figures from the node's /metrics.
 */
import '../../relay/polyfills';
import { connectMoq, Moq, onEveryFrame, testFrame } from '../core/moqClient';
import { figure, type Figure } from '../core/result';
import { intOption, LIMITS, UsageError } from '../core/safety';
import type { Scenario, ScenarioOutput } from '../core/Scenario';

const ROOM = 'loadtest-moq';

/** The `moq` scenario. */
export const moqScenario: Scenario = {
  name: 'moq',
  summary: 'N MoQ subscribers (@moq/net over WebSocket) through the relay: latency publish → subscriber, missing frames, relay CPU.',
  help: [
    `  --subscribers N       subscriber sessions (default 20, at most ${LIMITS.maxViewers})`,
    '  --fps N               frames per second of the published track (default 30)',
    '  --frame-bytes N       frame size (default 2500 ≈ 600 kbps at 30 fps)',
    '  --moq-url URL         relay of a remote deployment (WebSocket listener, http://host:port); local: started for you',
  ],
  options: {
    subscribers: { type: 'string' },
    fps: { type: 'string' },
    'frame-bytes': { type: 'string' },
  },
  scrape: {
    gauges: { moqSessions: 'subsec_moq_sessions', moqSubscriptions: 'subsec_moq_subscriptions' },
    rates: { moqFramesOutPerS: 'subsec_moq_frames_out_total', moqGroupsDroppedPerS: 'subsec_moq_groups_dropped_total' },
  },
  localNode: (_values, common) => ({ workers: common.workers, moq: true }),
  async run(ctx): Promise<ScenarioOutput> {
    const v = ctx.values;
    const subscribers = intOption('subscribers', v.subscribers as string | undefined, 20, 1, LIMITS.maxViewers);
    const fps = intOption('fps', v.fps as string | undefined, 30, 1, 240);
    const frameBytes = intOption('frame-bytes', v['frame-bytes'] as string | undefined, 2500, 16, 1_000_000);
    const relayUrl = ctx.target.moqUrl;
    if (!relayUrl) throw new UsageError("the target has no MoQ relay URL: pass --moq-url http://host:port (the relay's WebSocket listener)");
    const path = `${ROOM}/source`;
    const conns: Moq.Connection.Established[] = [];
    let timer: NodeJS.Timeout | undefined;
    let producer: Moq.Broadcast.Producer | undefined;
    let measuring = false;
    let framesReceived = 0;
    /** Frame numbers of the measurement window: [first, last). */
    const window = { first: Infinity, last: Infinity };
    let nextFrame = 0;
    /** Window frames each subscriber received (counted until a grace period after the window). */
    const perSub: number[] = [];
    // @moq/net warns "publish error … : 0" when a track ends normally at teardown (code 0).
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && /^publish error: .*: 0\s*$/.test(args[0])) return;
      warn(...args);
    };
    try {
      ctx.phase('connecting the publisher');
      const pubToken = await ctx.target.token({ room: ROOM, identity: 'loadtest-moq-pub', canPublish: true, canSubscribe: false });
      const publisher = await connectMoq({ url: relayUrl }, pubToken, { timeoutMs: 10_000 });
      conns.push(publisher);
      producer = new Moq.Broadcast.Producer();
      publisher.publish(Moq.Path.from(path), producer);
      const broadcast = producer;
      // Every accepted request gets the frames. moq-lite-05 relays first send a TRACK request (the
      // track's properties only), whose track ends at once; closed tracks are dropped.
      type TrackProducer = ReturnType<NonNullable<Awaited<ReturnType<typeof broadcast.requested>>>['accept']>;
      const tracks = new Map<TrackProducer, Moq.Group.Producer | undefined>();
      void (async () => {
        for (;;) {
          const req = await broadcast.requested();
          if (!req) return;
          tracks.set(req.accept(), undefined);
          if (timer) continue;
          let n = 0;
          timer = setInterval(() => {
            // [group u32][index u32][send time f64][frame number f64][padding]
            const payload = new Uint8Array(Math.max(24, frameBytes));
            const view = new DataView(payload.buffer);
            view.setUint32(4, n % fps);
            view.setFloat64(8, performance.timeOrigin + performance.now());
            view.setFloat64(16, n);
            for (const [track, current] of tracks) {
              if (track.closed.peek() !== undefined) {
                tracks.delete(track);
                continue;
              }
              let group = current;
              if (!group || n % fps === 0) {
                group?.close();
                group = track.appendGroup();
                tracks.set(track, group);
              }
              view.setUint32(0, group.sequence);
              group.writeFrame({ payload: payload.slice(), timestamp: Moq.Time.Timestamp.fromMicros(Date.now() * 1000) } as Moq.Group.Frame);
            }
            n++;
            nextFrame = n;
          }, 1000 / fps);
        }
      })();

      ctx.phase(`connecting ${subscribers} subscribers`);
      const subToken = await ctx.target.token({ room: ROOM, identity: 'loadtest-moq-viewer', canSubscribe: true });
      ctx.status(() => `${conns.length - 1}/${subscribers} subscribers  ${framesReceived} frames  p99 ${ctx.timeline.total.percentile(99).toFixed(1)} ms`);
      const setupStart = performance.now();
      for (let i = 0; i < subscribers && !ctx.signal.aborted; i += 10) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(10, subscribers - i) }, async (_, k) => {
            const conn = await connectMoq({ url: relayUrl }, subToken, { timeoutMs: 15_000 });
            const slot = i + k;
            perSub[slot] = 0;
            const sub = conn.consume(Moq.Path.from(path)).track('video').subscribe({ priority: 60 });
            onEveryFrame(sub, (payload) => {
              const { sentAt } = testFrame(payload);
              const number = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getFloat64(16);
              if (number >= window.first && number < window.last) perSub[slot]!++;
              if (!measuring) return;
              framesReceived++;
              ctx.timeline.latency(performance.timeOrigin + performance.now() - sentAt);
              ctx.timeline.count('frames');
            });
            return conn;
          }),
        );
        conns.push(...batch);
      }
      const setupMs = performance.now() - setupStart;
      await new Promise((r) => setTimeout(r, 1500));
      ctx.phase(`measuring ${conns.length - 1} subscribers for ${ctx.common.durationS} s`);
      const serverFrom = ctx.server().length;
      measuring = true;
      window.first = nextFrame;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ctx.common.durationS * 1000);
        ctx.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      measuring = false;
      window.last = nextFrame;
      const seconds = (performance.now() - t0) / 1000;
      // Frames of the window still in flight get a grace period before they count as missing.
      await new Promise((r) => setTimeout(r, 2000));
      const n = conns.length - 1;
      const server = ctx.server().slice(serverFrom);
      const mean = (key: string) => {
        const vals = server.map((s) => s[key]).filter((x): x is number => typeof x === 'number');
        return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
      };
      const windowFrames = window.last - window.first;
      const expected = windowFrames * n;
      const delivered = perSub.reduce((a, b) => a + b, 0);
      const silent = perSub.filter((c) => c === 0).length;
      const figures: Record<string, Figure> = {
        subscribers: figure('Subscribers connected', n, 'count', 'higher', 0),
        silentSubscribers: figure('Subscribers that received nothing', silent, 'count', 'lower', 0),
        framesPerSPerSubscriber: figure('Frames per second per subscriber', framesReceived / seconds / Math.max(1, n), 'fps', 'higher', 0.1),
        deliveredPct: figure('Frames delivered (window frames × subscribers)', expected > 0 ? (100 * delivered) / expected : null, '%', 'higher', 0.01),
        missingFrames: figure('Missing frames (window frames not received within 2 s)', Math.max(0, expected - delivered), 'count', 'lower', 0),
        latencyP50Ms: figure('Latency p50 (publish → subscriber)', ctx.timeline.total.percentile(50), 'ms', 'lower', 0.25),
        latencyP95Ms: figure('Latency p95', ctx.timeline.total.percentile(95), 'ms', 'lower', 0.3),
        latencyP99Ms: figure('Latency p99', ctx.timeline.total.percentile(99), 'ms', 'lower', 0.3),
        setupMsPerSubscriber: figure('Session set-up + subscribe, per subscriber (batches of 10)', setupMs / Math.max(1, n), 'ms', 'lower', 0.3),
        nodeCpuPct: figure('Node process CPU (relay runs in it; mean, /metrics)', mean('nodeCpuPct'), '%', 'lower', 0.25),
      };
      const notes: string[] = [
        `${n} subscribers of one track (${fps} frames/s, ${frameBytes} B frames, a group per second ≈ ${Math.round((fps * frameBytes * 8) / 1000)} kbps), publisher and subscribers in this process on one clock.`,
      ];
      return {
        figures,
        series: { frames: { label: 'frames received per second (all subscribers)', unit: 'frames/s' } },
        charts: [
          {
            id: 'throughput',
            title: 'Frames received per second (all subscribers)',
            yLabel: 'frames/s',
            series: [{ key: 'frames', label: 'frames/s', from: 'timeline' }],
          },
          {
            id: 'relay',
            title: 'Relay (from /metrics)',
            yLabel: 'count, per second',
            series: [
              { key: 'moqSessions', label: 'sessions', from: 'server' },
              { key: 'moqFramesOutPerS', label: 'frames out/s', from: 'server' },
              { key: 'moqGroupsDroppedPerS', label: 'groups dropped/s', from: 'server' },
            ],
          },
        ],
        notes,
        options: { subscribers, fps, frameBytes, relay: ctx.target.local ? 'local' : relayUrl },
      };
    } finally {
      measuring = false;
      clearInterval(timer);
      // The broadcast ends first, then the subscribers leave, then the publisher's session:
      // closing the publisher under live subscriptions makes @moq/net log a publish error.
      producer?.close();
      await new Promise((r) => setTimeout(r, 200));
      for (const c of conns.slice(1)) closeQuietly(c);
      await new Promise((r) => setTimeout(r, 200));
      if (conns[0]) closeQuietly(conns[0]);
      await new Promise((r) => setTimeout(r, 200));
      console.warn = warn;
    }
  },
};

function closeQuietly(conn: Moq.Connection.Established): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
