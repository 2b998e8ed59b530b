/**
 * A small typed event emitter for browsers (no Node `events`). Each event carries one payload.
 * A throwing listener never breaks the SDK: its error is reported to the page through
 * `reportError` (or a rethrow on a fresh task) and the other listeners still run.
 */

/** Maps event names to their payload types (`void` for none). */
export type EventMap = object;

/** A listener of event `K` in map `E`. */
export type Listener<E extends EventMap, K extends keyof E> = (payload: E[K]) => void;

function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof report === 'function') report(error);
  else
    setTimeout(() => {
      throw error;
    }, 0);
}

/** Typed event emitter base class. */
export class TypedEmitter<E extends EventMap> {
  readonly #listeners = new Map<keyof E, Set<(payload: never) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  /** Adds a listener removed after its first call; returns a function that removes it. */
  once<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Removes a listener added with {@link on}. */
  off<K extends keyof E>(event: K, listener: Listener<E, K>): void {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /** Number of listeners of an event. */
  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Removes every listener (used when an object is closed). */
  protected removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** Calls the listeners of `event` in order; returns whether there were any. */
  protected emit<K extends keyof E>(event: K, ...args: E[K] extends void ? [] : [E[K]]): boolean {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        (listener as (payload: E[K] | undefined) => void)(args[0]);
      } catch (error) {
        reportListenerError(error);
      }
    }
    return true;
  }
}
