/** The types `SubsecClient` speaks in: its events, connection state and call results. */
import type { PeerInfo, ProducerInfo, RoomEvent } from '../../../src/protocol/signaling';
import type { DataMessage } from './DataChannels';
import type { SubsecError, SubsecErrorEvent } from './errors';

/** Connection state of a `SubsecClient`. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Events of `SubsecClient`. */
export interface SubsecClientEvents {
  /** Another peer joined the room. */
  peerJoined: PeerInfo;
  /** A peer left the room. */
  peerLeft: PeerInfo;
  /** A producer became available to subscribe to. */
  producerAdded: ProducerInfo;
  /** A producer is gone (subscriptions to it close, except while they are being moved after a reconnect). */
  producerRemoved: ProducerInfo;
  /** A data message from another peer. */
  data: DataMessage;
  /** The connection was lost; a reconnection attempt follows after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number; reason: string };
  /** Connected again; publications and subscriptions were restored. */
  reconnected: { attempt: number };
  /** The client is closed for good (by close(), a fatal error or giving up); fires once. */
  disconnected: { reason: string; error?: SubsecError };
  /** A failure not tied to a call of the app; `fatal` ones are followed by 'disconnected'. */
  error: SubsecErrorEvent;
  /** The connection state changed. */
  stateChanged: { state: ConnectionState; previous: ConnectionState };
  /** The node is shutting down; the socket closes in `deadlineMs` and the client reconnects then. */
  draining: { deadlineMs: number };
  /** A room event (same as `client.events.on('event')`): in sequence order, each once, resumed after reconnections. */
  event: RoomEvent;
}

/** Result of `SubsecClient.ping()`. */
export interface PingResult {
  /** Server clock minus local clock, in ms (add it to Date.now() to get server time). */
  offsetMs: number;
  /** Round-trip time of the signaling socket, in ms. */
  rttMs: number;
  /** Server time at the response, in ms since the epoch. */
  serverTime: number;
}

/** Target of `SubsecClient.subscribe()`: a producer id, or every current producer of a peer. */
export type SubscribeTarget = string | { peerId: string };
