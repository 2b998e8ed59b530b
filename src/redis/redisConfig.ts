/**
 * Config section of the Redis connection (`redis`) shared by the cascade coordinator, Redis
 * Streams room events and bans; `src/config/schema.ts` mounts it. See docs/cascade.md.
 */
import { z } from 'zod';

const ms = (min: number) => z.number().int().min(min);
const port = z.number().int().min(0).max(65535);

/** `redis`: the shared Redis (cascade coordinator, room events and bans when they are Redis-backed). */
export const redisConfigSchema = z
  .strictObject({
    /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. With `cluster`, a seed node. */
    url: z
      .string()
      .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    /** Sentinel: the monitored master's name; `sentinels` lists the Sentinels (the URL then only supplies credentials, db, TLS). */
    sentinelName: z.string().min(1).optional(),
    /** Sentinel addresses (with `sentinelName`). */
    sentinels: z
      .array(
        z.strictObject({
          /** Sentinel host name or IP. */
          host: z.string().min(1),
          /** Sentinel port (usually 26379). */
          port,
        }),
      )
      .default([]),
    /** Redis Cluster: `url` names one seed node; keys of a room share a hash slot. */
    cluster: z.boolean().default(false),
    /** Prefix of every key and channel, so several clusters can share one Redis. */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{0,64}$/)
      .default('subsec:'),
    /** How long start waits for Redis before the node refuses to start (ms). */
    connectTimeoutMs: ms(100).default(5_000),
    /** A command without an answer by then fails; the node keeps serving (ms). */
    commandTimeoutMs: ms(50).default(1_000),
  })
  .superRefine((r, ctx) => {
    if (r.sentinelName && r.sentinels.length === 0)
      ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'needs at least one Sentinel when sentinelName is set' });
    if (r.sentinelName && r.cluster) ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'cannot be combined with sentinelName' });
  })
  .prefault({});
