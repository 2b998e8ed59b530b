/**
 * What a session needs from its relay: the local origin, path resolution (local or through an
 * upstream relay), limits, the relay's own origin id and stats counters.
 */
import type { Logger } from '../src/core/logger';
import type { Broadcast } from './model/Broadcast';
import type { Origin } from './Origin';
import type { RelayStats } from './RelayStats';

/** What a session's token allows. */
export interface SessionGrant {
  /** Who the peer is (token identity). */
  identity: string;
  /** The session's root: wire paths are relative to it (the URL path). */
  root: string;
  /** Absolute prefix the token covers ('' = everything). */
  prefix: string;
  canPublish: boolean;
  canSubscribe: boolean;
}

/** Per-session limits. */
export interface SessionLimits {
  /** Largest control message accepted (bytes). */
  maxMessageBytes: number;
  /** Largest frame accepted (bytes). */
  maxFrameBytes: number;
  /** A group still being sent this long after a newer one started is dropped (ms). */
  staleGroupMs: number;
  /** Most on-demand subscriptions a peer may hold at once. */
  maxSubscriptions: number;
  /** Time allowed for a peer to answer SUBSCRIBE (ms). */
  requestTimeoutMs: number;
}

/** The relay-side services a session uses. */
export interface SessionContext {
  readonly origin: Origin;
  /** Finds a broadcast locally or through an upstream relay. */
  resolve(path: string): Promise<Broadcast | undefined>;
  /** Creates a broadcast announced by a publishing session (the relay applies its options). */
  createBroadcast(path: string, hops: bigint[], source: import('./model/Broadcast').BroadcastSource): Broadcast;
  readonly limits: SessionLimits;
  /** This relay's origin id (moq-lite-04 hop chain entry). */
  readonly originId: bigint;
  readonly stats: RelayStats;
  readonly log: Logger;
}
