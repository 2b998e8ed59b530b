/**
 * The one ingest shape and the one way in: every contribution — SDK publish (`sdk`, role
 * `peer`), WHIP, SRT, RTMP, RTSP, MPEG-TS, the synthetic source and plain-RTP feeds (role
 * `ingest`), cascade pulls (role `relay`) — is a room participant. Ingests enter with
 * {@link startIngest}, which seats them on a router of the room, and publish each track with
 * `seat.publish(track)`; the hub turns each identity's tracks into one `Stream` and outputs find
 * it there. An ingest imports src/sfu and src/streams, never an output; what it reports (webhooks
 * `ingest.started`/`ingest.ended`, cascade origin leases, `/v1/streams`) follows from its role,
 * so a new ingest touches no other folder. Feeds that arrive as plain RTP (anything ffmpeg can
 * read) publish through src/ingest/PlainRtpPublisher.ts.
 *
 *     const seat = await startIngest(room, this);               // joins the room
 *     const producer = await transport.produce(…);              // on seat.slot.router
 *     seat.publish(producer);                                   // the stream starts / gains a track
 *     …
 *     seat.leave();                                             // its tracks end; viewers are told
 */
import type { types } from 'mediasoup';
import type { Participant, Room, RouterSlot } from '../sfu/Room';

/**
 * What an ingest needs of the room it enters: a `Room`, or the input seat of a stream with
 * primary and backup inputs (src/ingest/backup), which hands the ingest's tracks to the stream's
 * switch instead of the room.
 */
export type IngestRoom = Pick<Room, 'join' | 'addProducer' | 'leave'>;

/** A participant that contributes a stream. */
export interface Ingest extends Participant {
  readonly role: 'peer' | 'ingest' | 'relay';
}

/** An ingest's place in its room, from {@link startIngest}. */
export interface IngestSeat {
  /** The router the ingest publishes on (create its transports there). */
  readonly slot: RouterSlot;
  /** Publishes a track produced on `slot`'s router: the hub adds it to the ingest's stream (its first one starts the stream). */
  publish(track: types.Producer): void;
  /** Leaves the room: the ingest's tracks end and viewers are told. Idempotent. */
  leave(): void;
}

/** Starts an ingest in a room: seats it on a router (under the consumer budget) as a participant. */
export async function startIngest(room: IngestRoom, ingest: Ingest): Promise<IngestSeat> {
  const slot = await room.join(ingest);
  let left = false;
  return {
    slot,
    publish: (track) => room.addProducer(ingest, track),
    leave: () => {
      if (left) return;
      left = true;
      room.leave(ingest.id);
    },
  };
}
