/**
 * Start in order, close in reverse: the composition root starts each component with
 * {@link Lifecycle.start}, which records how to close it once it is up; {@link Lifecycle.close}
 * then closes them last-started first, awaiting each, so nothing is closed under a component
 * that still uses it and no close is left floating.
 */
import type { Logger } from './logger';

interface Entry {
  name: string;
  close: () => void | Promise<void>;
}

/** The started components of one owner. */
export class Lifecycle {
  readonly #log: Logger;
  readonly #started: Entry[] = [];
  readonly #owned: Entry[] = [];
  #closing: Promise<void> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Names of the started components, in start order. */
  get started(): string[] {
    return this.#started.map((e) => e.name);
  }

  /** Records the close of a component that holds resources from its construction on (closed after every started one). */
  own(name: string, close: () => void | Promise<void>): void {
    this.#owned.push({ name, close });
  }

  /** Runs `start` (when given) and, once it resolved, records `close` for {@link close}. */
  async start(name: string, start: (() => unknown) | undefined, close: () => void | Promise<void>): Promise<void> {
    if (this.#closing) throw new Error(`cannot start ${name}: closing`);
    await start?.();
    this.#started.push({ name, close });
  }

  /**
   * Closes every started component in reverse order, then the owned ones in reverse order,
   * awaiting each; a failing close is logged and the rest still close. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (let e = this.#started.pop() ?? this.#owned.pop(); e; e = this.#started.pop() ?? this.#owned.pop()) {
        try {
          await e.close();
        } catch (err) {
          this.#log.warn('component close failed', { component: e.name, error: err });
        }
      }
    })();
    return this.#closing;
  }
}
