/**
 * The signaling protocol (version 1): JSON over WebSocket, shared by the node and the SDK.
 *
 * Client → server: `{id, method, params}` requests. Server → client: `{id, ok: true, data}` or
 * `{id, ok: false, error: {code, message}}` responses, and `{notification, data}` pushes.
 * The first request on a socket must be `join`; every other method before it fails with
 * `UNAUTHENTICATED`. See docs/signaling.md for the full description.
 */
import { z } from 'zod';
import type { WireError } from './errors';

/** Protocol version spoken by this build; `join.protocol` must equal it. */
export const PROTOCOL_VERSION = 1;

/** Largest accepted signaling frame in bytes (larger frames close the socket with 1009). */
export const MAX_SIGNALING_MESSAGE_BYTES = 64 * 1024;

const id = z.string().min(1).max(128);
/** mediasoup validates these deeply; the schema only checks the envelope is an object. */
const opaqueObject = z.record(z.string(), z.unknown());

/** Largest producer `appData` accepted, in characters of JSON: every peer gets it in each join and `newProducer`. */
export const MAX_APP_DATA_CHARS = 4096;
/** Deepest producer `appData` accepted: JSON.stringify of much deeper values overflows the stack. */
export const MAX_APP_DATA_DEPTH = 16;

/** Whether `value` is within {@link MAX_APP_DATA_DEPTH} levels and {@link MAX_APP_DATA_CHARS} (checked without recursion). */
function fitsAppData(value: Record<string, unknown>): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_APP_DATA_DEPTH) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return JSON.stringify(value).length <= MAX_APP_DATA_CHARS;
}

const appData = z
  .record(z.string(), z.unknown())
  .refine(fitsAppData, `at most ${MAX_APP_DATA_DEPTH} levels deep and ${MAX_APP_DATA_CHARS} characters as JSON`)
  .optional();
/** Event type names: `chat`, `bid`, `playback.seek`, `lot:open`… */
const eventType = z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/, 'event type: a letter, then up to 63 of letters, digits, _ . : -');
const seqNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Delivery paths a playback session can use (docs/qoe.md). */
export const QOE_PATHS = ['webrtc', 'moq', 'hls'] as const;
/** A delivery path. */
export type QoePath = (typeof QOE_PATHS)[number];
/**
 * CMCD session ids starting with this belong to players an SDK client measures and reports
 * itself (`client.qoe.cmcdSessionId()`): the node does not count their CMCD as QoE again.
 */
export const QOE_CMCD_SID_PREFIX = 'sq-';
/** Most playback sessions in one `reportQoe` batch. */
export const MAX_QOE_SESSIONS_PER_REPORT = 16;
/** Longest span one QoE figure may cover (ms); larger values are malformed, not clamped. */
const qoeMs = z.number().finite().min(0).max(3_600_000);

/** One playback session's figures since its previous report (docs/qoe.md). */
const qoeSession = z.strictObject({
  /** Client-chosen id of the playback session, stable across reconnections. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,36}$/, 'session id: 1-36 of letters, digits, _ and -'),
  /** Identity of the publisher watched (the stream), in the reporter's room. */
  stream: z.string().min(1).max(128),
  path: z.enum(QOE_PATHS),
  /** Rendition watched now (`720p`, `l2`, `s1`…). */
  rendition: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,16}$/, 'rendition: 1-16 of letters, digits, _ . -')
    .optional(),
  /** Time spent playing or stalled since the previous report (ms; paused time excluded). */
  watchMs: qoeMs,
  /** Part of watchMs spent stalled (rebuffering, frozen). */
  stallMs: qoeMs.optional(),
  /** Stalls that began since the previous report. */
  stalls: z.number().int().min(0).max(10_000).optional(),
  /** Media bytes received since the previous report. */
  bytes: z.number().finite().min(0).max(1e12).optional(),
  /** Time from the start of playback to the first frame (ms); sent once, in the report after it. */
  startupMs: qoeMs.optional(),
  /** End-to-end latency estimate now (ms). */
  latencyMs: qoeMs.optional(),
  /** The session is over: ended normally, or failed (with `reason`). */
  end: z.enum(['ended', 'failed']).optional(),
  /** Why it failed: an error code or short name (`ICE_FAILED`, `manifestLoadError`). */
  reason: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'reason: 1-64 of letters, digits, _ . : -')
    .optional(),
  /** The CMCD session id the player also sends (its CMCD data is then not counted twice). */
  cmcdSid: z.string().min(1).max(64).optional(),
});
/** One session entry of a `reportQoe` batch. */
export type QoeSessionReport = z.input<typeof qoeSession>;

