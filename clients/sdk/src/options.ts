/** Options of `connect()`, their defaults and the merge of the two. */
import type { BuiltinHandlerName } from 'mediasoup-client/types';
import type { BackoffOptions } from './backoff';
import type { WebSocketConstructor } from './SignalingChannel';
import type { ClockSyncOptions } from './ClockSync';
import type { ReplayFrom } from './RoomEvents';
import type { QoeOptions } from './qoe/QoeReporter';
import type { Logger } from './logger';

/** Automatic reconnection settings. */
export interface ReconnectOptions extends BackoffOptions {
  /** Whether to reconnect at all (default true). */
  enabled: boolean;
  /** Attempts before giving up with a fatal RECONNECT_FAILED (default Infinity). */
  maxAttempts: number;
}

/** Options of `connect()`. */
export interface ConnectOptions {
  /** Name shown to other peers (default none). */
  displayName?: string;
  /**
   * Returns the token for each reconnection, e.g. a fresh one from the app's backend
   * (default: the token given to `connect()` again).
   */
  getToken?: () => string | Promise<string>;
  /** Time for the signaling socket to open, in ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Time for each signaling response, in ms (default 10 000). */
  requestTimeoutMs?: number;
  /** How long calls made while reconnecting wait for the connection, in ms (default 30 000). */
  operationTimeoutMs?: number;
  /** Interval of liveness pings on the signaling socket, in ms; 0 disables them (default 10 000). */
  heartbeatIntervalMs?: number;
  /** Reconnection settings, or `false` to disable reconnecting (default: enabled, see below). */
  reconnect?: Partial<ReconnectOptions> | false;
  /**
   * After a reconnect, how long a subscription whose producer has not yet reappeared waits for it
   * before closing with reason 'producerGone', in ms (default 15 000).
   */
  resubscribeGraceMs?: number;
  /**
   * Other nodes of the cluster (base URLs): when the connected node is unreachable, reconnection
   * attempts move on through this list (the connect URL first). Default none.
   */
  nodes?: string[];
  /**
   * After `originLost` (the publisher's node died), how long a subscription to that publisher's
   * source waits for it to reappear on another node before closing with 'producerGone', in ms
   * (default 15 000).
   */
  failoverWindowMs?: number;
  /** Consume other peers' data producers automatically and emit `'data'` (default true). */
  autoConsumeData?: boolean;
  /** Label of the data producer used by `sendData()` (default 'chat'). */
  dataLabel?: string;
  /** Extra STUN/TURN servers for the WebRTC transports (default none: the node is ICE-lite). */
  iceServers?: RTCIceServer[];
  /** ICE transport policy; 'relay' forces TURN (default 'all'). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** mediasoup-client handler to force instead of detecting the browser (default detected). */
  handlerName?: BuiltinHandlerName;
  /** WebSocket implementation (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Aborts `connect()` while it is in progress. */
  signal?: AbortSignal;
  /** Diagnostics sink (default silent). */
  logger?: Logger;
  /** Room events delivered on first connection: every retained one ('all', default), only new ones ('new'), or after a sequence number. */
  eventsReplay?: ReplayFrom;
  /** Clock sync settings (burst size, interval…). */
  clockSync?: ClockSyncOptions;
  /** Playback QoE reporting (default on, every 5 s), or `false` to turn it off (docs/qoe.md). */
  qoe?: QoeOptions | false;
}

/** Options with every default applied. */
export interface ResolvedOptions
  extends
    Required<
      Omit<ConnectOptions, 'displayName' | 'getToken' | 'iceServers' | 'iceTransportPolicy' | 'handlerName' | 'WebSocket' | 'signal' | 'reconnect' | 'qoe'>
    >,
    Pick<ConnectOptions, 'displayName' | 'getToken' | 'iceServers' | 'iceTransportPolicy' | 'handlerName' | 'WebSocket' | 'signal' | 'qoe'> {
  reconnect: ReconnectOptions;
}

/** Default reconnection settings. */
export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = {
  enabled: true,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
};

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  }
  return value;
}

/** `merge(defaults, user)`, validating numbers. @throws {TypeError} on invalid values. */
export function resolveOptions(options: ConnectOptions = {}): ResolvedOptions {
  const reconnect: ReconnectOptions = options.reconnect === false ? { ...DEFAULT_RECONNECT, enabled: false } : { ...DEFAULT_RECONNECT, ...options.reconnect };
  positive('reconnect.initialDelayMs', reconnect.initialDelayMs, 0);
  positive('reconnect.maxDelayMs', reconnect.maxDelayMs, 0);
  positive('reconnect.multiplier', reconnect.multiplier, 0);
  positive('reconnect.maxAttempts', reconnect.maxAttempts, 0);
  return {
    ...options,
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    operationTimeoutMs: positive('operationTimeoutMs', options.operationTimeoutMs, 30_000),
    heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 10_000, true),
    resubscribeGraceMs: positive('resubscribeGraceMs', options.resubscribeGraceMs, 15_000, true),
    failoverWindowMs: positive('failoverWindowMs', options.failoverWindowMs, 15_000, true),
    nodes: [...(options.nodes ?? [])],
    autoConsumeData: options.autoConsumeData ?? true,
    dataLabel: options.dataLabel ?? 'chat',
    logger: options.logger ?? {},
    eventsReplay: options.eventsReplay ?? 'all',
    clockSync: options.clockSync ?? {},
    reconnect,
  };
}
