/** A server-side participant for tests: records the notifications it is sent. */
import crypto from 'node:crypto';
import type { Participant } from '../../src/sfu/Room';

/** Records notifications and room closes. */
export class FakeParticipant implements Participant {
  readonly id = crypto.randomUUID();
  readonly kind = 'internal' as const;
  readonly role = 'peer' as const;
  readonly notifications: Array<{ name: string; data: unknown }> = [];
  closedReason: string | undefined;
  constructor(readonly identity: string) {}
  notify(name: string, data: unknown): void {
    this.notifications.push({ name, data });
  }
  onRoomClosed(reason: string): void {
    this.closedReason = reason;
  }
}
