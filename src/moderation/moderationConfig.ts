/**
 * The `bans` config section (kicks that keep an identity out of a room), strict with defaults;
 * `src/config/schema.ts` mounts it. See docs/api.md (bans).
 */
import { z } from 'zod';

/** `bans`: how long a kicked identity stays out of the room. */
export const bansConfigSchema = z
  .strictObject({
    /** A kick also bans the identity from the room (until its token expires) unless the request says `banSeconds=0`. */
    banOnKick: z.boolean().default(true),
    /** Ban length of a kick when no token of the identity was seen in the room on this node (s). */
    defaultSeconds: z
      .number()
      .int()
      .min(1)
      .max(366 * 86_400)
      .default(3600),
    /** Longest ban (s): a longer `banSeconds`/`seconds` is refused (400); bans until a token's expiry are capped to it. */
    maxSeconds: z
      .number()
      .int()
      .min(60)
      .max(366 * 86_400)
      .default(7 * 86_400),
    /** Full reload of the ban list from Redis, on top of pub/sub updates (cascade only; ms). */
    refreshMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  })
  .superRefine((b, ctx) => {
    if (b.defaultSeconds > b.maxSeconds) ctx.addIssue({ code: 'custom', path: ['defaultSeconds'], message: 'must be ≤ maxSeconds' });
  })
  .prefault({});

/** The validated `bans` section. */
export type BansConfig = z.infer<typeof bansConfigSchema>;
