/**
 * Room events on the MoQ path: an `events.json` track in each bridged stream's broadcast, one group
 * per event (group sequence = the event's `seq`, one frame: the event as JSON), so a MoQ viewer
 * gets the same numbered events as SDK clients, next to the media, and sees gaps in the sequence.
 * Late subscribers start at the relay's cached latest groups; older history is on the signaling
 * socket (`getEvents`). The MoQ bridge calls {@link attachEventsTrack} for each broadcast it
 * creates.
 */
import type { Logger } from '../core/logger';
import type { RoomEvent } from '../protocol/signaling';
import type { RoomEventLog } from './RoomEventLog';
import type { EventSink } from './RoomFeed';

/** Name of the events track in a bridged broadcast. */
export const EVENTS_TRACK = 'events.json';

/** The parts of a relay broadcast and track this module writes to. */
export interface EventsTrackTarget {
  createTrack(name: string): { readonly closed: boolean; appendGroup(sequence?: number): { write(payload: Uint8Array): void; finish(): void }; close(): void };
}

const encoder = new TextEncoder();

/**
 * Adds the events track to `broadcast` and writes every new event of `room` to it. Returns the
 * function that stops (the bridge calls it when the broadcast ends).
 */
export function attachEventsTrack(log: RoomEventLog, room: string, broadcast: EventsTrackTarget, logger: Logger): () => void {
  const track = broadcast.createTrack(EVENTS_TRACK);
  let stopped = false;
  const sink: EventSink = {
    push(event: RoomEvent) {
      if (stopped || track.closed) return;
      const group = track.appendGroup(event.seq);
      group.write(encoder.encode(JSON.stringify(event)));
      group.finish();
    },
  };
  log.subscribe(room, sink).catch((err: unknown) => logger.warn('events track not fed', { room, error: err }));
  return () => {
    stopped = true;
    log.unsubscribe(room, sink);
    track.close();
  };
}
