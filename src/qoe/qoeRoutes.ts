/**
 * `GET /v1/qoe` (admin): the QoE snapshot the dashboard polls every second — per stream, the five
 * figures per path with their plotted points, viewers by path and rendition, ingest health,
 * server figures and alerts. `?since=<unix second>` returns only newer points. The dashboard page
 * itself (`/qoe/`) is static and holds no data: it asks for the admin key and sends it as a
 * bearer token with every poll.
 */
import path from 'node:path';
import { z } from 'zod';
import type { ApiRouter } from '../api/ApiRouter';
import { apiSchemas, roomName } from '../api/schemas';
import type { HttpServer } from '../http/HttpServer';
import { serveStatic } from '../http/staticFiles';
import type { QoeService, QoeSnapshot } from './QoeService';

const figureValue = z.number().nullable();
const figures = z.object({ startupMs: figureValue, rebufferRatio: figureValue, bitrateKbps: figureValue, latencyMs: figureValue, failureRate: figureValue });
const points = z.array(z.array(z.number().nullable())).describe('Plotted points, one per second; values in the order of `columns` (null: no data)');
const alert = z.object({
  id: z.string(),
  room: z.string(),
  stream: z.string(),
  path: z.string().optional(),
  figure: z.string(),
  op: z.enum(['>', '<']),
  threshold: z.number(),
  value: z.number(),
  firedAt: z.number(),
  resolvedAt: z.number().optional(),
});

/** The snapshot schema (documentation of the response; the handler builds it directly). */
export const qoeSnapshotSchema = z.object({
  now: z.number().describe('Node time (ms since the epoch)'),
  windowSeconds: z.number().describe('Trailing window of rebuffer ratio, bitrate and latency (s)'),
  sessionWindowSeconds: z.number().describe('Trailing window of startup time and failure rate (s)'),
  historySeconds: z.number(),
  columns: z.array(z.string()).describe('t, startupMs, rebufferRatio, bitrateKbps, latencyMs, failureRate, viewers'),
  ingestColumns: z.array(z.string()).describe('t, bitrateKbps, frameRate, keyframeIntervalMs, lossRatio'),
  totals: z.object({
    viewers: z.record(z.string(), z.number()).describe('Playback sessions reporting now, by path'),
    sessions: z.number(),
    streams: z.number(),
    transportFailures: z.record(z.string(), z.number()).describe('WebRTC transport failures since start: ice_disconnected, dtls_failed, never_connected'),
  }),
  streams: z.array(
    z.object({
      key: z.string(),
      room: z.string(),
      stream: z.string().describe('Publisher identity, or `other` beyond qoe.maxStreams'),
      viewers: z.number(),
      paths: z.record(z.string(), z.object({ viewers: z.number(), renditions: z.record(z.string(), z.number()), figures, points })),
      ingest: z.object({ figures: z.record(z.string(), z.number().nullable()), points }).nullable(),
      server: z.object({
        consumers: z.number(),
        meanScore: figureValue,
        minScore: figureValue,
        layerChanges: z.number(),
        noFirstFrame: z.number(),
        firstFrameMs: figureValue,
      }),
    }),
  ),
  alerts: z.object({ rules: z.array(z.record(z.string(), z.unknown())), active: z.array(alert), recent: z.array(alert) }),
});
apiSchemas.add(qoeSnapshotSchema, {
  id: 'QoeSnapshot',
  description: 'Viewer QoE per stream and delivery path, with plots, ingest health and alerts (docs/qoe.md).',
});

/** Registers `GET /v1/qoe`, and the dashboard page at `/qoe/` when `dashboardDir` is given. */
export function registerQoeRoutes(api: ApiRouter, http: HttpServer, qoe: QoeService, dashboardDir?: string): void {
  api.add({
    method: 'GET',
    path: '/v1/qoe',
    operationId: 'getQoe',
    tag: 'qoe',
    auth: 'admin',
    summary: 'Viewer QoE per stream and path: figures, plots, viewers, ingest health, alerts',
    query: z.strictObject({
      since: z.coerce.number().int().min(0).optional().describe("Only points after this unix second (the previous answer's `now` / 1000)"),
      room: roomName.optional().describe('Only streams of this room'),
    }),
    responses: { 200: { description: 'The snapshot', schema: qoeSnapshotSchema } },
    handler: ({ query }) => {
      const snapshot: QoeSnapshot = qoe.snapshot(query.since ?? 0);
      if (query.room !== undefined) snapshot.streams = snapshot.streams.filter((s) => s.room === query.room);
      return { status: 200, body: snapshot };
    },
  });
  // `/qoe` and `/qoe/` both serve the page (its assets use absolute paths).
  if (dashboardDir) serveStatic(http, '/qoe', path.resolve(dashboardDir));
}
