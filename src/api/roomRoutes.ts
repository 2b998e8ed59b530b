/** `/v1/rooms`: list, inspect and close rooms; list and kick (and ban) participants; mute and unmute tracks. */
import { z } from 'zod';
import { NotFoundError } from '../core/errors';
import type { Room } from '../sfu/Room';
import type { ApiRouter } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { pageQuery, participantListSchema, participantSchema, roomDetailSchema, roomListSchema, roomName, trackSchema } from './schemas';
import { paginate } from './pagination';
import { banReason } from './banRoutes';
import { outputView, participantView, roomSummary, trackView, tracksByParticipant } from './views';

const roomParams = z.strictObject({ room: roomName });
const participantParams = z.strictObject({ room: roomName, participant: z.string().min(1).max(128) });
const trackParams = z.strictObject({ room: roomName, track: z.string().min(1).max(128) });

function roomOf(deps: ApiDeps, name: string): Room {
  const room = deps.rooms.get(name);
  if (!room || room.closed) throw new NotFoundError(`room ${name} not found`);
  return room;
}

/** Registers the room routes. */
export function registerRoomRoutes(api: ApiRouter, deps: ApiDeps): void {
  api.add({
    method: 'GET',
    path: '/v1/rooms',
    operationId: 'listRooms',
    tag: 'rooms',
    auth: 'admin',
    summary: 'List the rooms of this node',
    query: pageQuery,
    responses: { 200: { description: 'A page of rooms, sorted by name', schema: roomListSchema } },
    handler: ({ query }) => {
      const { page, nextCursor } = paginate(
        deps.rooms.rooms.filter((r) => !r.closed),
        (r) => r.name,
        query.limit,
        query.cursor,
      );
      return { status: 200, body: { rooms: page.map((r) => roomSummary(r, deps.consumers)), nextCursor } };
    },
  });

  api.add({
    method: 'GET',
    path: '/v1/rooms/{room}',
    operationId: 'getRoom',
    tag: 'rooms',
    auth: 'admin',
    summary: 'Inspect a room: routers, participants (first 100), outputs',
    params: roomParams,
    responses: { 200: { description: 'The room', schema: roomDetailSchema }, 404: { description: 'No such room' } },
    handler: ({ params }) => {
      const room = roomOf(deps, params.room);
      const tracks = tracksByParticipant(room);
      const participants = [...room.participants].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, 100);
      return {
        status: 200,
        body: {
          ...roomSummary(room, deps.consumers),
          routers: room.slots.map((s) => ({
            routerId: s.router.id,
            workerIndex: s.worker.index,
            workerPid: s.worker.worker.pid,
            consumers: deps.consumers.onRouter(s.router.id),
          })),
          participants: participants.map((p) => participantView(p, tracks.get(p.id) ?? [])),
          outputs: deps.outputs.list({ room: room.name }).map(outputView),
        },
      };
    },
  });

  api.add({
    method: 'DELETE',
    path: '/v1/rooms/{room}',
    operationId: 'closeRoom',
    tag: 'rooms',
    auth: 'admin',
    summary: 'Close a room',
    description: 'Every participant is told (`roomClosed` with reason `admin`) and loses its media; the room is gone until someone joins again.',
    params: roomParams,
    responses: { 204: { description: 'Closed' }, 404: { description: 'No such room' } },
    handler: ({ params }) => {
      roomOf(deps, params.room).close('admin');
      return { status: 204 };
    },
  });

  api.add({
    method: 'GET',
    path: '/v1/rooms/{room}/participants',
    operationId: 'listParticipants',
    tag: 'rooms',
    auth: 'admin',
    summary: 'List the participants of a room',
    params: roomParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of participants, sorted by id', schema: participantListSchema }, 404: { description: 'No such room' } },
    handler: ({ params, query }) => {
      const room = roomOf(deps, params.room);
      const tracks = tracksByParticipant(room);
      const { page, nextCursor } = paginate(room.participants, (p) => p.id, query.limit, query.cursor);
      return { status: 200, body: { participants: page.map((p) => participantView(p, tracks.get(p.id) ?? [])), nextCursor } };
    },
  });

  api.add({
    method: 'GET',
    path: '/v1/rooms/{room}/participants/{participant}',
    operationId: 'getParticipant',
    tag: 'rooms',
    auth: 'admin',
    summary: 'Inspect a participant (by id)',
    params: participantParams,
    responses: { 200: { description: 'The participant', schema: participantSchema }, 404: { description: 'No such room or participant' } },
    handler: ({ params }) => {
      const room = roomOf(deps, params.room);
      const p = room.participants.find((x) => x.id === params.participant);
      if (!p) throw new NotFoundError(`participant ${params.participant} not in room ${room.name}`);
      return { status: 200, body: participantView(p, tracksByParticipant(room).get(p.id) ?? []) };
    },
  });

  const maxBan = deps.moderation.config.maxSeconds;
  const kickQuery = z.strictObject({
    banSeconds: z.coerce
      .number()
      .int()
      .min(0)
      .max(maxBan)
      .optional()
      .describe(`Keep the identity out this long (0-${maxBan} s; 0 = no ban). Default: until its token expires (bans.banOnKick)`),
    reason: banReason.optional(),
  });

  api.add({
    method: 'DELETE',
    path: '/v1/rooms/{room}/participants/{participant}',
    operationId: 'kickParticipant',
    tag: 'rooms',
    auth: 'admin',
    summary: 'Remove a participant (by id, or every participant of an identity) and ban its identity from the room',
    description:
      'The participant leaves the room, its tracks end, and it is told `roomClosed` with reason `kicked`. ' +
      'Unless `banSeconds=0` (or `bans.banOnKick` is off), its identity is also banned from the room: every other session of the identity is removed too, on every node, ' +
      'and its joins, WHIP/WHEP requests, SRT calls and MoQ sessions for the room are refused with FORBIDDEN (403) — even with a fresh token — until the ban ends or is lifted (`DELETE /v1/rooms/{room}/bans/{identity}`). ' +
      `By default the ban lasts until the latest token the identity used in the room on this node expires (\`bans.defaultSeconds\` when none was seen), at most \`bans.maxSeconds\` (${maxBan} s); ` +
      'a kick never shortens a longer ban already in place.',
    params: participantParams,
    query: kickQuery,
    responses: { 204: { description: 'Removed (and banned)' }, 404: { description: 'No such room or participant' } },
    handler: async ({ params, query }) => {
      const room = roomOf(deps, params.room);
      const byId = room.participants.filter((p) => p.id === params.participant);
      const targets = byId.length > 0 ? byId : room.participants.filter((p) => p.identity === params.participant);
      if (targets.length === 0) throw new NotFoundError(`participant ${params.participant} not in room ${room.name}`);
      const banSeconds = query.banSeconds ?? (deps.moderation.config.banOnKick ? undefined : 0);
      if (banSeconds !== 0) {
        // Banning evicts every session of the identity here (and on the other nodes).
        for (const identity of new Set(targets.map((p) => p.identity))) {
          await deps.moderation.ban({ room: room.name, identity, seconds: banSeconds, reason: query.reason ?? 'kicked', keepLonger: true });
        }
      }
      for (const p of targets) {
        if (!room.participants.includes(p)) continue;
        deps.noteRemoval(p.id, 'kicked');
        room.leave(p.id);
        p.onRoomClosed('kicked');
      }
      return { status: 204 };
    },
  });

  for (const action of ['mute', 'unmute'] as const) {
    api.add({
      method: 'POST',
      path: `/v1/rooms/{room}/tracks/{track}/${action}`,
      operationId: `${action}Track`,
      tag: 'rooms',
      auth: 'admin',
      summary: action === 'mute' ? 'Mute a track (pause its producer)' : 'Unmute a track (resume its producer)',
      description:
        action === 'mute'
          ? 'Subscribers get `consumerPaused`, other peers `producerPaused`, and the publisher itself `producerPaused` for its own track. The publisher can still resume it from its client.'
          : 'Resumes the producer; subscribers get `consumerResumed`, peers and the publisher `producerResumed`.',
      params: trackParams,
      responses: { 200: { description: 'The track after the change', schema: trackSchema }, 404: { description: 'No such room or track' } },
      handler: async ({ params }) => {
        const room = roomOf(deps, params.room);
        const entry = room.getProducer(params.track);
        if (!entry) throw new NotFoundError(`track ${params.track} not in room ${room.name}`);
        const { producer, participant } = entry;
        if (action === 'mute' && !producer.paused) {
          await producer.pause();
          participant.notify('producerPaused', { producerId: producer.id });
        } else if (action === 'unmute' && producer.paused) {
          await producer.resume();
          participant.notify('producerResumed', { producerId: producer.id });
        }
        return { status: 200, body: trackView(producer, participant) };
      },
    });
  }
}
