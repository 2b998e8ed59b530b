/**
 * WebSocket signaling at `/ws` (uWebSockets.js). Validates every frame against the shared
 * protocol schemas, authenticates the `join`, rate-limits, and hands methods to the socket's
 * {@link SdkPeer}. Bad input gets an error response; persistent abuse closes that socket
 * only. Nothing a client sends can throw out of this module.
 */
import type uWS from 'uWebSockets.js';
import type { Logger } from '../core/logger';
import { BadRequestError, ForbiddenError, SubsecError, toWireError } from '../core/errors';
import { ErrorCode, type WireError } from '../protocol/errors';
import {
  MAX_SIGNALING_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  requestEnvelope,
  requestSchemas,
  type Method,
  type NotificationName,
  type RequestParams,
  type ResponseData,
} from '../protocol/signaling';
import { grantsRoom, type TokenService } from '../auth/tokens';
import type { RoomManager } from '../sfu/RoomManager';
import type { StreamHub } from '../streams/StreamHub';
import type { Room } from '../sfu/Room';
import type { RtcTransportSettings } from '../sfu/transports';
import type { SfuMetrics } from '../metrics/SfuMetrics';
import { SdkPeer } from './SdkPeer';
import type { RoomEventLog } from '../events/RoomEventLog';
import type { QoeReportSink } from '../qoe/QoeService';

/** Options of {@link SignalingServer}. */
export interface SignalingOptions {
  joinTimeoutMs: number;
  maxRequestsPerSecond: number;
  maxInvalidMessages: number;
}

/** Optional hooks around a join (the cascade's; absent on a single node). */
export interface JoinHooks {
  /** Throws (e.g. a RedirectError naming another node) when this node should not take the join. */
  admit(room: string): Promise<void>;
  /** Resolves once streams published on other nodes are available in the room (bounded wait). */
  ready(room: Room): Promise<void>;
}

interface SocketState {
  session?: SdkPeer;
  joining: boolean;
  closed: boolean;
  invalid: number;
  windowStart: number;
  windowCount: number;
  joinTimer?: NodeJS.Timeout;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** The join response's optional `moq` field. */
function withMoq(moq: ResponseData['join']['moq']): Pick<ResponseData['join'], 'moq'> {
  return moq ? { moq } : {};
}

/** The signaling endpoint. */
export class SignalingServer {
  readonly #log: Logger;
  readonly #sockets = new Set<uWS.WebSocket<SocketState>>();
  #draining = false;

  constructor(
    private readonly deps: {
      rooms: RoomManager;
      /** The stream hub SDK peers subscribe through. */
      streams: Pick<StreamHub, 'get'>;
      tokens: TokenService;
      rtcSettings: RtcTransportSettings;
      metrics: SfuMetrics;
      options: SignalingOptions;
      log: Logger;
      joinHooks?: JoinHooks;
      /** Room events (sendEvent, getEvents, subscribeEvents); absent when disabled. */
      events?: RoomEventLog;
      /** Viewer QoE intake (reportQoe); absent when disabled. */
      qoe?: QoeReportSink;
      /** The MoQ relay URL and broadcast root of a room, when its streams are bridged to MoQ. */
      moqEndpoint?: (room: string) => ResponseData['join']['moq'];
    },
  ) {
    this.#log = deps.log;
  }

  /** Number of open signaling sockets. */
  get socketCount(): number {
    return this.#sockets.size;
  }

