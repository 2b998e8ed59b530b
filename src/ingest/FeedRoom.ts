/**
 * What a feed (RtpFeed, SrtFeed) needs of the room it publishes in: join, add its producers,
 * leave. A `Room` is one; the input seat of a stream with primary and backup inputs
 * (src/ingest/backup) is another, which routes the feed's producers to the stream's switch.
 */
import type { Room } from '../sfu/Room';

/** The part of a room a feed publishes through. */
export type FeedRoom = Pick<Room, 'join' | 'addProducer' | 'leave'>;
