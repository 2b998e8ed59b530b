/**
 * Delivery to one webhook receiver: a lane per room so events of a room arrive in order
 * (the next is sent only after the previous was acknowledged or given up), lanes of different
 * rooms in parallel up to `maxConcurrent`, retries with capped exponential backoff and jitter.
 * Nothing here is awaited by the caller: `enqueue` returns at once, so a slow or dead receiver
 * never slows signaling or media.
 */
import type { Logger } from '../core/logger';
import { ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature';
import { matchesEventFilter, type WebhookEvent } from './events';

/** Options of {@link WebhookEndpoint}. */
export interface WebhookEndpointOptions {
  url: string;
  secret: string;
  /** Event type filters (`room.*`); undefined = every event. */
  events?: readonly string[];
  /** One attempt's deadline (ms). */
  timeoutMs: number;
  /** Attempts before an event is given up. */
  maxAttempts: number;
  /** First retry delay and cap (ms). */
  backoffMs: number;
  backoffMaxMs: number;
  /** Queued events (all rooms) before new ones are dropped. */
  maxQueued: number;
  /** Deliveries in flight at once. */
  maxConcurrent: number;
}

/** Why an event was given up. */
export type UndeliverableReason = 'attempts_exhausted' | 'queue_full' | 'shutdown';

/** What the endpoint reports to its owner (for metrics). */
export interface WebhookEndpointHooks {
  /** One attempt ended; `ok` when the receiver answered 2xx. `latencyMs` is from emit to this answer. */
  onAttempt(ok: boolean, latencyMs: number): void;
  /** Events given up for good. */
  onUndeliverable(reason: UndeliverableReason, count: number): void;
}

interface Pending {
  event: WebhookEvent;
  body: string;
  attempts: number;
}

interface Lane {
  key: string;
  queue: Pending[];
  /** Sending or waiting for a retry: not in the ready list. */
  busy: boolean;
}

/** One receiver and its queues. */
export class WebhookEndpoint {
  readonly url: string;
  /** Short label for metrics and logs (the URL's host). */
  readonly label: string;
  readonly #options: WebhookEndpointOptions;
  readonly #hooks: WebhookEndpointHooks;
  readonly #log: Logger;
  readonly #lanes = new Map<string, Lane>();
  readonly #ready: Lane[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #abort = new AbortController();
  readonly #idleWaiters = new Set<() => void>();
  #queued = 0;
  #inFlight = 0;
  #dropped = 0;
  #lastDropLog = 0;
  #closed = false;

  constructor(options: WebhookEndpointOptions, hooks: WebhookEndpointHooks, log: Logger) {
    this.url = options.url;
    this.label = new URL(options.url).host;
    this.#options = options;
    this.#hooks = hooks;
    this.#log = log;
  }

  /** Events waiting or in flight. */
  get queued(): number {
    return this.#queued;
  }

  /** True when this endpoint wants events of `type`. */
  accepts(type: string): boolean {
    return matchesEventFilter(type, this.#options.events);
  }

  /** Queues an event behind the earlier ones of its room; false (and counted) when the queue is full. */
  enqueue(event: WebhookEvent, body: string): boolean {
    if (this.#closed) return false;
    if (this.#queued >= this.#options.maxQueued) {
      this.#dropped++;
      this.#hooks.onUndeliverable('queue_full', 1);
      const now = Date.now();
      if (now - this.#lastDropLog > 10_000) {
        this.#log.warn('webhook queue full; dropping events', { endpoint: this.label, queued: this.#queued, droppedSinceLastLog: this.#dropped });
        this.#lastDropLog = now;
        this.#dropped = 0;
      }
      return false;
    }
    const key = event.room ?? '';
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { key, queue: [], busy: false };
      this.#lanes.set(key, lane);
    }
    lane.queue.push({ event, body, attempts: 0 });
    this.#queued++;
    if (!lane.busy && lane.queue.length === 1) this.#ready.push(lane);
    this.#pump();
    return true;
  }

  /** Resolves true when every queue is empty, or false at the deadline. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.#queued === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#idleWaiters.delete(waiter);
        resolve(ok);
      };
      const waiter = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#idleWaiters.add(waiter);
    });
  }

  /** Stops delivery: aborts attempts in flight and gives up what is queued (counted). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const left = this.#queued;
    this.#lanes.clear();
    this.#ready.length = 0;
    this.#queued = 0;
    if (left > 0) {
      this.#hooks.onUndeliverable('shutdown', left);
      this.#log.warn('webhook events undelivered at shutdown', { endpoint: this.label, events: left });
    }
    for (const w of [...this.#idleWaiters]) w();
  }

  #pump(): void {
    while (!this.#closed && this.#inFlight < this.#options.maxConcurrent && this.#ready.length > 0) {
      const lane = this.#ready.shift()!;
      if (lane.queue.length === 0) continue;
      lane.busy = true;
      this.#inFlight++;
      void this.#attempt(lane);
    }
  }

  async #attempt(lane: Lane): Promise<void> {
    const pending = lane.queue[0]!;
    pending.attempts++;
    let ok = false;
    let problem = '';
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'subsec-webhooks/1',
          [SIGNATURE_HEADER]: signatureHeader(this.#options.secret, pending.body),
          [EVENT_ID_HEADER]: pending.event.id,
          [EVENT_TYPE_HEADER]: pending.event.type,
          [ATTEMPT_HEADER]: String(pending.attempts),
        },
        body: pending.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs)]),
      });
      // Free the connection; the receiver's body is not used.
      await res.body?.cancel().catch(() => undefined);
      ok = res.status >= 200 && res.status < 300;
      if (!ok) problem = `HTTP ${res.status}`;
    } catch (err) {
      problem =
        (err as Error).name === 'TimeoutError' ? `no answer within ${this.#options.timeoutMs} ms` : String((err as Error).cause ?? (err as Error).message);
    }
    this.#inFlight--;
    if (this.#closed) return;
    this.#hooks.onAttempt(ok, Date.now() - pending.event.createdAt);
    if (ok) {
      this.#finish(lane);
    } else if (pending.attempts >= this.#options.maxAttempts) {
      this.#hooks.onUndeliverable('attempts_exhausted', 1);
      this.#log.warn('webhook event undeliverable; giving up', {
        endpoint: this.label,
        event: pending.event.id,
        type: pending.event.type,
        room: pending.event.room,
        attempts: pending.attempts,
        lastError: problem,
      });
      this.#finish(lane);
    } else {
      const base = Math.min(this.#options.backoffMaxMs, this.#options.backoffMs * 2 ** (pending.attempts - 1));
      const delay = Math.round(base / 2 + (Math.random() * base) / 2);
      this.#log.debug('webhook delivery failed; retrying', {
        endpoint: this.label,
        event: pending.event.id,
        attempt: pending.attempts,
        delayMs: delay,
        error: problem,
      });
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#ready.push(lane);
        this.#pump();
      }, delay);
      this.#timers.add(timer);
    }
    this.#pump();
  }

  #finish(lane: Lane): void {
    lane.queue.shift();
    this.#queued--;
    lane.busy = false;
    if (lane.queue.length > 0) this.#ready.push(lane);
    else this.#lanes.delete(lane.key);
    if (this.#queued === 0) for (const w of [...this.#idleWaiters]) w();
  }
}
