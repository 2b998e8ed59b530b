/**
 * The publish check every token-carrying contribution protocol (RTMP today; the same rules as
 * SRT and WHIP) runs before it takes a stream: token valid and unexpired, grants the room and
 * publishing, identity = stream name (admin tokens publish any), not banned, room exists or may
 * be created. Conflicts (a live stream) are the caller's check: only it knows its own sessions.
 */
import type { TokenService } from '../auth/tokens';
import { grantsRoom } from '../auth/tokens';
import type { RoomManager } from '../sfu/RoomManager';

/** Why a publisher was refused, as a metric label. */
export type PublishRefusalLabel = 'unauthorized' | 'forbidden' | 'banned' | 'room-not-found';

/** A refusal: its label and the reason told to the publisher and logged. */
export interface PublishRefusal {
  label: PublishRefusalLabel;
  reason: string;
}

/** What {@link authorizePublish} needs. */
export interface PublishAuthDeps {
  tokens: TokenService;
  rooms: RoomManager;
  allowRoomCreation: boolean;
}

/** Checks a publisher's token for `room`/`stream`; resolves with a refusal or undefined (allowed). */
export async function authorizePublish(deps: PublishAuthDeps, room: string, stream: string, token: string): Promise<PublishRefusal | undefined> {
  let verified;
  try {
    verified = await deps.tokens.verify(token);
  } catch (err) {
    return { label: 'unauthorized', reason: (err as Error).message };
  }
  if (!grantsRoom(verified, room)) return { label: 'forbidden', reason: `token is not valid for room ${room}` };
  try {
    await deps.tokens.admission?.check(verified, room);
  } catch (err) {
    return { label: 'banned', reason: (err as Error).message };
  }
  if (!verified.canPublish) return { label: 'forbidden', reason: 'token does not allow publishing' };
  if (verified.identity !== stream && !verified.admin)
    return { label: 'forbidden', reason: `token identity "${verified.identity}" may not publish stream "${stream}"` };
  if (!deps.rooms.get(room) && !deps.allowRoomCreation) return { label: 'room-not-found', reason: `room ${room} does not exist` };
  return undefined;
}
