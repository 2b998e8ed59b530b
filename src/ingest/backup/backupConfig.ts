/**
 * The `ingest` config section: primary and backup contribution of one stream
 * (docs/backup-ingest.md), strict with defaults; `src/config/schema.ts` mounts it.
 */
import { z } from 'zod';

/** Schema of the `ingest` section. */
export const ingestConfigSchema = z
  .strictObject({
    /** Primary and backup inputs of one stream (RTMP `role=` in the stream key, SRT `role=` in the stream id); viewers follow the live one without rejoining. */
    backup: z
      .strictObject({
        /** Accept inputs that name a role (`primary`/`backup`); when false they are refused and streams have one input. */
        enabled: z.boolean().default(true),
        /** The live input counts as stalled after this long without video (ms); the stream then switches to the other input if that one delivers. */
        stallMs: z.number().int().min(100).max(60_000).default(1000),
        /** Once the backup carries the stream, switch back after the primary has delivered video without a stall for this long (ms). */
        returnAfterMs: z.number().int().min(0).max(600_000).default(5000),
        /** Video an input that is not live keeps from its last key frame, so a switch to it starts at once (packets; 0: wait for its next key frame). */
        warmPackets: z.number().int().min(0).max(20_000).default(4000),
      })
      .refine((b) => b.warmPackets === 0 || b.warmPackets >= 100, 'needs warmPackets 0 or ≥ 100')
      .prefault({}),
  })
  .prefault({});

/** The validated `ingest` section. */
export type IngestConfig = z.infer<typeof ingestConfigSchema>;
