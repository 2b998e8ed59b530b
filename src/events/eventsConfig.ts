/**
 * The `events` config section (room events, docs/events.md), strict with defaults;
 * `src/config/schema.ts` mounts it.
 */
import { z } from 'zod';

/** Room-name pattern: `*` matches any run of characters (`auction-*`, `*`). */
const roomPattern = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.*-]+$/, 'room pattern: letters, digits, _ . - and *');

const rateLimit = {
  /** Events per second each identity may send in a room (token bucket refill rate). */
  perSecond: z.number().positive().max(10_000),
  /** Events an identity may send at once before the rate applies (bucket size). */
  burst: z.number().int().min(1).max(100_000),
};

const retention = {
  /** Events kept per room; the oldest go first. */
  maxEvents: z.number().int().min(1).max(1_000_000),
  /** Events older than this are dropped (s). */
  maxAgeSec: z
    .number()
    .int()
    .min(1)
    .max(365 * 86_400),
};

/** `events`: ordered, durable room events. */
export const eventsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** `memory`: this node's memory; `redis`: Redis Streams on the `redis` section; `auto`: redis when `cascade.coordinator` is redis. */
    store: z.enum(['auto', 'memory', 'redis']).default('auto'),
    /** Largest event payload, as serialised JSON (bytes). */
    maxPayloadBytes: z.number().int().min(16).max(60_000).default(4096),
    /** Per-identity rate limit in each room. */
    rateLimit: z.strictObject({ perSecond: rateLimit.perSecond.default(10), burst: rateLimit.burst.default(20) }).prefault({}),
    /** History kept per room (the bound on replay after a reconnect). */
    retention: z.strictObject({ maxEvents: retention.maxEvents.default(10_000), maxAgeSec: retention.maxAgeSec.default(86_400) }).prefault({}),
    /** How long an idempotency key is remembered: a retry within it is applied once (s). */
    idempotencyTtlSec: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(86_400),
    /** Largest backlog `subscribeEvents` pushes at once; clients further behind page with `getEvents` first. */
    maxReplayEvents: z.number().int().min(1).max(100_000).default(1000),
    /** A client-given media time may lie this far behind the server clock (ms); older ones are clamped. */
    maxClientMediaLagMs: z.number().int().min(0).max(600_000).default(30_000),
    /** Per-room overrides, first match wins: `{match: 'auction-*', maxPayloadBytes, rateLimit, retention}`. */
    rooms: z
      .array(
        z.strictObject({
          /** Rooms the override applies to (`*` matches any run of characters). */
          match: roomPattern,
          /** Largest event payload in those rooms (bytes). */
          maxPayloadBytes: z.number().int().min(16).max(60_000).optional(),
          rateLimit: z.strictObject({ perSecond: rateLimit.perSecond.optional(), burst: rateLimit.burst.optional() }).optional(),
          retention: z.strictObject({ maxEvents: retention.maxEvents.optional(), maxAgeSec: retention.maxAgeSec.optional() }).optional(),
        }),
      )
      .default([]),
    /** Built-in auction rules (a validation hook): lots, bids, anti-sniping. docs/events.md#auction. */
    auction: z
      .strictObject({
        /** Rooms the rules apply to (patterns); [] turns them off. */
        rooms: z.array(roomPattern).default(['auction-*']),
        /** A bid this close to a lot's end extends it (ms). */
        antiSnipingMs: z.number().int().min(0).max(600_000).default(10_000),
        /** The lot then ends this long after the bid (ms). */
        extensionMs: z.number().int().min(0).max(600_000).default(10_000),
        /** Longest lot an auctioneer may open (s). */
        maxLotSec: z.number().int().min(1).max(86_400).default(3600),
      })
      .prefault({}),
    /** Events as EXT-X-DATERANGE in the LL-HLS media playlists of a room's main stream. */
    hlsDateRanges: z.boolean().default(true),
  })
  .prefault({});

/** The validated `events` section. */
export type EventsConfig = z.infer<typeof eventsConfigSchema>;
