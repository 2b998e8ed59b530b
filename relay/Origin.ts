/**
 * The broadcasts this relay serves locally, by path: announced by publishing sessions or
 * created in-process (the SFU bridge). Announce streams follow its events. Broadcasts reached
 * through an upstream relay are not here (see {@link UpstreamPool}).
 */
import { EventEmitter } from 'node:events';
import type { Broadcast } from './model/Broadcast';
import { hasPrefix } from './Path';

/** Events of {@link Origin}. */
export interface OriginEvents {
  announced: [broadcast: Broadcast];
  unannounced: [broadcast: Broadcast];
}

/** Path → broadcast registry with change events. */
export class Origin extends EventEmitter<OriginEvents> {
  readonly #byPath = new Map<string, Broadcast>();

  constructor() {
    super();
    this.setMaxListeners(0);
  }

  /** Number of broadcasts. */
  get size(): number {
    return this.#byPath.size;
  }

  /**
   * Publishes a broadcast; a newer one at the same path replaces (and closes) the older.
   * The broadcast is withdrawn automatically when it closes.
   */
  publish(broadcast: Broadcast): void {
    const old = this.#byPath.get(broadcast.path);
    if (old === broadcast) return;
    if (old) this.unpublish(old);
    this.#byPath.set(broadcast.path, broadcast);
    broadcast.once('closed', () => this.unpublish(broadcast));
    this.emit('announced', broadcast);
    if (old) old.close();
  }

  /** Withdraws a broadcast if it is the current one at its path. */
  unpublish(broadcast: Broadcast): void {
    if (this.#byPath.get(broadcast.path) !== broadcast) return;
    this.#byPath.delete(broadcast.path);
    this.emit('unannounced', broadcast);
  }

  /** The broadcast at `path`. */
  get(path: string): Broadcast | undefined {
    return this.#byPath.get(path);
  }

  /** Broadcasts under `prefix`. */
  list(prefix = ''): Broadcast[] {
    return [...this.#byPath.values()].filter((b) => hasPrefix(prefix, b.path));
  }
}
