/**
 * zod schemas of the REST API: what handlers validate with and what `/v1/openapi.json` is
 * generated from. Response objects are registered by name in {@link apiSchemas} so the document
 * references them as `components.schemas`.
 */
import { z } from 'zod';

/** Named schemas that become OpenAPI components. */
export const apiSchemas = z.registry<{ id: string; description?: string }>();

function named<T extends z.ZodType>(id: string, description: string, schema: T): T {
  apiSchemas.add(schema, { id, description });
  return schema;
}

/** `{code, message}` error body of every failed request. */
export const errorSchema = named(
  'Error',
  'An error: a stable machine-readable code and a human-readable message.',
  z.object({ code: z.string().describe('Stable error code, e.g. NOT_FOUND, BAD_REQUEST, UNAUTHENTICATED'), message: z.string() }),
);

/** A room name as rooms and tokens accept it. */
export const roomName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "-", "." (1-128)');

/** `?limit&cursor` of paginated lists. */
export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('Items per page (1-500, default 50)'),
  cursor: z.string().min(1).max(512).optional().describe('`nextCursor` of the previous page'),
});

const isoTime = z.string().describe('ISO 8601 time (UTC)');
const nextCursor = z.string().nullable().describe('Cursor of the next page; null on the last page');

/** A published track (mediasoup producer). */
export const trackSchema = named(
  'Track',
  'A published track: one mediasoup producer.',
  z.object({
    id: z.string().describe('Track (producer) id'),
    kind: z.enum(['audio', 'video']),
    type: z.string().describe('simple, simulcast or svc'),
    paused: z.boolean().describe('True while muted (paused by its publisher or an admin)'),
    participantId: z.string(),
    identity: z.string(),
    appData: z.record(z.string(), z.unknown()).describe('Public appData the publisher attached'),
  }),
);

/** A participant of a room. */
export const participantSchema = named(
  'Participant',
  'Anyone in a room: an SDK peer, a WHIP/WHEP session, an SRT feed, the synthetic source.',
  z.object({
    id: z.string(),
    identity: z.string(),
    displayName: z.string().optional(),
    kind: z.string().describe('sdk, whip, whep, srt, rtmp, rtsp, mpegts, synthetic or internal'),
    tracks: z.array(trackSchema),
  }),
);

/** A room in lists. */
export const roomSummarySchema = named(
  'RoomSummary',
  'A room on this node.',
  z.object({
    name: z.string(),
    createdAt: isoTime,
    participantCount: z.number().int(),
    trackCount: z.number().int(),
    consumerCount: z.number().int().describe("Media consumers on the room's routers (WebRTC, pipes, plain)"),
    routerCount: z.number().int().describe('Routers (workers) the room occupies'),
  }),
);

/** A router slot of a room. */
export const routerSchema = named(
  'RoomRouter',
  'A mediasoup router of a room (one per worker it occupies).',
  z.object({ routerId: z.string(), workerIndex: z.number().int(), workerPid: z.number().int(), consumers: z.number().int() }),
);

/** A registered output of a stream. */
export const outputSchema = named(
  'Output',
  'Where a stream goes: WebRTC consumers (`webrtc`), pipes to other workers (`pipe`), and outputs features register (`hls`, `moq`, `whep`, `recording`, …).',
  z.object({
    id: z.string(),
    kind: z.string(),
    url: z.string().optional(),
    startedAt: isoTime.optional(),
    stats: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  }),
);

/** A room with its routers and outputs. */
export const roomDetailSchema = named(
  'Room',
  'A room with its routers, participants (first page) and outputs.',
  roomSummarySchema.extend({
    routers: z.array(routerSchema),
    participants: z.array(participantSchema).describe('At most 100; page through /participants for more'),
    outputs: z.array(outputSchema),
  }),
);

/** `GET /v1/rooms`. */
export const roomListSchema = named('RoomList', 'A page of rooms.', z.object({ rooms: z.array(roomSummarySchema), nextCursor }));
/** `GET /v1/rooms/{room}/participants`. */
export const participantListSchema = named('ParticipantList', 'A page of participants.', z.object({ participants: z.array(participantSchema), nextCursor }));

/** A track with live numbers, as streams list it. */
export const streamTrackSchema = named(
  'StreamTrack',
  'A track of a stream with its live numbers.',
  trackSchema.extend({
    bitrateBps: z.number().describe('Incoming bitrate, all layers (bits/s)'),
    score: z.number().nullable().describe('mediasoup producer score 0-10 (best layer); null before media'),
    consumers: z
      .number()
      .int()
      .describe("Consumers of this track made by this node's outputs (SDK, WHEP, LL-HLS, MoQ…; pipes between workers and nodes not counted)"),
  }),
);

