/**
 * The node's {@link TokenAdmission}: refuses a token whose identity is banned from the room it
 * wants to enter, and remembers the latest expiry of the tokens each identity entered a room with,
 * so a kick can ban "until the kicked token expires".
 */
import { ForbiddenError } from '../core/errors';
import type { TokenAdmission, VerifiedToken } from '../auth/tokens';
import type { Ban, BanStore } from './BanStore';

const PRUNE_EVERY_MS = 60_000;

/** The error a banned identity gets (FORBIDDEN; HTTP 403). */
export function bannedError(ban: Ban): ForbiddenError {
  return new ForbiddenError(`identity "${ban.identity}" is banned from room ${ban.room} until ${new Date(ban.expiresAt).toISOString()} (${ban.reason})`);
}

/** Bans as a token admission check. */
export class RoomAdmission implements TokenAdmission {
  readonly #store: BanStore;
  /** `room\nidentity` → latest token expiry seen (ms). */
  readonly #expiry = new Map<string, number>();
  #prunedAt = Date.now();

  constructor(store: BanStore) {
    this.#store = store;
  }

  assert(token: VerifiedToken, room: string): void {
    this.#seen(token, room);
    const ban = this.#store.cached(room, token.identity);
    if (ban) throw bannedError(ban);
  }

  async check(token: VerifiedToken, room: string): Promise<void> {
    this.#seen(token, room);
    const ban = await this.#store.lookup(room, token.identity);
    if (ban) throw bannedError(ban);
  }

  /** Latest expiry (ms since the epoch) of the tokens `identity` presented for `room` on this node, if one is still valid. */
  tokenExpiry(room: string, identity: string): number | undefined {
    const exp = this.#expiry.get(`${room}\n${identity}`);
    return exp !== undefined && exp > Date.now() ? exp : undefined;
  }

  #seen(token: VerifiedToken, room: string): void {
    const now = Date.now();
    const key = `${room}\n${token.identity}`;
    const exp = token.exp * 1000;
    if (exp > (this.#expiry.get(key) ?? 0)) this.#expiry.set(key, exp);
    if (now - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      for (const [k, e] of this.#expiry) if (e <= now) this.#expiry.delete(k);
    }
  }
}
