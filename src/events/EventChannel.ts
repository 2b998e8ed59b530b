/**
 * The room events of one signaling peer: its `sendEvent`, `getEvents`, `subscribeEvents` and
 * `unsubscribeEvents` requests, and the pushes of its subscription. Created by the peer's session,
 * closed with it.
 */
import { ForbiddenError, InvalidStateError } from '../core/errors';
import type { RequestParams, ResponseData, RoomEvent } from '../protocol/signaling';
import type { SenderGrants } from './EventHook';
import type { RoomEventLog } from './RoomEventLog';
import type { EventSink } from './RoomFeed';

/** Who the channel speaks for, and how it pushes. */
export interface EventChannelOptions {
  room: string;
  identity: string;
  peerId: string;
  grants: SenderGrants;
  /** Sends one pre-serialised `roomEvent` notification frame to the peer. */
  pushFrame: (frame: string, event: RoomEvent) => void;
  /** The peer's socket joins / leaves a pub/sub topic (absent: every event is pushed). */
  topics?: { join(topic: string): boolean; leave(topic: string): void };
}

/** A peer's room events. */
export class EventChannel implements EventSink {
  readonly #log: RoomEventLog;
  readonly #o: EventChannelOptions;
  #subscribed = false;
  #closed = false;

  constructor(log: RoomEventLog, options: EventChannelOptions) {
    this.#log = log;
    this.#o = options;
  }

  /** `sendEvent`: needs the data grant. */
  async send(params: RequestParams<'sendEvent'>): Promise<ResponseData['sendEvent']> {
    this.#assertOpen();
    if (!this.#o.grants.canPublishData) throw new ForbiddenError('token does not allow sending events (canPublishData)');
    const { room, identity, peerId, grants } = this.#o;
    return this.#log.send({
      room,
      identity,
      peerId,
      grants,
      type: params.type,
      payload: params.payload,
      ...(params.idempotencyKey !== undefined ? { idempotencyKey: params.idempotencyKey } : {}),
      ...(params.mediaTime !== undefined ? { mediaTime: params.mediaTime } : {}),
    });
  }

  /** `getEvents`. */
  get(params: RequestParams<'getEvents'>): Promise<ResponseData['getEvents']> {
    this.#assertOpen();
    return this.#log.read(this.#o.room, params.afterSeq, params.limit);
  }

  /** `subscribeEvents`: (re)starts the pushes after `afterSeq`. */
  async subscribe(params: RequestParams<'subscribeEvents'>): Promise<ResponseData['subscribeEvents']> {
    this.#assertOpen();
    if (this.#subscribed) this.#log.unsubscribe(this.#o.room, this);
    this.#subscribed = true;
    try {
      const state = await this.#log.subscribe(this.#o.room, this, params?.afterSeq);
      if (this.#closed) this.#log.unsubscribe(this.#o.room, this);
      return state;
    } catch (err) {
      this.#subscribed = false;
      throw err;
    }
  }

  /** `unsubscribeEvents`. */
  unsubscribe(): ResponseData['unsubscribeEvents'] {
    if (this.#subscribed) this.#log.unsubscribe(this.#o.room, this);
    this.#subscribed = false;
    return {};
  }

  push(event: RoomEvent, frame: string): void {
    if (!this.#closed) this.#o.pushFrame(frame, event);
  }

  joinTopic(topic: string): boolean {
    return !this.#closed && !!this.#o.topics?.join(topic);
  }

  leaveTopic(topic: string): void {
    this.#o.topics?.leave(topic);
  }

  /** Stops the pushes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.unsubscribe();
    this.#closed = true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('session closed');
  }
}
