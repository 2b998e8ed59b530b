/**
 * The server-side participant that stands for a publisher on another node: the producers piped
 * in from there belong to it, so viewers on this node see them like any producer (`newProducer`,
 * `room.producersOf(identity)` for WHEP/HLS/MoQ) and the publisher as a peer.
 */
import crypto from 'node:crypto';
import type { Ingest } from './Ingest';
import type { Notifications, NotificationName } from '../protocol/signaling';

/** A publisher on another node, as seen in this node's room. */
export class RemoteParticipant implements Ingest {
  readonly id = crypto.randomUUID();
  readonly kind = 'internal' as const;
  readonly role = 'relay' as const;
  readonly identity: string;
  readonly displayName?: string;
  /** Node the media comes from (the origin or a relay). */
  readonly parent: string;
  /** Node where the stream is published. */
  readonly origin: string;
  /** Epoch of the origin lease the media belongs to. */
  readonly epoch: number;
  readonly #onRoomClosed: (reason: string) => void;

  constructor(options: { identity: string; displayName?: string; parent: string; origin: string; epoch: number; onRoomClosed: (reason: string) => void }) {
    this.identity = options.identity;
    this.displayName = options.displayName;
    this.parent = options.parent;
    this.origin = options.origin;
    this.epoch = options.epoch;
    this.#onRoomClosed = options.onRoomClosed;
  }

  notify<N extends NotificationName>(_name: N, _data: Notifications[N]): void {}

  onRoomClosed(reason: string): void {
    this.#onRoomClosed(reason);
  }
}
