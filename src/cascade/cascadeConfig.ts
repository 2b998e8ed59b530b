/**
 * Config section of the cascade (`cascade`), strict with defaults; `src/config/schema.ts` mounts
 * it (the Redis connection is `src/redis/redisConfig.ts`). See docs/cascade.md and config/cascade.example.yaml.
 */
import { z } from 'zod';

const ms = (min: number) => z.number().int().min(min);
const port = z.number().int().min(0).max(65535);

/** `cascade`: nodes cooperating through a coordinator (docs/cascade.md). */
export const cascadeConfigSchema = z
  .strictObject({
    /** `memory`: this node alone, no Redis (the embedded default). `redis`: nodes sharing `redis` form a cascade. */
    coordinator: z.enum(['memory', 'redis']).default('memory'),
    /** Heartbeat (and registry sweep) period (ms). */
    heartbeatMs: ms(50).default(500),
    /** A node silent this long is dead; detection takes at most nodeTtlMs + heartbeatMs (ms). */
    nodeTtlMs: ms(200).default(2_000),
    /** Origin lease lifetime without renewal; renewed every heartbeat (ms). */
    leaseMs: ms(200).default(3_000),
    /** Default timeout of calls between nodes (ms). */
    rpcTimeoutMs: ms(100).default(3_000),
    /** Full directory reconciliation period, on top of event-driven updates (ms). */
    reconcileMs: ms(100).default(2_000),
    /** Pipes stay this long after their last viewer left, so a quick rejoin reuses them (ms). */
    lingerMs: ms(0).default(1_000),
    /** A join waits at most this long for the room's remote streams before answering (ms). */
    joinWaitMs: ms(0).default(1_500),
    /** Longest chain of relays from the origin to a node (1 = always pull from the origin). */
    maxDepth: z.number().int().min(1).max(16).default(4),
    /** Join placement: `overloaded` redirects joins (REDIRECT error) to a less loaded node of the region when this node's load ≥ maxLoad. */
    redirect: z.enum(['never', 'overloaded']).default('overloaded'),
    /** Load (consumers / capacity) from which `redirect: overloaded` sends joins elsewhere. */
    maxLoad: z.number().min(0).max(10).default(0.85),
    /** PipeTransports between nodes. */
    pipe: z
      .strictObject({
        /** Local IP pipes bind. */
        listenIp: z.string().min(1).default('127.0.0.1'),
        /** IP other nodes send to (default: listenIp). */
        announcedAddress: z.string().min(1).optional(),
        /** Encrypt media between nodes (SRTP); the pulling node's setting decides for each pipe. */
        enableSrtp: z.boolean().default(false),
        /** UDP port range of pipes: first port (default: the sfu RTC range). */
        minPort: port.optional(),
        /** UDP port range of pipes: last port. */
        maxPort: port.optional(),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.nodeTtlMs < 2 * c.heartbeatMs) ctx.addIssue({ code: 'custom', path: ['nodeTtlMs'], message: 'must be at least twice heartbeatMs' });
    if (c.leaseMs < 2 * c.heartbeatMs) ctx.addIssue({ code: 'custom', path: ['leaseMs'], message: 'must be at least twice heartbeatMs' });
    if ((c.pipe.minPort === undefined) !== (c.pipe.maxPort === undefined))
      ctx.addIssue({ code: 'custom', path: ['pipe', 'minPort'], message: 'set both minPort and maxPort, or neither' });
    if (c.pipe.minPort !== undefined && c.pipe.maxPort !== undefined && c.pipe.minPort > c.pipe.maxPort)
      ctx.addIssue({ code: 'custom', path: ['pipe', 'maxPort'], message: 'must be ≥ minPort' });
  })
  .prefault({});
