/**
 * Configuration of the audience-shaped ABR ladder (`hls.ladderAdaptation`, docs/abr-ladder.md):
 * when it is on, each stream's LL-HLS ladder follows what its viewers request and can sustain,
 * within the bounds and with the hysteresis set here.
 */
import { z } from 'zod';

/** The `hls.ladderAdaptation` section. */
export const ladderAdaptationConfigSchema = z
  .strictObject({
    /** Shape each stream's ladder from its viewers' CMCD and requests; off: the configured ladder runs as is (one ffmpeg per stream). */
    enabled: z.boolean().default(false),
    /** Viewer data considered: CMCD reports (throughput `mtp`, session `sid`) of the last this many ms. */
    windowMs: z.number().int().min(2000).default(120_000),
    /** How often each stream's ladder is re-evaluated (ms). */
    evaluateIntervalMs: z.number().int().min(250).default(5000),
    /** A rung no player requested for this long is dropped and its encode stopped (ms); also how long a new stream waits before its first drop. */
    dropAfterMs: z.number().int().min(1000).default(60_000),
    /** A rung added, restored, lowered or dropped stays so at least this long before it changes again (ms). */
    minDwellMs: z.number().int().min(0).default(120_000),
    /** At least this long between two changes of one stream's ladder (ms). */
    minChangeIntervalMs: z.number().int().min(0).default(30_000),
    /** A viewer sustains a rung when its measured throughput is at least this multiple of the rung's bitrate. */
    headroom: z.number().min(1).max(4).default(1.3),
    /** A cluster of viewers between two rungs gets a rung of its own when what it sustains is at least this multiple of the lower rung's bitrate. */
    gapRatio: z.number().min(1.2).max(10).default(2),
    /** Viewers needed before a rung is added or restored for them, or the top rung lowered. */
    minViewers: z.number().int().min(1).default(2),
    /** The ladder never has fewer video rungs than this. */
    minRungs: z.number().int().min(1).max(6).default(1),
    /** The ladder never has more video rungs than this. */
    maxRungs: z.number().int().min(1).max(6).default(4),
    /** Bitrates (kbps) an added or lowered rung may take; a wanted bitrate snaps down to one of these. */
    allowedKbps: z.array(z.number().int().min(50).max(50_000)).min(1).default([150, 250, 400, 600, 800, 1200, 1800, 2500, 4000, 6000]),
    /** Heights (px) an added rung may take: the one that fits its bitrate between its neighbours' heights. */
    allowedHeights: z.array(z.number().int().min(32).max(4320)).min(1).default([144, 160, 240, 360, 480, 540, 720, 1080]),
    /** A rung taken out of the ladder while players still fetch it keeps encoding until none did for this long (ms). */
    retireIdleMs: z.number().int().min(500).default(6000),
  })
  .refine((c) => c.minRungs <= c.maxRungs, 'minRungs must not exceed maxRungs')
  .prefault({});

/** The `hls.ladderAdaptation` section, parsed. */
export type LadderAdaptationConfig = z.infer<typeof ladderAdaptationConfigSchema>;
