/**
 * `/v1/streams`: every stream (one identity's tracks in a room) with its tracks' bitrates and
 * scores, its consumers (made through the hub's `stream.consume`, by track and by output), and its
 * outputs (consumers by transport type — WebRTC, pipes, plain RTP — and what output features
 * attached to the stream).
 */
import { z } from 'zod';
import type { types } from 'mediasoup';
import { NotFoundError } from '../core/errors';
import type { Participant, Room } from '../sfu/Room';
import type { Stream as HubStream } from '../streams/Stream';
import type { ApiRouter } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { pageQuery, roomName, streamListSchema, streamSchema } from './schemas';
import { paginate } from './pagination';
import { outputView, trackView } from './views';

type Stream = z.infer<typeof streamSchema>;

interface StreamRef {
  id: string;
  stream: HubStream;
  room: Room;
  identity: string;
  entries: Array<{ producer: types.Producer; participant: Participant }>;
}

/** The hub's streams with their tracks and the participants that publish them. */
function streamRefs(streams: HubStream[]): StreamRef[] {
  return streams
    .map((s) => ({
      id: `${s.room.name}/${s.identity}`,
      stream: s,
      room: s.room,
      identity: s.identity,
      entries: s.tracks.map((t) => s.room.getProducer(t.id)).filter((e): e is NonNullable<typeof e> => !!e),
    }))
    .filter((ref) => ref.entries.length > 0);
}

/** Incoming bitrate (all layers) and best score of a producer; zeros when the worker does not answer quickly. */
async function liveNumbers(producer: types.Producer): Promise<{ bitrateBps: number; score: number | null }> {
  const stats = (await Promise.race([producer.getStats().catch(() => []), new Promise<[]>((r) => setTimeout(() => r([]), 2000).unref())])) as Array<{
    type: string;
    bitrate?: number;
  }>;
  const bitrateBps = stats.filter((s) => s.type === 'inbound-rtp').reduce((n, s) => n + (s.bitrate ?? 0), 0);
  const scores = producer.score.map((s) => s.score);
  return { bitrateBps, score: scores.length ? Math.max(...scores) : null };
}

async function streamView(ref: StreamRef, deps: ApiDeps): Promise<Stream> {
  const counted = ref.stream.consumerCounts();
  const tracks = await Promise.all(
    ref.entries.map(async ({ producer, participant }) => ({
      ...trackView(producer, participant),
      ...(await liveNumbers(producer)),
      consumers: counted.byTrack[producer.id] ?? 0,
    })),
  );
  const byType: Record<string, number> = {};
  for (const { producer } of ref.entries) {
    for (const [type, n] of Object.entries(deps.consumers.countsOf(producer.id))) byType[type] = (byType[type] ?? 0) + n;
  }
  const builtIn = Object.entries(byType)
    .filter(([, n]) => n > 0)
    .map(([type, n]) => ({ id: `${ref.id}#${type}`, kind: type, stats: { consumers: n } }));
  const participants = new Map(ref.entries.map(({ participant }) => [participant.id, { id: participant.id, kind: participant.kind }]));
  return {
    id: ref.id,
    room: ref.room.name,
    identity: ref.identity,
    participants: [...participants.values()],
    tracks,
    bitrateBps: tracks.reduce((n, t) => n + t.bitrateBps, 0),
    consumers: counted.total,
    consumersByOutput: counted.byOutput,
    outputs: [...builtIn, ...deps.outputs.list({ room: ref.room.name, identity: ref.identity }).map(outputView)],
  };
}

/** Registers the stream routes. */
export function registerStreamRoutes(api: ApiRouter, deps: ApiDeps): void {
  api.add({
    method: 'GET',
    path: '/v1/streams',
    operationId: 'listStreams',
    tag: 'streams',
    auth: 'admin',
    summary: 'List streams with their tracks, bitrates, consumers and outputs',
    query: pageQuery.extend({ room: roomName.optional().describe('Only streams of this room') }),
    responses: { 200: { description: 'A page of streams, sorted by id', schema: streamListSchema } },
    handler: async ({ query }) => {
      const { page, nextCursor } = paginate(
        streamRefs(deps.streams.list(query.room !== undefined ? { room: query.room } : {})),
        (s) => s.id,
        query.limit,
        query.cursor,
      );
      return { status: 200, body: { streams: await Promise.all(page.map((s) => streamView(s, deps))), nextCursor } };
    },
  });

  api.add({
    method: 'GET',
    path: '/v1/streams/{room}/{identity}',
    operationId: 'getStream',
    tag: 'streams',
    auth: 'admin',
    summary: 'Inspect one stream',
    params: z.strictObject({ room: roomName, identity: z.string().min(1).max(128) }),
    responses: { 200: { description: 'The stream', schema: streamSchema }, 404: { description: 'No such stream' } },
    handler: async ({ params }) => {
      const stream = deps.streams.get(params.room, params.identity);
      const ref = stream ? streamRefs([stream])[0] : undefined;
      if (!ref) throw new NotFoundError(`stream ${params.room}/${params.identity} not found`);
      return { status: 200, body: await streamView(ref, deps) };
    },
  });
}
