/**
 * The `restream` config section (RTMP push of streams to other platforms, docs/restream.md),
 * strict with defaults; `src/config/schema.ts` mounts it.
 */
import { z } from 'zod';

/** Schema of the `restream` section. */
export const restreamConfigSchema = z
  .strictObject({
    /** Allow `POST /v1/rooms/{room}/streams/{stream}/restreams` (needs `hls.enabled`: the push reads the LL-HLS ladder's output). */
    enabled: z.boolean().default(true),
    /** Destinations one stream may be pushed to at once. */
    maxPerStream: z.number().int().min(1).max(32).default(4),
    /** Destinations pushed at once on this node (each is one ffmpeg remux). */
    maxTotal: z.number().int().min(1).max(1000).default(16),
    /** First reconnect delay after a destination dropped or refused (ms); doubled per failure with ±20 % jitter. */
    reconnectInitialMs: z.number().int().min(100).max(60_000).default(1000),
    /** Cap of the reconnect delay (ms). */
    reconnectMaxMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Consecutive failed connections before the push gives up (`failed`); 0: retry while the stream lives. */
    maxConsecutiveFailures: z.number().int().min(0).max(10_000).default(0),
    /** A connection that has not started sending within this time counts as failed (ms). */
    connectTimeoutMs: z.number().int().min(1000).max(120_000).default(15_000),
    /** Media queued for a destination that does not keep up before the connection is dropped and retried (bytes). */
    maxQueuedBytes: z
      .number()
      .int()
      .min(65_536)
      .max(1 << 30)
      .default(8 * 1024 * 1024),
  })
  .refine((r) => r.reconnectInitialMs <= r.reconnectMaxMs, 'needs reconnectInitialMs ≤ reconnectMaxMs')
  .prefault({});

/** The validated `restream` section. */
export type RestreamConfig = z.infer<typeof restreamConfigSchema>;
