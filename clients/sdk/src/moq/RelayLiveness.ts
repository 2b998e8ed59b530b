/**
 * Notices a MoQ relay that went away without a word. A transport learns of a closed relay from its
 * goodbye (a WebTransport close, a QUIC CONNECTION_CLOSE, a WebSocket close); when that never
 * arrives, nothing does: after `silenceMs` without media this asks the relay's HTTP endpoint
 * (`GET /info`). Any answer means the relay is there and the broadcast is only quiet; no answer
 * within `probeTimeoutMs` means the relay is gone.
 */

/** Options of {@link RelayLiveness}. */
export interface RelayLivenessOptions {
  /** Silence before the relay is asked (ms). */
  silenceMs: number;
  /** How long the relay has to answer (ms). */
  probeTimeoutMs: number;
}

/** Defaults: ask after 3 s of silence, give it 2 s. */
export const RELAY_LIVENESS_DEFAULTS: RelayLivenessOptions = { silenceMs: 3000, probeTimeoutMs: 2000 };

/** Watches one relay session for silence. */
export class RelayLiveness {
  readonly #infoUrl: URL;
  readonly #onGone: (why: string) => void;
  readonly #o: RelayLivenessOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  #lastHeardAt = performance.now();
  #probing = false;
  #closed = false;

  constructor(relayUrl: URL, onGone: (why: string) => void, options: RelayLivenessOptions = RELAY_LIVENESS_DEFAULTS) {
    this.#infoUrl = new URL('/info', relayUrl);
    this.#onGone = onGone;
    this.#o = options;
    this.#timer = setInterval(() => void this.#check(), Math.min(1000, options.silenceMs));
  }

  /** Something arrived from the relay. */
  heard(): void {
    this.#lastHeardAt = performance.now();
  }

  /** Stops watching. Idempotent. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  async #check(): Promise<void> {
    if (this.#closed || this.#probing || performance.now() - this.#lastHeardAt < this.#o.silenceMs) return;
    this.#probing = true;
    try {
      // Any HTTP answer (even an error status from a proxy in front) shows the relay's host is there.
      await fetch(this.#infoUrl, { cache: 'no-store', signal: AbortSignal.timeout(this.#o.probeTimeoutMs) });
      this.heard();
    } catch (error) {
      if (this.#closed) return;
      this.close();
      this.#onGone(`the MoQ relay stopped answering (${error instanceof Error ? error.message : String(error)})`);
    } finally {
      this.#probing = false;
    }
  }
}