/** A stream: one identity's tracks in a room. */
export const streamSchema = named(
  'Stream',
  'A stream: the tracks one identity publishes in a room, who consumes them, and where else they go.',
  z.object({
    id: z.string().describe('`<room>/<identity>`'),
    room: z.string(),
    identity: z.string(),
    participants: z.array(z.object({ id: z.string(), kind: z.string() })),
    tracks: z.array(streamTrackSchema),
    bitrateBps: z.number().describe("Sum of the tracks' incoming bitrates (bits/s)"),
    consumers: z.number().int().describe("Consumers of the stream's tracks made by this node's outputs"),
    consumersByOutput: z.record(z.string(), z.number().int()).describe('The same consumers by output (`sdk`, `whep`, `hls`, `moq`…)'),
    outputs: z.array(outputSchema),
  }),
);

/** `GET /v1/streams`. */
export const streamListSchema = named('StreamList', 'A page of streams.', z.object({ streams: z.array(streamSchema), nextCursor }));

/** A node and its load. */
export const nodeSchema = named(
  'Node',
  'A subsec node and its load.',
  z.object({
    id: z.string(),
    region: z.string(),
    url: z.string(),
    self: z.boolean().describe('True for the node that answered'),
    draining: z.boolean(),
    startedAt: isoTime,
    uptimeSeconds: z.number(),
    rooms: z.number().int(),
    participants: z.number().int(),
    tracks: z.number().int(),
    consumers: z.number().int(),
    load: z.number().describe('Consumers / (workers × consumersPerRouter), 0-1+'),
    workers: z.array(z.object({ index: z.number().int(), pid: z.number().int(), routers: z.number().int(), consumers: z.number().int() })),
    webRtcServers: z
      .array(z.object({ pid: z.number().int(), udp: z.array(z.string()), tcp: z.array(z.string()) }))
      .describe('Shared WebRTC ports per worker (empty unless sfu.webRtcServer is enabled)'),
  }),
);

/** `GET /v1/nodes`. */
export const nodeListSchema = named('NodeList', 'The nodes (this node until the cascade is configured).', z.object({ nodes: z.array(nodeSchema) }));

/** An ICE server for RTCPeerConnection. */
export const iceServerSchema = named(
  'IceServer',
  'An ICE server as RTCPeerConnection takes it; TURN entries carry a time-limited credential.',
  z.object({ urls: z.array(z.string()), username: z.string().optional(), credential: z.string().optional() }),
);

/** `GET /v1/ice-servers`. */
export const iceServersResponseSchema = named(
  'IceServers',
  'ICE servers for a client (empty when TURN is not configured).',
  z.object({ iceServers: z.array(iceServerSchema), expiresAt: isoTime.nullable() }),
);

/** A recording of a stream. */
export const recordingSchema = named(
  'Recording',
  'A recording of a stream.',
  z.object({
    id: z.string(),
    room: z.string(),
    identity: z.string(),
    state: z.enum(['recording', 'finished', 'failed']),
    startedAt: isoTime,
    endedAt: isoTime.optional(),
    location: z.string().optional(),
  }),
);

/** Body of `POST /v1/recordings`. */
export const recordingRequestSchema = z.strictObject({ room: roomName, identity: z.string().min(1).max(128) });

/** `GET /v1/recordings`. */
export const recordingListSchema = named('RecordingList', 'Recordings known to this node.', z.object({ recordings: z.array(recordingSchema) }));

/** An identity kept out of a room (after a kick, or set by an admin). */
export const banSchema = named(
  'Ban',
  'An identity kept out of a room: its joins, WHIP/WHEP requests, SRT calls and MoQ sessions for the room are refused with FORBIDDEN (403) until the ban ends or is lifted. Holds on every node of a cascade.',
  z.object({
    room: z.string(),
    identity: z.string(),
    reason: z.string().describe('`kicked`, or the reason given'),
    createdAt: isoTime,
    expiresAt: isoTime,
    expiresInSeconds: z.number().int().describe('Seconds left (rounded up)'),
  }),
);

/** `GET /v1/bans`, `GET /v1/rooms/{room}/bans`. */
export const banListSchema = named('BanList', 'A page of bans, sorted by room then identity.', z.object({ bans: z.array(banSchema), nextCursor }));