  /** Registers the `/ws` route on the app. */
  attach(app: uWS.TemplatedApp): void {
    // Live room events go out as one uWS publish per event to every caught-up socket of the room.
    this.deps.events?.useTopicPublisher((topic, frame) => void app.publish(topic, frame, false));
    app.ws<SocketState>('/ws', {
      maxPayloadLength: MAX_SIGNALING_MESSAGE_BYTES,
      maxBackpressure: 1024 * 1024,
      closeOnBackpressureLimit: true,
      idleTimeout: 60,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        if (this.#draining) {
          res.writeStatus('503 Service Unavailable').end('draining');
          return;
        }
        res.upgrade<SocketState>(
          { joining: false, closed: false, invalid: 0, windowStart: Date.now(), windowCount: 0 },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        this.#sockets.add(ws);
        this.deps.metrics.sockets.set(this.#sockets.size);
        const state = ws.getUserData();
        state.joinTimer = setTimeout(() => {
          if (!state.session && !state.closed) ws.end(4001, 'join timeout');
        }, this.deps.options.joinTimeoutMs);
      },
      message: (ws, message, isBinary) => this.#onMessage(ws, message, isBinary),
      close: (ws) => {
        const state = ws.getUserData();
        state.closed = true;
        clearTimeout(state.joinTimer);
        this.#sockets.delete(ws);
        this.deps.metrics.sockets.set(this.#sockets.size);
        state.session?.close();
      },
    });
  }

  /** Stops admitting joins and tells every client the node is going away. */
  drain(deadlineMs: number): void {
    this.#draining = true;
    for (const ws of this.#sockets) this.#push(ws, 'draining', { deadlineMs });
  }

  /** Closes every socket (after a drain deadline). */
  closeAll(): void {
    for (const ws of [...this.#sockets]) {
      const state = ws.getUserData();
      if (state.closed) continue;
      // Mark closed first so the room teardown that follows pushes nothing (no `roomClosed`):
      // 1001 tells the SDK the node went away and it reconnects elsewhere or later.
      state.closed = true;
      state.session?.close();
      ws.end(1001, 'node shutting down');
    }
  }

  #onMessage(ws: uWS.WebSocket<SocketState>, message: ArrayBuffer, isBinary: boolean): void {
    const state = ws.getUserData();
    const now = Date.now();
    if (now - state.windowStart >= 1000) {
      state.windowStart = now;
      state.windowCount = 0;
    }
    if (++state.windowCount > this.deps.options.maxRequestsPerSecond) {
      return this.#fail(ws, null, { code: ErrorCode.RATE_LIMITED, message: 'too many requests' }, true);
    }
    if (isBinary) return this.#fail(ws, null, { code: ErrorCode.INVALID_MESSAGE, message: 'binary frames are not accepted' }, true);
    let raw: unknown;
    try {
      raw = JSON.parse(textDecoder.decode(message));
    } catch {
      return this.#fail(ws, null, { code: ErrorCode.INVALID_MESSAGE, message: 'frame is not valid UTF-8 JSON' }, true);
    }
    const envelope = requestEnvelope.safeParse(raw);
    if (!envelope.success) {
      const id = typeof raw === 'object' && raw !== null && 'id' in raw && (typeof raw.id === 'string' || typeof raw.id === 'number') ? raw.id : null;
      return this.#fail(ws, id, { code: ErrorCode.INVALID_MESSAGE, message: 'expected {id, method, params}' }, true);
    }
    const { id, method, params } = envelope.data;
    if (!Object.hasOwn(requestSchemas, method)) {
      return this.#fail(ws, id, { code: ErrorCode.UNKNOWN_METHOD, message: `unknown method ${method.slice(0, 64)}` }, true);
    }
    const parsed = requestSchemas[method as Method].safeParse(params);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.#fail(
        ws,
        id,
        { code: ErrorCode.INVALID_MESSAGE, message: `${method}: ${issue?.path.join('.') || 'params'}: ${issue?.message ?? 'invalid'}` },
        true,
      );
    }
    this.deps.metrics.signalingRequests.inc({ method });
    this.#run(ws, id, method as Method, parsed.data)
      .then(
        (data) => this.#send(ws, { id, ok: true, data }),
        (err: unknown) => {
          if (!(err instanceof SubsecError) && !(err instanceof TypeError)) this.#log.warn('signaling request failed', { method, error: err });
          this.#fail(ws, id, toWireError(err), false);
        },
      )
      // A reply that cannot be serialised must not become an unhandled rejection (that ends the process).
      .catch((err: unknown) => {
        this.#log.error('signaling reply failed', { method, error: err });
        try {
          this.#fail(ws, id, { code: ErrorCode.INTERNAL, message: 'reply could not be sent' }, false);
        } catch {
          // The socket is gone.
        }
      });
  }

  async #run(ws: uWS.WebSocket<SocketState>, _id: string | number, method: Method, params: unknown): Promise<unknown> {
    const state = ws.getUserData();
    if (method === 'ping') {
      const p = params as { clientTime?: number } | undefined;
      return { serverTime: Date.now(), clientTime: p?.clientTime } satisfies ResponseData['ping'];
    }
    if (method === 'join') return this.#join(ws, params as RequestParams<'join'>);
    if (!state.session) {
      throw new SubsecError(state.joining ? ErrorCode.INVALID_STATE : ErrorCode.UNAUTHENTICATED, state.joining ? 'join in progress' : 'join first');
    }
    return state.session.handle(method as Exclude<Method, 'join' | 'ping'>, params as never);
  }

