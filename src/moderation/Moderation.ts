/**
 * Bans as the composition root sees them: the store chosen by config (Redis when the cascade
 * runs on Redis, else memory), the admission check installed on the TokenService, the length of
 * a kick's ban, and eviction — a ban set anywhere removes the identity's sessions from the room on
 * this node (SDK peers, WHIP/WHEP sessions, SRT feeds; never the cascade's internal participants).
 */
import type { Config } from '../config/schema';
import type { Logger } from '../core/logger';
import type { RoomManager } from '../sfu/RoomManager';
import { InMemoryBanStore, type Ban, type BanStore } from './BanStore';
import { RedisBanStore } from './RedisBanStore';
import { RoomAdmission } from './RoomAdmission';
import type { BansConfig } from './moderationConfig';

/** Options of {@link Moderation}. */
export interface ModerationOptions {
  config: Config;
  rooms: RoomManager;
  /** Tells the webhook bridge why a participant is about to leave (`kicked`). */
  noteRemoval: (participantId: string, reason: string) => void;
  log: Logger;
}

/** What a ban request asks for. */
export interface BanRequest {
  room: string;
  identity: string;
  /** Length; undefined = until the identity's token expires (or `bans.defaultSeconds`), capped at `bans.maxSeconds`. */
  seconds?: number;
  reason: string;
  /** Keep an existing longer ban instead of shortening it (kicks). */
  keepLonger?: boolean;
}

/** The node's bans. */
export class Moderation {
  readonly store: BanStore;
  readonly admission: RoomAdmission;
  readonly config: BansConfig;
  readonly #o: ModerationOptions;

  constructor(options: ModerationOptions) {
    this.#o = options;
    const { config } = options;
    this.config = config.bans;
    this.store =
      config.cascade.coordinator === 'redis'
        ? new RedisBanStore({ redis: config.redis, nodeId: config.node.id, refreshMs: config.bans.refreshMs, log: options.log })
        : new InMemoryBanStore();
    this.admission = new RoomAdmission(this.store);
    this.store.on('banned', (ban) => {
      const n = this.evict(ban.room, ban.identity);
      if (n > 0) options.log.info('banned identity removed from room', { room: ban.room, identity: ban.identity, sessions: n });
    });
  }

  /** Connects the store (Redis) and loads the bans. */
  start(): Promise<void> {
    return this.store.start();
  }

  /** Stores a ban (which evicts the identity here, and on every node with Redis); returns it. */
  async ban(request: BanRequest): Promise<Ban> {
    const now = Date.now();
    const maxMs = this.config.maxSeconds * 1000;
    const untilToken = this.admission.tokenExpiry(request.room, request.identity);
    const lengthMs = request.seconds !== undefined ? request.seconds * 1000 : untilToken !== undefined ? untilToken - now : this.config.defaultSeconds * 1000;
    let ban: Ban = {
      room: request.room,
      identity: request.identity,
      reason: request.reason,
      createdAt: now,
      expiresAt: now + Math.min(Math.max(lengthMs, 1000), maxMs),
    };
    if (request.keepLonger) {
      const existing = await this.store.lookup(request.room, request.identity);
      if (existing && existing.expiresAt >= ban.expiresAt) ban = existing;
    }
    await this.store.add(ban);
    return ban;
  }

  /** Removes every session of `identity` from `room` on this node; returns how many. */
  evict(roomName: string, identity: string): number {
    const room = this.#o.rooms.get(roomName);
    if (!room || room.closed) return 0;
    const targets = room.participants.filter((p) => p.identity === identity && p.role !== 'relay');
    for (const p of targets) {
      this.#o.noteRemoval(p.id, 'kicked');
      room.leave(p.id);
      p.onRoomClosed('kicked');
    }
    return targets.length;
  }

  /** Stops the store. Idempotent. */
  close(): Promise<void> {
    return this.store.close();
  }
}
