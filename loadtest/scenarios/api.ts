/**
 * `api`: HTTP load with autocannon on the REST API and the WHIP/WHEP set-up endpoints, one
 * endpoint after another (the run time is split between them), so each gets its own
 * throughput and latency figures. A signaling client holds a (media-less) video producer in
 * the room for the whole run, so room, stream and WHEP requests have something to find.
 */
import autocannon, { type Request } from 'autocannon';
import { LatencyHistogram } from '../core/LatencyHistogram';
import { figure, type Figure } from '../core/result';
import { intOption, LIMITS, UsageError } from '../core/safety';
import type { Scenario, ScenarioContext, ScenarioOutput } from '../core/Scenario';
import { fakeVideoRtpParameters, SignalingClient } from '../core/SignalingClient';
import { makeOffer } from '../core/sdpOffers';

const ROOM = 'loadtest-api';
const PUBLISHER = 'loadtest-pub';

/** The endpoints this scenario knows, in default order. */
export const API_ENDPOINTS = ['token', 'rooms', 'room', 'streams', 'whep', 'whip', 'healthz'] as const;
type Endpoint = (typeof API_ENDPOINTS)[number];
const DEFAULT_ENDPOINTS: Endpoint[] = ['token', 'rooms', 'room', 'streams', 'whep', 'whip'];

const DESCRIPTIONS: Record<Endpoint, string> = {
  token: 'POST /v1/tokens (admin)',
  rooms: 'GET /v1/rooms',
  room: `GET /v1/rooms/${ROOM}`,
  streams: 'GET /v1/streams (live bitrates: asks the worker per producer)',
  whep: 'WHEP session set-up + teardown (POST offer, DELETE)',
  whip: 'WHIP session set-up + teardown (POST offer, DELETE)',
  healthz: 'GET /healthz (baseline: the HTTP stack alone)',
};

interface EndpointResult {
  endpoint: Endpoint;
  requests: number;
  errors: number;
  rps: number;
  latency: LatencyHistogram;
  /** Error responses by status (and `connection` for socket errors/timeouts). */
  failures: Record<string, number>;
  startS: number;
  endS: number;
}

/** Builds autocannon's request sequence for an endpoint; `tokens` are per-connection WHIP tokens. */
function requestsFor(endpoint: Endpoint, adminKey: string, viewerToken: string, whipTokens: string[], offers: { whep: string; whip: string }): Request[] {
  const admin = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  switch (endpoint) {
    case 'token': {
      let n = 0;
      return [
        {
          method: 'POST',
          path: '/v1/tokens',
          headers: admin,
          setupRequest: (r) => ({ ...r, body: JSON.stringify({ room: ROOM, identity: `viewer-${n++}`, canSubscribe: true }) }),
        },
      ];
    }
    case 'rooms':
      return [{ method: 'GET', path: '/v1/rooms', headers: admin }];
    case 'room':
      return [{ method: 'GET', path: `/v1/rooms/${ROOM}`, headers: admin }];
    case 'streams':
      return [{ method: 'GET', path: '/v1/streams', headers: admin }];
    case 'healthz':
      return [{ method: 'GET', path: '/healthz' }];
    case 'whep':
    case 'whip': {
      // A stream name is one client's (WHIP refuses a second publisher of a live stream): each
      // POST takes a free name, its DELETE's answer gives it back. autocannon resets a
      // connection's context after each POST+DELETE cycle, so the free list lives out here.
      const free = whipTokens.map((_, i) => i);
      const post: Request = {
        method: 'POST',
        headers: { 'content-type': 'application/sdp' },
        body: endpoint === 'whep' ? offers.whep : offers.whip,
        setupRequest: (r, ctx) => {
          const slot = endpoint === 'whip' ? (free.shift() ?? 0) : 0;
          ctx.slot = slot;
          const path = endpoint === 'whep' ? `/whep/${ROOM}/${PUBLISHER}` : `/whip/${ROOM}/loadtest-whip-${slot}`;
          const token = endpoint === 'whep' ? viewerToken : whipTokens[slot]!;
          return { ...r, path, headers: { ...r.headers, authorization: `Bearer ${token}` } };
        },
        onResponse: (status, _body, ctx, headers) => {
          ctx.location = status === 201 ? headers.location : undefined;
          ctx.kind = 'post';
        },
      };
      const del: Request = {
        method: 'DELETE',
        setupRequest: (r, ctx) => {
          const token = endpoint === 'whep' ? viewerToken : whipTokens[ctx.slot as number]!;
          const location = (ctx.location as string | undefined) ?? `/${endpoint}/${ROOM}/none/none`;
          return { ...r, path: new URL(location, 'http://x').pathname, headers: { authorization: `Bearer ${token}` } };
        },
        onResponse: (_s, _b, ctx) => {
          ctx.kind = 'delete';
          if (endpoint === 'whip') free.push(ctx.slot as number);
        },
      };
      return [post, del];
    }
  }
}

