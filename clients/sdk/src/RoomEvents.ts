/**
 * Room events in the SDK (docs/events.md): `send(type, payload, {idempotencyKey})` and
 * `on('event', …)`. The node numbers every event of the room; this class delivers them to the app
 * exactly once and in that order, across reconnections: on every new connection it subscribes
 * again after the last sequence number it delivered (paging through a long backlog first), so the
 * app receives what it missed. A send interrupted by a lost connection is retried on the next one
 * with the same idempotency key, so it is applied once however often it is retried.
 */
import type { EventPage, RoomEvent } from '../../../src/protocol/signaling';
import { SubsecError, TimeoutError, isConnectionLoss, toSubsecError } from './errors';
import { EventRejectedError } from './EventRejectedError';
import type { Logger } from './logger';
import type { NodeConnection } from './NodeConnection';
import { TypedEmitter } from './TypedEmitter';

export type { RoomEvent };

/** Events of {@link RoomEvents}. */
export interface RoomEventsEvents {
  /** A room event, in sequence order, each once (replayed ones first after a reconnection). */
  event: RoomEvent;
  /** Events `fromSeq..toSeq` were dropped by the node's retention before this client got them. */
  gap: { fromSeq: number; toSeq: number };
  /** Caught up with the log after a (re)connection: every event up to `lastSeq` was delivered. */
  synced: { lastSeq: number };
}

/** Options of {@link RoomEvents.send}. */
export interface SendEventOptions {
  /** Key under which the node applies the event once (default: a random one per call). */
  idempotencyKey?: string;
  /** Media time (ms, program-date-time clock) of the frame the sender is watching. */
  mediaTime?: number;
  /** How long to keep retrying across reconnections (ms; default: the client's operationTimeoutMs). */
  timeoutMs?: number;
}

/** Where the events come from at first connection. */
export type ReplayFrom = 'all' | 'new' | number;

/** What {@link RoomEvents} needs from the client. */
export interface RoomEventsDeps {
  /** The live connection, waiting while reconnecting. */
  whenConnected(): Promise<NodeConnection>;
  /** Default time a send keeps retrying (ms). */
  operationTimeoutMs: number;
  /** First connection: replay every retained event ('all', default), none ('new'), or after a sequence number. */
  replay: ReplayFrom;
  logger: Logger;
}

/** A random idempotency key (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Largest page asked for when catching up. */
const PAGE = 500;

/** The room's events. */
export class RoomEvents extends TypedEmitter<RoomEventsEvents> {
  readonly #deps: RoomEventsDeps;
  /** Last sequence number delivered (undefined until the first subscription decided where to start). */
  #cursor: number | undefined;
  #connection: NodeConnection | undefined;
  #buffer: RoomEvent[] = [];
  #catchingUp = false;
  #closed = false;

  constructor(deps: RoomEventsDeps) {
    super();
    this.#deps = deps;
    if (typeof deps.replay === 'number') this.#cursor = deps.replay;
    else if (deps.replay === 'all') this.#cursor = 0;
  }

  /** Sequence number of the last event delivered (0 before any). */
  get lastSeq(): number {
    return this.#cursor ?? 0;
  }

