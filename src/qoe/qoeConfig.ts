/**
 * The `qoe` config section (viewer Quality of Experience, docs/qoe.md), strict with defaults;
 * `src/config/schema.ts` mounts it.
 */
import { z } from 'zod';

/** The five QoE figures plus the server-side ones an alert rule may watch. */
export const QOE_FIGURES = [
  'startupMs',
  'rebufferRatio',
  'bitrateKbps',
  'latencyMs',
  'failureRate',
  'ingestFrameRate',
  'ingestLossRatio',
  'ingestKeyframeIntervalMs',
] as const;

/** One alert rule: fires when `figure` is above `above` (or below `below`) on a stream and path. */
const alertRule = z
  .strictObject({
    /** Figure watched (windowed value, as plotted on the dashboard). */
    figure: z.enum(QOE_FIGURES),
    /** Fires while the figure is greater than this. */
    above: z.number().finite().optional(),
    /** Fires while the figure is smaller than this. */
    below: z.number().finite().optional(),
    /** Only for this delivery path (default: every path; ingest figures have none). */
    path: z.enum(['webrtc', 'moq', 'hls']).optional(),
    /** Sessions needed in the window before a viewer figure may fire (ignored for ingest figures). */
    minSessions: z.number().int().min(1).max(1_000_000).default(1),
    /** The condition must hold this long before the alert fires, and be gone this long before it resolves (s). */
    forSeconds: z.number().int().min(0).max(3600).default(3),
  })
  .refine((r) => (r.above === undefined) !== (r.below === undefined), 'give exactly one of above / below');

/** `qoe`: startup, rebuffering, bitrate, latency and failures per stream and path. */
export const qoeConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** How often SDK viewers send a QoE batch (ms); told to the SDK in every reply. */
    reportIntervalMs: z.number().int().min(1000).max(60_000).default(5000),
    /** Reports accepted per viewer identity per minute; more are answered RATE_LIMITED and ignored. */
    maxReportsPerMinute: z.number().int().min(1).max(600).default(30),
    /** Playback sessions one viewer identity may report at once (further ones are ignored). */
    maxSessionsPerViewer: z.number().int().min(1).max(64).default(8),
    /** Playback sessions tracked on the node (SDK and CMCD together). */
    maxSessions: z.number().int().min(1).max(1_000_000).default(100_000),
    /** A session not reported for this long ends (ms). */
    sessionTtlMs: z.number().int().min(1000).max(600_000).default(30_000),
    /** Streams with their own label and plots; further streams are folded into `other`. */
    maxStreams: z.number().int().min(1).max(1000).default(50),
    /** Rendition labels per stream (viewer distribution); further ones count as `other`. */
    maxRenditionsPerStream: z.number().int().min(1).max(32).default(8),
    /** A stream with no viewer, report or producer for this long loses its label and plots (s). */
    streamIdleSeconds: z.number().int().min(10).max(86_400).default(300),
    /** Trailing window the plotted and alerted rebuffer ratio, bitrate and latency are computed over (s). */
    windowSeconds: z.number().int().min(1).max(600).default(10),
    /** Trailing window of the per-session figures, startup time and failure rate, which are sparse (s; at least windowSeconds). */
    sessionWindowSeconds: z.number().int().min(1).max(3600).default(60),
    /** Points kept per plot (one per second). */
    historySeconds: z.number().int().min(10).max(3600).default(300),
    /** Largest bitrate a report may claim (kbps); more is clamped. */
    maxBitrateKbps: z.number().int().min(100).max(1_000_000).default(50_000),
    /** Interval of the ingest health sampling of producers (ms). */
    ingestSampleIntervalMs: z.number().int().min(500).max(60_000).default(2000),
    /** Every this many ingest samples, video packets are traced for one sample interval to measure the frame rate (0 = never). */
    frameRateEvery: z.number().int().min(0).max(100).default(3),
    /** Serve the live dashboard at `/qoe/` (its data needs the admin key). */
    dashboard: z.boolean().default(true),
    /** Threshold alerts: shown on the dashboard and sent as `qoe.alert_fired` / `qoe.alert_resolved` webhooks. */
    alerts: z
      .array(alertRule)
      .max(64)
      .default([
        { figure: 'rebufferRatio', above: 0.01, minSessions: 1, forSeconds: 3 },
        { figure: 'startupMs', above: 2000, minSessions: 1, forSeconds: 3 },
        { figure: 'failureRate', above: 0.05, minSessions: 1, forSeconds: 3 },
      ]),
  })
  .prefault({});

/** The validated `qoe` section. */
export type QoeConfig = z.infer<typeof qoeConfigSchema>;
/** One validated alert rule. */
export type QoeAlertRule = QoeConfig['alerts'][number];
/** A figure name. */
export type QoeFigure = (typeof QOE_FIGURES)[number];
