/**
 * The validation hook API of room events. A hook sees each event before it is appended and may
 * accept it, reject it with a reason (the sender gets `EVENT_REJECTED` with that reason) or
 * rewrite its payload; it also sees every accepted event of its rooms in order, from this node or
 * any other, so it can keep the state its decisions need (the current high bid, a lot's end).
 *
 * Hooks decide against the state of the log up to `ctx.lastSeq`; when another node appended in
 * the meantime the append is retried after the hook caught up (optimistic concurrency), so a
 * stateful rule holds across a cascade too.
 */
import { SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import type { RoomEvent } from '../protocol/signaling';

/** Grants of the sender (absent for events of the node itself). */
export interface SenderGrants {
  canPublish: boolean;
  canSubscribe: boolean;
  canPublishData: boolean;
  admin?: boolean;
}

/** What a hook is asked to judge. */
export interface EventContext {
  room: string;
  type: string;
  payload: unknown;
  /** Sender identity; `server` for events the node (or a hook) published. */
  identity: string;
  peerId?: string;
  /** Sender's grants; undefined for server events. */
  grants?: SenderGrants;
  /** When the node received it (ms since the epoch). */
  serverTime: number;
  /** Media time it is stamped with (ms, program-date-time clock of the main stream). */
  mediaTime: number;
  /** Last sequence number the hook has seen through `onEvent` (the state it decides on). */
  lastSeq: number;
}

/** A hook's decision: nothing (accept), `{reject: reason}`, or `{payload}` to store instead. */
export type HookVerdict = void | undefined | { reject: string } | { payload: unknown };

/** What a hook may do besides judging. */
export interface HookApi {
  /** Appends a server event (identity `server`); hooks judge it too. Never throws: failures are logged. */
  publish(room: string, type: string, payload: unknown, options?: { idempotencyKey?: string }): Promise<RoomEvent | undefined>;
  /** Runs `fn` after `delayMs` unless the log closes first (timers owned by the log). */
  schedule(delayMs: number, fn: () => void): () => void;
}

/** A validation hook. */
export interface EventHook {
  /** Name in logs and metrics. */
  readonly name: string;
  /** Room patterns it applies to (`*` wildcard); default every room. */
  readonly rooms?: readonly string[];
  /** Judges an event before it is appended; throwing {@link EventRejectedError} rejects too. */
  validate?(ctx: EventContext): HookVerdict | Promise<HookVerdict>;
  /** Sees every accepted event of its rooms, in sequence order, including past ones on start. */
  onEvent?(event: RoomEvent, api: HookApi): void;
  /** The node stopped following the room (no one left on it): state may be dropped. */
  onRoomReleased?(room: string): void;
}

/** An event refused by a hook; the message is the reason given to the sender. */
export class EventRejectedError extends SubsecError {
  override name = 'EventRejectedError';
  constructor(reason: string) {
    super(ErrorCode.EVENT_REJECTED, reason);
  }
}

/** True when `room` matches a pattern where `*` stands for any run of characters. */
export function roomMatches(pattern: string, room: string): boolean {
  if (!pattern.includes('*')) return pattern === room;
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(room);
}