/** True unless the target answers 404 to an unauthenticated POST (a node without WHIP/WHEP). */
async function sessionEndpointExists(url: string, endpoint: 'whep' | 'whip'): Promise<boolean> {
  const res = await fetch(`${url}/${endpoint}/${ROOM}/probe`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp' },
    body: 'v=0',
    signal: AbortSignal.timeout(5000),
  }).catch(() => undefined);
  return res !== undefined && res.status !== 404;
}

async function runEndpoint(
  ctx: ScenarioContext,
  endpoint: Endpoint,
  seconds: number,
  connections: number,
  rate: number | undefined,
  requests: Request[],
  maxRequests: number | undefined,
): Promise<EndpointResult> {
  const latency = new LatencyHistogram();
  let count = 0;
  let errors = 0;
  const failures: Record<string, number> = {};
  const startS = (Date.now() - ctx.timeline.t0) / 1000;
  const twoStep = requests.length === 2;
  let lastKind: string | undefined;
  // onResponse runs synchronously just before 'response': remember which request answered.
  for (const r of requests) {
    const inner = r.onResponse;
    r.onResponse = (status, body, c, headers) => {
      inner?.(status, body, c, headers);
      lastKind = c.kind as string | undefined;
    };
  }
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: ctx.target.url,
        connections,
        duration: seconds,
        ...(maxRequests ? { amount: maxRequests } : {}),
        ...(rate ? { overallRate: rate } : {}),
        timeout: 10,
        requests,
      },
      (err) => (err ? reject(err) : resolve()),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      const ok = status >= 200 && status < 300;
      // Set-up latency is the POST's; the DELETE still counts as a request (and as an error if it fails).
      if (!twoStep || lastKind === 'post') {
        latency.record(ms);
        ctx.timeline.latency(ms);
      }
      count++;
      ctx.timeline.count('requests');
      if (!ok) {
        const key = `${lastKind && twoStep ? lastKind.toUpperCase() + ' ' : ''}${status}`;
        failures[key] = (failures[key] ?? 0) + 1;
        errors++;
        ctx.timeline.count('errors');
      }
    });
    const onError = () => {
      failures.connection = (failures.connection ?? 0) + 1;
      errors++;
      ctx.timeline.count('errors');
    };
    instance.on('reqError', onError);
    const abort = () => instance.stop();
    ctx.signal.addEventListener('abort', abort, { once: true });
    instance.once('done', () => ctx.signal.removeEventListener('abort', abort));
  });
  const elapsed = (Date.now() - started) / 1000;
  return { endpoint, requests: count, errors, failures, rps: count / Math.max(0.001, elapsed), latency, startS, endS: (Date.now() - ctx.timeline.t0) / 1000 };
}

