/**
 * Builds the room events of a node from its config: the store (memory, or Redis Streams on the
 * shared `redis` section in cascade mode), the {@link RoomEventLog}, the built-in auction rules
 * and the timeline the LL-HLS playlists query. `SubsecNode` owns one.
 */
import type client from 'prom-client';
import type { Config } from '../config/schema';
import type { Logger } from '../core/logger';
import type { RoomManager } from '../sfu/RoomManager';
import { createRedisClient } from '../redis/redisClient';
import type { EventStore } from './EventStore';
import { InMemoryEventStore } from './InMemoryEventStore';
import { RedisEventStore } from './RedisEventStore';
import { RoomEventLog, type MediaClock } from './RoomEventLog';
import { AuctionRules } from './rules/AuctionRules';
import { EventTimeline } from './EventTimeline';

/** Options of {@link EventsService}. */
export interface EventsServiceOptions {
  config: Config;
  rooms: RoomManager;
  registry: client.Registry;
  mediaClock?: MediaClock;
  log: Logger;
}

/** The node's room events. */
export class EventsService {
  /** The log: sends, reads, subscriptions, hooks (`addHook`). */
  readonly log: RoomEventLog;
  /** Events by media time, for LL-HLS EXT-X-DATERANGE. */
  readonly timeline: EventTimeline;
  /** The built-in auction rules (when `events.auction.rooms` is not empty). */
  readonly auction: AuctionRules | undefined;
  readonly #store: EventStore;
  readonly #redis: RedisEventStore | undefined;

  constructor(options: EventsServiceOptions) {
    const { config } = options;
    const c = config.events;
    const useRedis = c.store === 'redis' || (c.store === 'auto' && config.cascade.coordinator === 'redis');
    if (useRedis) {
      this.#redis = new RedisEventStore({
        client: createRedisClient(config.redis, `subsec:${config.node.id}:events`),
        subscriber: createRedisClient(config.redis, `subsec:${config.node.id}:events-sub`),
        keyPrefix: config.redis.keyPrefix,
        connectTimeoutMs: config.redis.connectTimeoutMs,
        log: options.log.child('store'),
      });
      this.#store = this.#redis;
    } else {
      this.#store = new InMemoryEventStore();
    }
    this.log = new RoomEventLog({
      store: this.#store,
      config: c,
      rooms: options.rooms,
      registry: options.registry,
      log: options.log,
      ...(options.mediaClock ? { mediaClock: options.mediaClock } : {}),
    });
    if (c.auction.rooms.length > 0) {
      this.auction = new AuctionRules(c.auction);
      this.log.addHook(this.auction);
    }
    this.timeline = new EventTimeline(this.log);
  }

  /** Which store is in use (`memory` or `redis`). */
  get storeKind(): string {
    return this.#store.kind;
  }

  /** Connects the store and starts following the node's rooms; rejects when Redis is unreachable. */
  async start(): Promise<void> {
    await this.#redis?.start();
    this.log.start();
  }

  /** Stops delivery and releases the store. Idempotent. */
  async close(): Promise<void> {
    this.log.close();
    await this.#store.close();
  }
}
