/**
 * A promise with its settle functions. Its own rejection is marked handled, so a deferred nobody
 * ends up awaiting never becomes an unhandled rejection; whoever awaits it still sees the error.
 */
export class Deferred<T> {
  /** The promise; settles once. */
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #settled = false;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.promise.catch(() => undefined);
  }

  /** Whether resolve or reject has been called. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves the promise (no-op once settled). */
  resolve(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(value);
  }

  /** Rejects the promise (no-op once settled). */
  reject(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}
