/** Maps rooms, participants and producers onto the REST API's response shapes. */
import type { types } from 'mediasoup';
import type { Participant, Room } from '../sfu/Room';
import type { OutputInfo } from '../streams/OutputRegistry';
import type { ConsumerIndex } from './ConsumerIndex';
import type { z } from 'zod';
import type { outputSchema, participantSchema, roomSummarySchema, trackSchema } from './schemas';

type Track = z.infer<typeof trackSchema>;

/** A producer as a Track. */
export function trackView(producer: types.Producer, participant: Participant): Track {
  return {
    id: producer.id,
    kind: producer.kind,
    type: producer.type,
    paused: producer.paused,
    participantId: participant.id,
    identity: participant.identity,
    appData: (producer.appData.public as Record<string, unknown> | undefined) ?? {},
  };
}

/** The tracks of each participant of a room, by participant id. */
export function tracksByParticipant(room: Room): Map<string, Track[]> {
  const out = new Map<string, Track[]>();
  for (const info of room.producerInfos()) {
    const entry = room.getProducer(info.producerId);
    if (!entry) continue;
    const list = out.get(entry.participant.id) ?? [];
    list.push(trackView(entry.producer, entry.participant));
    out.set(entry.participant.id, list);
  }
  return out;
}

/** A participant with its tracks. */
export function participantView(p: Participant, tracks: Track[]): z.infer<typeof participantSchema> {
  return { id: p.id, identity: p.identity, ...(p.displayName ? { displayName: p.displayName } : {}), kind: p.kind, tracks };
}

/** A room's summary. */
export function roomSummary(room: Room, consumers: ConsumerIndex): z.infer<typeof roomSummarySchema> {
  return {
    name: room.name,
    createdAt: new Date(room.createdAt).toISOString(),
    participantCount: room.participants.length,
    trackCount: room.producerInfos().length,
    consumerCount: room.slots.reduce((n, s) => n + consumers.onRouter(s.router.id), 0),
    routerCount: room.slots.length,
  };
}

/** A registered output in the API shape. */
export function outputView(o: OutputInfo): z.infer<typeof outputSchema> {
  return { id: o.id, kind: o.kind, ...(o.url ? { url: o.url } : {}), startedAt: new Date(o.startedAt).toISOString(), stats: o.stats };
}