/** Parameters of each request method, keyed by method name. */
export const requestSchemas = {
  join: z.strictObject({
    protocol: z.number().int(),
    token: z.string().min(1).max(4096),
    /** Room to join; defaults to the token's room (required when the token grants any room). */
    room: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional(),
    rtpCapabilities: opaqueObject.optional(),
    displayName: z.string().max(128).optional(),
  }),
  setRtpCapabilities: z.strictObject({ rtpCapabilities: opaqueObject }),
  createTransport: z.strictObject({
    direction: z.enum(['send', 'recv']),
    sctp: z.boolean().optional(),
  }),
  connectTransport: z.strictObject({ transportId: id, dtlsParameters: opaqueObject }),
  restartIce: z.strictObject({ transportId: id }),
  produce: z.strictObject({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters: opaqueObject,
    appData,
  }),
  closeProducer: z.strictObject({ producerId: id }),
  pauseProducer: z.strictObject({ producerId: id }),
  resumeProducer: z.strictObject({ producerId: id }),
  consume: z.strictObject({
    transportId: id,
    producerId: id,
    paused: z.boolean().optional(),
    preferredLayers: z.strictObject({ spatialLayer: z.number().int().min(0).max(3), temporalLayer: z.number().int().min(0).max(3).optional() }).optional(),
  }),
  pauseConsumer: z.strictObject({ consumerId: id }),
  resumeConsumer: z.strictObject({ consumerId: id }),
  closeConsumer: z.strictObject({ consumerId: id }),
  setPreferredLayers: z.strictObject({
    consumerId: id,
    spatialLayer: z.number().int().min(0).max(3),
    temporalLayer: z.number().int().min(0).max(3).optional(),
  }),
  setConsumerPriority: z.strictObject({ consumerId: id, priority: z.number().int().min(1).max(255) }),
  produceData: z.strictObject({
    transportId: id,
    sctpStreamParameters: opaqueObject,
    label: z.string().max(256).optional(),
    protocol: z.string().max(256).optional(),
    appData,
  }),
  consumeData: z.strictObject({ transportId: id, dataProducerId: id }),
  getStats: z.strictObject({ id }),
  ping: z.strictObject({ clientTime: z.number().optional() }).optional(),
  leave: z.strictObject({}).optional(),
  /** Appends a room event (docs/events.md); needs the `canPublishData` grant. */
  sendEvent: z.strictObject({
    type: eventType,
    /** Any JSON value; its serialised size is limited by `events.maxPayloadBytes`. */
    payload: z.unknown().optional(),
    /** Client-chosen key: a retried send with the same key is applied once and answered with the first result. */
    idempotencyKey: z.string().min(1).max(128).optional(),
    /** Media time (ms on the main stream's program-date-time clock) of the frame the sender was watching. */
    mediaTime: z.number().finite().nonnegative().optional(),
  }),
  /** Reads retained events after `afterSeq` (a page of at most `limit`). */
  getEvents: z.strictObject({ afterSeq: seqNumber.default(0), limit: z.number().int().min(1).max(1000).default(500) }),
  /**
   * Pushes, as `roomEvent` notifications in sequence order, every retained event after `afterSeq`
   * (default: none of the past ones) and then every new one. A backlog above
   * `events.maxReplayEvents` is refused (page through it with `getEvents` first).
   */
  subscribeEvents: z.strictObject({ afterSeq: seqNumber.optional() }).optional(),
  /** Stops `roomEvent` pushes. */
  unsubscribeEvents: z.strictObject({}).optional(),
  /** A batch of playback QoE figures (docs/qoe.md); needs the `canSubscribe` grant. */
  reportQoe: z.strictObject({ sessions: z.array(qoeSession).min(1).max(MAX_QOE_SESSIONS_PER_REPORT) }),
} as const;

/** A request method name. */
export type Method = keyof typeof requestSchemas;
/** Parameters of request method M. */
export type RequestParams<M extends Method> = z.infer<(typeof requestSchemas)[M]>;

/** Envelope of every client request. */
export const requestEnvelope = z.strictObject({
  id: z.union([z.string().min(1).max(64), z.number().int().nonnegative()]),
  method: z.string().min(1).max(64),
  params: z.unknown().optional(),
});

/** A peer's producer as told to other peers. */
export interface ProducerInfo {
  producerId: string;
  peerId: string;
  identity: string;
  kind: 'audio' | 'video';
  /** 'simulcast' | 'simple' | 'svc' as mediasoup reports it. */
  type: string;
  appData: Record<string, unknown>;
}

/** A peer as told to other peers. */
export interface PeerInfo {
  peerId: string;
  identity: string;
  displayName?: string;
}

/** Data producers (SCTP) as told to other peers. */
export interface DataProducerInfo {
  dataProducerId: string;
  peerId: string;
  label: string;
  protocol: string;
}

/** A room event as the node stores and delivers it (docs/events.md). */
export interface RoomEvent {
  /** Per-room sequence number assigned by the node: 1, 2, 3… with no gaps. */
  seq: number;
  room: string;
  type: string;
  /** The sender's JSON payload (`null` when none was given). */
  payload: unknown;
  /** Identity of the sender (`server` for events of the node and its hooks). */
  identity: string;
  /** Sender's peer id, when it was an SDK peer. */
  peerId?: string;
  /** Node wall clock when the event was accepted (ms since the epoch). */
  serverTime: number;
  /** Media time of the room's main stream the event belongs to (ms, program-date-time clock). */
  mediaTime: number;
  /** Identity of the room's main stream at that time, when there was one. */
  mainStream?: string;
  /** The idempotency key it was sent with. */
  idempotencyKey?: string;
}

