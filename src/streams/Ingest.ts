/**
 * The one ingest shape: every contribution — SDK publish (`sdk`, role `peer`), WHIP, SRT, the
 * synthetic source and plain-RTP feeds (role `ingest`), cascade pulls (role `relay`) — is a room
 * participant that joins a room (`room.join`) and publishes its producers with
 * `room.addProducer`. The hub turns each identity's producers into one `Stream`; outputs
 * find it there. An ingest imports src/sfu and src/streams, never an output; what it reports
 * (webhooks `ingest.started`/`ingest.ended`, cascade origin leases, `/v1/streams`) follows from
 * its role, so a new ingest touches no other folder. Feeds that arrive as plain RTP (anything
 * ffmpeg can read) publish through src/ingest/PlainRtpPublisher.ts.
 */
import type { Participant } from '../sfu/Room';

/** A participant that contributes a stream. */
export interface Ingest extends Participant {
  readonly role: 'peer' | 'ingest' | 'relay';
}