/** The `api` scenario. */
export const apiScenario: Scenario = {
  name: 'api',
  summary: 'REST API (tokens, rooms, streams) and WHIP/WHEP session set-up under HTTP load (autocannon), endpoint by endpoint.',
  help: [
    `  --endpoints LIST      comma-separated, from ${API_ENDPOINTS.join(',')} (default ${DEFAULT_ENDPOINTS.join(',')})`,
    '  --connections N       concurrent HTTP connections (default 10)',
    '  --rate N              cap on requests per second over all connections (default: as fast as possible)',
    '  --max-requests N      stop each endpoint after N requests (default: run for its share of --duration)',
  ],
  options: {
    endpoints: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    'max-requests': { type: 'string' },
  },
  scrape: { gauges: { whepSessions: 'subsec_whep_sessions', transports: 'subsec_transports' } },
  localNode: (_values, common) => ({ workers: common.workers }),
  async run(ctx): Promise<ScenarioOutput> {
    const v = ctx.values;
    const endpoints = ((v.endpoints as string | undefined)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? DEFAULT_ENDPOINTS) as Endpoint[];
    for (const e of endpoints) if (!API_ENDPOINTS.includes(e)) throw new UsageError(`--endpoints: unknown endpoint ${e} (known: ${API_ENDPOINTS.join(', ')})`);
    if (endpoints.length === 0) throw new UsageError('--endpoints is empty');
    const connections = intOption('connections', v.connections as string | undefined, 10, 1, LIMITS.maxConnections);
    const rate = v.rate === undefined ? undefined : intOption('rate', v.rate as string, 0, 1, 1_000_000);
    const maxRequests = v['max-requests'] === undefined ? undefined : intOption('max-requests', v['max-requests'] as string, 0, 1, LIMITS.maxRequests);
    const seconds = Math.max(1, Math.floor(ctx.common.durationS / endpoints.length));
    const notes: string[] = [];

    ctx.phase('setting up a publisher');
    const publisher = await SignalingClient.connect(ctx.target.url);
    try {
      await publisher.request('join', { protocol: 1, token: await ctx.target.token({ room: ROOM, identity: PUBLISHER, canPublish: true }) });
      const transport = await publisher.request<{ transportId: string }>('createTransport', { direction: 'send' });
      await publisher.request('produce', { transportId: transport.transportId, kind: 'video', rtpParameters: fakeVideoRtpParameters(0x5eed) });
      const viewerToken = await ctx.target.token({ room: ROOM, identity: 'loadtest-viewer', canSubscribe: true });
      const whipTokens = endpoints.includes('whip')
        ? await Promise.all(Array.from({ length: connections }, (_, i) => ctx.target.token({ room: ROOM, identity: `loadtest-whip-${i}`, canPublish: true })))
        : [];
      const offers = {
        whep: endpoints.includes('whep') ? await makeOffer('recvonly') : '',
        whip: endpoints.includes('whip') ? await makeOffer('sendonly') : '',
      };
      const results: EndpointResult[] = [];
      let current = '';
      ctx.status(
        () =>
          `${current}  ${ctx.timeline.totalOf('requests')} req  ${ctx.timeline.totalOf('errors')} errors  p99 ${ctx.timeline.total.percentile(99).toFixed(1)} ms`,
      );
      for (const endpoint of endpoints) {
        if (ctx.signal.aborted) break;
        current = endpoint;
        if ((endpoint === 'whep' || endpoint === 'whip') && !(await sessionEndpointExists(ctx.target.url, endpoint))) {
          notes.push(`${endpoint}: skipped — the target has no /${endpoint} endpoint (404).`);
          continue;
        }
        ctx.phase(`${endpoint}: ${DESCRIPTIONS[endpoint]}`);
        results.push(
          await runEndpoint(
            ctx,
            endpoint,
            seconds,
            connections,
            rate,
            requestsFor(endpoint, ctx.target.adminKey, viewerToken, whipTokens, offers),
            maxRequests,
          ),
        );
      }
      const figures: Record<string, Figure> = {};
      const total = results.reduce((n, r) => n + r.requests, 0);
      const errors = results.reduce((n, r) => n + r.errors, 0);
      figures.requests = figure('Requests (all endpoints)', total, 'count', 'none');
      figures.errors = figure('Errors (non-2xx, connection errors, timeouts)', errors, 'count', 'lower', 0);
      const all = new LatencyHistogram();
      for (const r of results) all.merge(r.latency);
      figures.p99Ms = figure('Latency p99, all endpoints', all.percentile(99), 'ms', 'lower', 0.2);
      for (const r of results) {
        const unit = r.endpoint === 'whep' || r.endpoint === 'whip' ? 'sessions/s' : 'req/s';
        const rps = r.endpoint === 'whep' || r.endpoint === 'whip' ? r.rps / 2 : r.rps;
        figures[`${r.endpoint}Rps`] = figure(`${r.endpoint}: throughput`, rps, unit, 'higher', 0.15);
        figures[`${r.endpoint}P50Ms`] = figure(`${r.endpoint}: latency p50`, r.latency.percentile(50), 'ms', 'lower', 0.2);
        figures[`${r.endpoint}P99Ms`] = figure(`${r.endpoint}: latency p99`, r.latency.percentile(99), 'ms', 'lower', 0.3);
        if (r.errors > 0) figures[`${r.endpoint}Errors`] = figure(`${r.endpoint}: errors`, r.errors, 'count', 'lower', 0);
        notes.push(
          `${r.startS.toFixed(1)}–${r.endS.toFixed(1)} s: ${r.endpoint} — ${DESCRIPTIONS[r.endpoint]}: ${r.requests} requests, ${r.errors} errors${
            r.errors
              ? ` (${Object.entries(r.failures)
                  .map(([k, n]) => `${k}: ${n}`)
                  .join(', ')})`
              : ''
          }.`,
        );
      }
      if (endpoints.includes('whep') || endpoints.includes('whip')) {
        notes.push(
          'WHIP/WHEP latency is the POST (offer → answer: transport, producers/consumers); the DELETE counts as a request. ICE never connects, so no media flows.',
        );
      }
      return {
        figures,
        series: { requests: { label: 'requests per second', unit: 'req/s' }, errors: { label: 'errors per second', unit: 'count' } },
        charts: [
          {
            id: 'throughput',
            title: 'Throughput (endpoints in turn)',
            yLabel: 'per second',
            series: [
              { key: 'requests', label: 'requests/s', from: 'timeline' },
              { key: 'errors', label: 'errors/s', from: 'timeline' },
            ],
          },
        ],
        notes,
        options: { endpoints, connections, rate: rate ?? null, secondsPerEndpoint: seconds, maxRequests: maxRequests ?? null },
      };
    } finally {
      await publisher.close();
    }
  },
};