  /**
   * Sends an event to the room; resolves with it as the node numbered it (or, for a retry of an
   * already applied key, as it was first applied). Retries across reconnections within `timeoutMs`.
   *
   * @throws TypeError for a bad type; {@link EventRejectedError} (the hook's `reason`), RATE_LIMITED,
   *   PAYLOAD_TOO_LARGE, FORBIDDEN (no data grant), TIMEOUT.
   */
  async send(type: string, payload?: unknown, options: SendEventOptions = {}): Promise<RoomEvent> {
    if (typeof type !== 'string' || !/^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/.test(type)) {
      throw new TypeError('event type: a letter, then up to 63 of letters, digits, _ . : -');
    }
    if (this.#closed) throw new SubsecError('CLOSED', 'client is closed');
    const idempotencyKey = options.idempotencyKey ?? randomKey();
    const deadline = Date.now() + (options.timeoutMs ?? this.#deps.operationTimeoutMs);
    for (;;) {
      const connection = await this.#deps.whenConnected();
      try {
        const { event } = await connection.request('sendEvent', {
          type,
          ...(payload === undefined ? {} : { payload }),
          idempotencyKey,
          ...(options.mediaTime === undefined ? {} : { mediaTime: options.mediaTime }),
        });
        return event;
      } catch (e) {
        const error = toSubsecError(e);
        if (error.code === 'EVENT_REJECTED') throw new EventRejectedError(error.message.replace(/^sendEvent: /, ''), error);
        // Lost or unanswered: it may or may not have been applied; the same key makes the retry safe.
        const retry = isConnectionLoss(error) || error.code === 'TIMEOUT';
        if (!retry || this.#closed) throw error;
        if (Date.now() >= deadline) throw new TimeoutError(`sendEvent: not acknowledged within the timeout (${error.message})`);
        this.#deps.logger.debug?.('[subsec] retrying event', type, idempotencyKey);
      }
    }
  }

  /** A page of retained events after `afterSeq` (history the app did not keep). */
  async history(afterSeq = 0, limit = PAGE): Promise<EventPage> {
    const connection = await this.#deps.whenConnected();
    return connection.request('getEvents', { afterSeq, limit });
  }

  /** @internal A new connection: resume after the last delivered event. */
  _attach(connection: NodeConnection): void {
    if (this.#closed) return;
    this.#connection = connection;
    this.#buffer = [];
    void this.#resume(connection).catch((e: unknown) => {
      if (connection !== this.#connection || isConnectionLoss(e)) return;
      this.#deps.logger.error?.('[subsec] event subscription failed:', toSubsecError(e).message);
    });
  }

  /** @internal A `roomEvent` notification of `connection`. */
  _receive(connection: NodeConnection, event: RoomEvent): void {
    if (connection !== this.#connection || this.#closed) return;
    if (this.#catchingUp || this.#cursor === undefined) {
      this.#buffer.push(event);
      return;
    }
    this.#deliver(event);
  }

  /** @internal The connection is gone. */
  _detach(): void {
    this.#connection = undefined;
    this.#buffer = [];
  }

  /** @internal Stops for good. */
  _close(): void {
    this.#closed = true;
    this._detach();
    this.removeAllListeners();
  }

  async #resume(connection: NodeConnection): Promise<void> {
    this.#catchingUp = true;
    try {
      for (;;) {
        if (this.#cursor !== undefined) {
          // Page through a long backlog first: subscribing replays only a bounded one.
          const page = await connection.request('getEvents', { afterSeq: this.#cursor, limit: PAGE });
          if (connection !== this.#connection) return;
          if (page.lastSeq < this.#cursor) {
            // The node forgot the room's log (memory store, idle for long): it restarted at 1.
            this.#cursor = 0;
            continue;
          }
          for (const e of page.events) this.#deliver(e);
          if (page.more) continue;
        }
        try {
          const state = await connection.request('subscribeEvents', this.#cursor === undefined ? {} : { afterSeq: this.#cursor });
          if (connection !== this.#connection) return;
          this.#cursor ??= state.lastSeq;
          break;
        } catch (e) {
          // More arrived between the last page and the subscription than one replay holds: page again.
          if (toSubsecError(e).code !== 'CONFLICT') throw e;
        }
      }
    } finally {
      if (connection === this.#connection) this.#catchingUp = false;
    }
    const buffered = this.#buffer;
    this.#buffer = [];
    for (const e of buffered.sort((a, b) => a.seq - b.seq)) this.#deliver(e);
    this.emit('synced', { lastSeq: this.lastSeq });
  }

  #deliver(event: RoomEvent): void {
    const cursor = this.#cursor ?? 0;
    if (event.seq <= cursor) return;
    if (event.seq > cursor + 1) this.emit('gap', { fromSeq: cursor + 1, toSeq: event.seq - 1 });
    this.#cursor = event.seq;
    this.emit('event', event);
  }
}
