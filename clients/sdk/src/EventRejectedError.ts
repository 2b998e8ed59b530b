/** The error of a room event the node's validation hook refused. */
import { SubsecError } from './errors';

/** A room event refused by a validation hook on the node (`code` EVENT_REJECTED). */
export class EventRejectedError extends SubsecError {
  /** The hook's reason, fit to show to a user ("bid must be at least 120"). */
  readonly reason: string;

  constructor(reason: string, cause?: unknown) {
    super('EVENT_REJECTED', reason, { type: 'signaling', cause });
    this.name = 'EventRejectedError';
    this.reason = reason;
  }
}