/** A page of retained events. */
export interface EventPage {
  events: RoomEvent[];
  /** Highest sequence number assigned in the room (0 when none). */
  lastSeq: number;
  /** Oldest retained sequence number (events before it were dropped by retention; 0 when none retained). */
  firstSeq: number;
  /** True when more events follow the page (ask again after its last seq). */
  more: boolean;
}

/** Result of each request method. */
export interface ResponseData {
  join: {
    peerId: string;
    room: string;
    identity: string;
    routerRtpCapabilities: Record<string, unknown>;
    peers: PeerInfo[];
    producers: ProducerInfo[];
    dataProducers: DataProducerInfo[];
    grants: { canPublish: boolean; canSubscribe: boolean; canPublishData: boolean };
    /**
     * Where the room's streams are offered over MoQ (absent when the node has no MoQ bridge):
     * the relay's session URL and the room's broadcast root; a stream is `<root>/<identity>`.
     * The join token is accepted by the relay (`?jwt=`).
     */
    moq?: {
      url: string;
      root: string;
      /**
       * WebTransport over HTTP/3 on the same relay (absent when it has none): the session base URL
       * (`https://host:udpPort`) and the SHA-256 (hex) of its current certificate, for
       * `serverCertificateHashes`.
       */
      webtransport?: { url: string; certificateSha256: string };
    };
  };
  setRtpCapabilities: Record<string, never>;
  createTransport: {
    transportId: string;
    iceParameters: unknown;
    iceCandidates: unknown[];
    dtlsParameters: unknown;
    sctpParameters?: unknown;
  };
  connectTransport: Record<string, never>;
  restartIce: { iceParameters: unknown };
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  resumeProducer: Record<string, never>;
  consume: {
    consumerId: string;
    producerId: string;
    kind: 'audio' | 'video';
    rtpParameters: Record<string, unknown>;
    type: string;
    producerPaused: boolean;
  };
  pauseConsumer: Record<string, never>;
  resumeConsumer: Record<string, never>;
  closeConsumer: Record<string, never>;
  setPreferredLayers: Record<string, never>;
  setConsumerPriority: Record<string, never>;
  produceData: { dataProducerId: string };
  consumeData: {
    dataConsumerId: string;
    dataProducerId: string;
    sctpStreamParameters: unknown;
    label: string;
    protocol: string;
  };
  getStats: { stats: unknown[] };
  ping: { serverTime: number; clientTime?: number };
  leave: Record<string, never>;
  /** `duplicate`: the idempotency key was seen before; `event` is the one first accepted. */
  sendEvent: { event: RoomEvent; duplicate: boolean };
  getEvents: EventPage;
  /** The log's state when the subscription started: the replay ends at `lastSeq`. */
  subscribeEvents: { lastSeq: number; firstSeq: number };
  unsubscribeEvents: Record<string, never>;
  /** Sessions counted and ignored (unknown stream, over the per-viewer limit); when to send the next batch. */
  reportQoe: { accepted: number; ignored: number; intervalMs: number };
}

/** Server-pushed notifications and their payloads. */
export interface Notifications {
  peerJoined: PeerInfo;
  peerLeft: { peerId: string };
  newProducer: ProducerInfo;
  producerClosed: { producerId: string };
  producerPaused: { producerId: string };
  producerResumed: { producerId: string };
  consumerClosed: { consumerId: string; producerId: string };
  consumerPaused: { consumerId: string };
  consumerResumed: { consumerId: string };
  consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  consumerScore: { consumerId: string; score: number; producerScore: number };
  newDataProducer: DataProducerInfo;
  dataProducerClosed: { dataProducerId: string };
  /** The server lost this peer's media state (e.g. a worker died): reconnect and re-publish. */
  reconnect: { reason: string };
  /** The node is shutting down; the socket closes after `deadlineMs`. */
  draining: { deadlineMs: number };
  roomClosed: { reason: string };
  /** The node where `identity`'s stream was published died; its producers here closed. Resubscribe on `newProducer`. */
  originLost: { identity: string; nodeId: string };
  /** Continue on another node: `superseded` = your stream is now published there (this node closed your producers). */
  redirect: { reason: 'superseded' | 'rebalance'; nodeId: string; url: string; identity?: string };
  /** A room event (after `subscribeEvents`), in sequence order. */
  roomEvent: RoomEvent;
}

/** A notification name. */
export type NotificationName = keyof Notifications;

/** Server → client messages. */
export type ServerMessage =
  | { id: string | number; ok: true; data: unknown }
  | { id: string | number | null; ok: false; error: WireError }
  | { notification: NotificationName; data: unknown };