  async #join(ws: uWS.WebSocket<SocketState>, params: RequestParams<'join'>): Promise<ResponseData['join']> {
    const state = ws.getUserData();
    if (state.session || state.joining) throw new SubsecError(ErrorCode.ALREADY_JOINED, 'already joined');
    if (this.#draining) throw new SubsecError(ErrorCode.DRAINING, 'node is draining; connect to another node');
    if (params.protocol !== PROTOCOL_VERSION) {
      throw new SubsecError(ErrorCode.UNSUPPORTED_VERSION, `protocol ${params.protocol} not supported; this node speaks ${PROTOCOL_VERSION}`);
    }
    state.joining = true;
    try {
      const token = await this.deps.tokens.verify(params.token);
      const roomName = params.room ?? token.room;
      if (roomName === '*') throw new BadRequestError('token grants any room: give join.room');
      if (!grantsRoom(token, roomName)) throw new ForbiddenError(`token is not valid for room ${roomName}`);
      await this.deps.tokens.admission?.check(token, roomName);
      await this.deps.joinHooks?.admit(roomName);
      const room = await this.deps.rooms.getOrCreate(roomName);
      const session = new SdkPeer({
        room,
        token,
        rtcSettings: this.deps.rtcSettings,
        log: this.#log,
        displayName: params.displayName,
        push: (name, data) => this.#push(ws, name, data),
        events: this.deps.events,
        qoe: this.deps.qoe,
        streams: this.deps.streams,
        pushFrame: (frame) => this.#sendFrame(ws, frame),
        topics: {
          join: (topic) => !state.closed && ws.subscribe(topic),
          leave: (topic) => {
            if (!state.closed) ws.unsubscribe(topic);
          },
        },
        onLost: () => {
          if (state.session === session) state.session = undefined;
        },
      });
      await session.start(params.rtpCapabilities);
      await this.deps.joinHooks?.ready(room);
      if (state.closed) {
        session.close();
        throw new SubsecError(ErrorCode.INVALID_STATE, 'socket closed during join');
      }
      state.session = session;
      clearTimeout(state.joinTimer);
      return {
        peerId: session.id,
        room: room.name,
        identity: session.identity,
        routerRtpCapabilities: room.rtpCapabilities as unknown as Record<string, unknown>,
        peers: room.peerInfos(session.id),
        producers: room.producerInfos(session.id),
        dataProducers: room.dataProducerInfos(session.id),
        grants: { canPublish: token.canPublish, canSubscribe: token.canSubscribe, canPublishData: token.canPublishData },
        ...withMoq(this.deps.moqEndpoint?.(room.name)),
      };
    } finally {
      state.joining = false;
    }
  }

  #fail(ws: uWS.WebSocket<SocketState>, id: string | number | null, error: WireError, countsAsInvalid: boolean): void {
    this.deps.metrics.signalingErrors.inc({ code: error.code });
    this.#send(ws, { id, ok: false, error });
    const state = ws.getUserData();
    if (countsAsInvalid && ++state.invalid > this.deps.options.maxInvalidMessages && !state.closed) {
      ws.end(1008, 'too many invalid messages');
    }
  }

  #push(ws: uWS.WebSocket<SocketState>, notification: NotificationName, data: unknown): void {
    this.#send(ws, { notification, data });
  }

  #send(ws: uWS.WebSocket<SocketState>, msg: unknown): void {
    this.#sendFrame(ws, JSON.stringify(msg));
  }

  #sendFrame(ws: uWS.WebSocket<SocketState>, frame: string): void {
    const state = ws.getUserData();
    if (state.closed) return;
    ws.send(frame, false);
  }
}
