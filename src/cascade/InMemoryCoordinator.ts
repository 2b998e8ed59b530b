/**
 * The embedded coordinator: one node, no Redis. Leases and relays live in maps, the registry
 * holds this node only, and RPC reaches this node's own handlers. The cascade code runs the
 * same way on top of it; it simply never finds a stream on another node.
 */
import { EventEmitter } from 'node:events';
import { InvalidStateError, SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';
import { CascadeRpcError } from './CascadeRpcError';
import type { Coordinator, CoordinatorEvents, NodeRecord, RelayRecord, RpcHandler, StreamLease } from './Coordinator';
import { streamKey } from '../streams/Stream';

/** Options of {@link InMemoryCoordinator}. */
export interface InMemoryCoordinatorOptions {
  nodeId: string;
  region: string;
  /** How often the node's description is refreshed for {@link InMemoryCoordinator.liveNodes} (ms, default 2000). */
  refreshMs?: number;
}

/** A single-node coordinator. */
export class InMemoryCoordinator extends EventEmitter<CoordinatorEvents> implements Coordinator {
  readonly nodeId: string;
  readonly kind = 'memory' as const;
  readonly connected = true;
  readonly #region: string;
  readonly #refreshMs: number;
  readonly #leases = new Map<string, StreamLease>();
  readonly #relays = new Map<string, RelayRecord>();
  readonly #handlers = new Map<string, RpcHandler>();
  #epoch = 0;
  #self: NodeRecord | undefined;
  #describe: (() => Promise<NodeRecord>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: InMemoryCoordinatorOptions) {
    super();
    this.nodeId = options.nodeId;
    this.#region = options.region;
    this.#refreshMs = options.refreshMs ?? 2000;
  }

  async start(describe: () => Promise<NodeRecord>): Promise<void> {
    if (this.#closed) throw new InvalidStateError('coordinator closed');
    this.#describe = describe;
    this.#self = await describe();
    this.#timer = setInterval(() => {
      describe().then(
        (n) => (this.#self = n),
        () => undefined,
      );
    }, this.#refreshMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#leases.clear();
    this.#relays.clear();
    this.#describe = undefined;
  }

  liveNodes(): NodeRecord[] {
    return this.#self ? [this.#self] : [];
  }

  node(nodeId: string): NodeRecord | undefined {
    return nodeId === this.nodeId ? this.#self : undefined;
  }

  async claim(room: string, identity: string): Promise<StreamLease> {
    if (this.#closed) throw new InvalidStateError('coordinator closed');
    const lease: StreamLease = { room, identity, nodeId: this.nodeId, epoch: ++this.#epoch, since: Date.now() };
    this.#leases.set(streamKey(room, identity), lease);
    this.emit('streamUp', lease);
    return lease;
  }

  async release(room: string, identity: string): Promise<void> {
    const lease = this.#leases.get(streamKey(room, identity));
    if (!lease) return;
    this.#leases.delete(streamKey(room, identity));
    this.emit('streamDown', lease);
  }

  held(room: string, identity: string): StreamLease | undefined {
    return this.#leases.get(streamKey(room, identity));
  }

  async lookup(room: string, identity: string): Promise<StreamLease | undefined> {
    return this.#leases.get(streamKey(room, identity));
  }

  async streams(room: string): Promise<StreamLease[]> {
    return [...this.#leases.values()].filter((l) => l.room === room);
  }

  async setRelay(room: string, identity: string, relay: Omit<RelayRecord, 'nodeId' | 'region'>): Promise<void> {
    this.#relays.set(streamKey(room, identity), { ...relay, nodeId: this.nodeId, region: this.#region });
  }

  async clearRelay(room: string, identity: string): Promise<void> {
    this.#relays.delete(streamKey(room, identity));
  }

  async relays(room: string, identity: string): Promise<RelayRecord[]> {
    const r = this.#relays.get(streamKey(room, identity));
    return r ? [r] : [];
  }

  handle(method: string, handler: RpcHandler): void {
    this.#handlers.set(method, handler);
  }

  async call(nodeId: string, method: string, params: unknown): Promise<unknown> {
    if (nodeId !== this.nodeId) throw new CascadeRpcError('unreachable', nodeId, method, 'no such node (single-node coordinator)');
    const handler = this.#handlers.get(method);
    if (!handler) throw new CascadeRpcError('remote', nodeId, method, 'unknown method', ErrorCode.UNKNOWN_METHOD);
    try {
      return await handler(params, this.nodeId);
    } catch (err) {
      if (err instanceof SubsecError) throw new CascadeRpcError('remote', nodeId, method, err.message, err.code);
      throw err;
    }
  }

  notify(nodeId: string, method: string, params: unknown): void {
    if (nodeId !== this.nodeId) return;
    this.#handlers
      .get(method)?.(params, this.nodeId)
      .catch(() => undefined);
  }
}
