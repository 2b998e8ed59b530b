/**
 * The `dash` config section (LL-DASH manifests over the LL-HLS packager, docs/ll-dash.md),
 * strict with defaults; `src/config/schema.ts` mounts it. Packaging itself (ladder, part and
 * segment targets, DVR window, on-demand start, access) is the `hls` section's: both manifests
 * describe the same fragments.
 */
import { z } from 'zod';

/** Schema of the `dash` section. */
export const dashConfigSchema = z
  .strictObject({
    /** Serve `/dash/{room}/{stream}/manifest.mpd` (needs `hls.enabled`: the MPD lists the LL-HLS packager's segments). */
    enabled: z.boolean().default(true),
    /** ServiceDescription `Latency@target`: the live latency players aim at (ms). */
    targetLatencyMs: z.number().int().min(500).max(60_000).default(1500),
    /** ServiceDescription `Latency@min` (ms). */
    minLatencyMs: z.number().int().min(0).max(60_000).default(1000),
    /** ServiceDescription `Latency@max` (ms): beyond it a player should seek back to the target. */
    maxLatencyMs: z.number().int().min(500).max(120_000).default(6000),
    /** ServiceDescription `PlaybackRate` bounds for catching up (`min` ≤ 1 ≤ `max`). */
    playbackRate: z
      .strictObject({
        /** Slowest catch-up rate. */
        min: z.number().min(0.5).max(1).default(0.96),
        /** Fastest catch-up rate. */
        max: z.number().min(1).max(2).default(1.04),
      })
      .prefault({}),
    /** MPD@minimumUpdatePeriod (ms): how often players refetch the MPD to see a new segment (the one in progress is listed). */
    minimumUpdatePeriodMs: z.number().int().min(100).max(10_000).default(500),
  })
  .refine((d) => d.minLatencyMs <= d.targetLatencyMs && d.targetLatencyMs <= d.maxLatencyMs, 'needs minLatencyMs ≤ targetLatencyMs ≤ maxLatencyMs')
  .prefault({});

/** The validated `dash` section. */
export type DashConfig = z.infer<typeof dashConfigSchema>;
