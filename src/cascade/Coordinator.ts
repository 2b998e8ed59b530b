/**
 * The coordinator: what nodes of a cascade share. A node registry (heartbeats with load, dead
 * after a TTL), a directory of stream origins (leases with a fencing epoch), a list of nodes that
 * relay each stream, and RPC between nodes. Two implementations, chosen once in the composition
 * root: {@link InMemoryCoordinator} (one node, no Redis) and {@link RedisCoordinator}.
 *
 * Origin rule (the split-brain guard, see docs/cascade.md): a stream `(room, identity)` has at
 * most one lease in the directory. A claim always succeeds and takes a new, higher epoch (the
 * newest publish wins, like a publisher that reconnected elsewhere); the previous holder learns
 * it lost the lease at its next renewal or at once from the `stream.up` event, and steps down.
 * Pipes are requested with the epoch read from the directory and refused on a mismatch.
 */
import type { EventEmitter } from 'node:events';

/** Load figures a node reports with each heartbeat. */
export interface NodeLoad {
  /** One-minute load average per CPU core (1 = saturated). */
  cpu: number;
  /** Consumers on this node's routers. */
  consumers: number;
  /** Inbound bitrate of all producers on this node (bps, sampled every few seconds). */
  bitrateBps: number;
  /** Open rooms. */
  rooms: number;
  /** Pipes this node serves to other nodes. */
  pipesOut: number;
  /** Consumers over capacity (0..1+); what placement compares. */
  load: number;
}

/** A node as the registry knows it. */
export interface NodeRecord {
  id: string;
  region: string;
  /** Base HTTP URL clients use (signaling at `<url>/ws`). */
  url: string;
  /** ms since the epoch. */
  startedAt: number;
  draining: boolean;
  load: NodeLoad;
  /** The node's `/v1/nodes` entry as it last described itself (opaque here). */
  summary?: Record<string, unknown>;
}

/** An origin lease: node `nodeId` is the origin of `identity`'s stream in `room`. */
export interface StreamLease {
  room: string;
  identity: string;
  nodeId: string;
  /** Fencing epoch: strictly increases with every claim of this stream. */
  epoch: number;
  /** When the lease was claimed (ms since the epoch, claimer's clock). */
  since: number;
}

/** A node that relays a stream it pulls from `parent`. */
export interface RelayRecord {
  nodeId: string;
  region: string;
  /** Epoch of the origin lease the relayed media belongs to. */
  epoch: number;
  parent: string;
  /** Hops from the origin (1 = pulls from the origin). */
  depth: number;
}

/** Events of a {@link Coordinator}. */
export interface CoordinatorEvents {
  /** A node appeared (or came back) in the registry. */
  nodeUp: [node: NodeRecord];
  /** A node's registration expired: it is dead (or cut off from the coordinator). */
  nodeDown: [nodeId: string];
  /** A stream got an origin (claim, or a lease restored after a Redis restart). */
  streamUp: [lease: StreamLease];
  /** A stream's origin released it (the publisher left). */
  streamDown: [lease: StreamLease];
  /** This node no longer holds a lease it claimed; `holder` is the new holder, if any. */
  leaseLost: [lease: StreamLease, holder: StreamLease | undefined];
  /** The connection to the shared store went down or came back (Redis only). */
  connection: [state: 'up' | 'down'];
}

/** Handles one RPC method; throw a SubsecError to answer with its code. */
export type RpcHandler = (params: unknown, from: string) => Promise<unknown>;

/** What every coordinator offers. */
export interface Coordinator extends EventEmitter<CoordinatorEvents> {
  /** This node's id. */
  readonly nodeId: string;
  /** Which implementation this is. */
  readonly kind: 'memory' | 'redis';
  /** Whether the shared store is reachable now (always true in memory). */
  readonly connected: boolean;

  /** Registers this node (described by `describe` at every heartbeat) and starts the loops. */
  start(describe: () => Promise<NodeRecord>): Promise<void>;
  /** Releases this node's leases and registration and stops. Idempotent. */
  close(): Promise<void>;

  /** Live nodes (this one included) as of the last registry sweep. */
  liveNodes(): NodeRecord[];
  /** A live node by id, or undefined if unknown or dead. */
  node(nodeId: string): NodeRecord | undefined;

  /** Claims the origin lease of a stream for this node (newest wins); resolves with the lease. */
  claim(room: string, identity: string): Promise<StreamLease>;
  /** Releases a lease this node holds (no-op if it holds none). */
  release(room: string, identity: string): Promise<void>;
  /** The lease this node holds for a stream, if any. */
  held(room: string, identity: string): StreamLease | undefined;
  /** The current lease of a stream, if any. */
  lookup(room: string, identity: string): Promise<StreamLease | undefined>;
  /** The current leases of a room's streams. */
  streams(room: string): Promise<StreamLease[]>;

  /** Records that this node relays a stream (kept until {@link clearRelay} or close). */
  setRelay(room: string, identity: string, relay: Omit<RelayRecord, 'nodeId' | 'region'>): Promise<void>;
  /** Removes this node's relay record of a stream. */
  clearRelay(room: string, identity: string): Promise<void>;
  /** Live nodes relaying a stream. */
  relays(room: string, identity: string): Promise<RelayRecord[]>;

  /** Serves an RPC method of this node. */
  handle(method: string, handler: RpcHandler): void;
  /** Calls a method on a node; rejects with a {@link CascadeRpcError} on timeout or remote error. */
  call(nodeId: string, method: string, params: unknown, timeoutMs?: number): Promise<unknown>;
  /** Sends a one-way message to a node (best effort, no reply). */
  notify(nodeId: string, method: string, params: unknown): void;
}
