/**
 * Streams across nodes. Decides what this node pulls from others and keeps it in step with the
 * directory:
 *
 * - Demand: a room with a local viewer (role `peer` or `viewer`: SDK peers, WHEP sessions) wants every
 *   stream of the room published elsewhere; a stream this node relays to other nodes, or one an
 *   output acquired (`acquire()`), is wanted by itself. Demand that ends lingers `lingerMs`.
 * - One pull per (stream, node): all local viewers share it (one PipeTransport pair).
 * - Source: the origin, or a node already relaying the same epoch: same region first, then fewest
 *   hops, then least load, so regions form trees (A→B→C) at most `maxDepth` deep.
 * - Failure: a dead parent closes its pulls (viewers are told `originLost` when the origin died)
 *   and the stream is pulled again from whoever has it; a new epoch (the publisher republished
 *   elsewhere) replaces the pull.
 *
 * Reconciliation runs per room (serialised) on events, on demand changes and every `reconcileMs`;
 * when the coordinator cannot answer, nothing is torn down.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../core/logger';
import { RedirectError } from '../core/errors';
import type { Participant, Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import type { Coordinator, StreamLease } from './Coordinator';
import { OriginTracker } from './OriginTracker';
import { PipePull } from './PipePull';
import { PipeServer, type LocalSource } from './PipeServer';
import { ORIGIN_DIED, PipeMethod } from './pipeProtocol';
import type { PipeSettings } from './pipeSettings';
import { RemoteParticipant } from '../streams/RemoteParticipant';
import { roomOfKey, streamKey } from '../streams/Stream';

/** Tunables of {@link CascadeManager} (the `cascade` config slice). */
export interface CascadeTunables {
  rpcTimeoutMs: number;
  reconcileMs: number;
  lingerMs: number;
  joinWaitMs: number;
  maxDepth: number;
  redirect: 'never' | 'overloaded';
  maxLoad: number;
  leaseMs: number;
}

/** Options of {@link CascadeManager}. */
export interface CascadeManagerOptions {
  coordinator: Coordinator;
  rooms: RoomManager;
  pipe: PipeSettings;
  region: string;
  config: CascadeTunables;
  log: Logger;
}

/** A pull as listed for admins and tests. */
export interface PullInfo {
  pipeId: string;
  room: string;
  identity: string;
  origin: string;
  parent: string;
  epoch: number;
  depth: number;
  state: string;
  producers: string[];
  /** Time from request to producers in place (ms), once up. */
  setupMs?: number;
}

/** Participants that watch (and so create demand for remote streams): SDK peers and viewers such as WHEP. */
const watches = (p: Participant): boolean => p.role === 'peer' || p.role === 'viewer';

/** Events of {@link CascadeManager}. */
export interface CascadeManagerEvents {
  /** A pull is up: producers in place `ms` after it was requested. */
  pullUp: [ms: number, pull: PullInfo];
}

/** The cascade's media side on one node. */
export class CascadeManager extends EventEmitter<CascadeManagerEvents> {
  /** Origin claims of local publishers. */
  readonly origins: OriginTracker;
  /** Pipes served to other nodes. */
  readonly server: PipeServer;
  readonly #o: CascadeManagerOptions;
  readonly #c: Coordinator;
  readonly #log: Logger;
  readonly #pulls = new Map<string, PipePull>();
  readonly #acquired = new Map<string, number>();
  readonly #unwantedSince = new Map<string, number>();
  readonly #jobs = new Map<string, { tail: Promise<void>; queued?: Promise<void> }>();
  readonly #failedParents = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Per stream: when its lease was last seen in the directory (a pull is closed for a missing lease only after leaseMs). */
  readonly #lastListed = new Map<string, number>();
  /** Streams whose origin released them (`streamDown`): their pulls close at the next reconcile. */
  readonly #released = new Map<string, number>();
  readonly #toldOriginLost = new WeakSet<PipePull>();
  #connectedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: CascadeManagerOptions) {
    super();
    this.#o = options;
    this.#c = options.coordinator;
    this.#log = options.log;
    this.origins = new OriginTracker({ coordinator: this.#c, rooms: options.rooms, log: options.log.child('origin') });
    this.server = new PipeServer({
      coordinator: this.#c,
      rooms: options.rooms,
      pipe: options.pipe,
      sourceOf: (r, i) => this.sourceOf(r, i),
      log: options.log.child('pipe-server'),
    });
  }

  /** Wires events, RPC handlers and the reconcile timer. */
  start(): void {
    const c = this.#c;
    this.origins.start();
    this.server.start();
    this.#o.rooms.on('roomCreated', (room) => this.#watch(room));
    for (const room of this.#o.rooms.rooms) this.#watch(room);
    for (const method of [PipeMethod.producerAdded, PipeMethod.producerClosed, PipeMethod.producerPaused, PipeMethod.producerResumed, PipeMethod.closed]) {
      c.handle(method, async (params, from) => {
        const pipeId = (params as { pipeId?: unknown } | null)?.pipeId;
        for (const pull of this.#pulls.values()) {
          if (pull.pipeId === pipeId && pull.parent === from) pull.handleNote(method, params);
        }
      });
    }
    c.on('streamUp', (lease) => this.#onDirectoryChange(lease));
    c.on('streamDown', (lease) => {
      this.#released.set(streamKey(lease.room, lease.identity), lease.epoch);
      this.#onDirectoryChange(lease);
    });
    c.on('nodeDown', (nodeId) => this.#onNodeDown(nodeId));
    c.on('connection', (state) => {
      if (state !== 'up') return;
      this.#connectedAt = Date.now();
      this.origins.retry();
      for (const room of this.#relevantRooms()) void this.reconcile(room);
    });
    this.origins.on('claimed', (lease) => {
      this.#pulls.get(streamKey(lease.room, lease.identity))?.close('this node is the origin now');
      this.server.closeStream(lease.room, lease.identity, 'the stream has a new origin epoch', lease.epoch);
    });
    this.origins.on('steppedDown', (lease) => {
      this.server.closeStream(lease.room, lease.identity, 'the origin moved to another node');
      void this.reconcile(lease.room);
    });
    this.server.on('servedChanged', (room) => void this.reconcile(room));
    this.#timer = setInterval(() => {
      this.origins.retry();
      for (const room of this.#relevantRooms()) void this.reconcile(room);
    }, this.#o.config.reconcileMs);
    this.#timer.unref();
  }

  /** Closes every pull and served pipe. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.origins.close();
    for (const pull of [...this.#pulls.values()]) pull.close('node shutting down');
    this.server.close();
  }

  /** What this node has of a stream (for serving pipes): the origin epoch, or the epoch of a pull that is up. */
  sourceOf(room: string, identity: string): LocalSource | undefined {
    const epoch = this.origins.epochOf(room, identity);
    if (epoch !== undefined) return { epoch, depth: 0 };
    const pull = this.#pulls.get(streamKey(room, identity));
    return pull?.state === 'up' ? { epoch: pull.epoch, depth: pull.depth } : undefined;
  }

  /** Current pulls. */
  pulls(): PullInfo[] {
    return [...this.#pulls.values()].map((p) => ({
      pipeId: p.pipeId,
      room: p.room,
      identity: p.identity,
      origin: p.origin,
      parent: p.parent,
      epoch: p.epoch,
      depth: p.depth,
      state: p.state,
      producers: p.producerIds,
      ...(p.openedAt ? { setupMs: p.openedAt - p.startedAt } : {}),
    }));
  }

  /**
   * Makes a room's remote streams (or one stream, with `identity`) available here until the
   * returned function is called: for outputs that do not join the room (LL-HLS, MoQ bridge).
   */
  acquire(room: string, identity?: string): () => void {
    const k = identity === undefined ? room : streamKey(room, identity);
    this.#acquired.set(k, (this.#acquired.get(k) ?? 0) + 1);
    void this.reconcile(room);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#acquired.get(k) ?? 1) - 1;
      if (n > 0) this.#acquired.set(k, n);
      else this.#acquired.delete(k);
      void this.reconcile(room);
    };
  }

  /** Join hook: resolves once the room's remote streams are here, or after `joinWaitMs`. */
  async ready(room: Room): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.reconcile(room.name),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#o.config.joinWaitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Join hook: throws a {@link RedirectError} when this node is overloaded and a lighter node of its region exists. */
  async admit(roomName: string): Promise<void> {
    const { redirect, maxLoad } = this.#o.config;
    if (redirect === 'never') return;
    const self = this.#c.node(this.#c.nodeId);
    if (!self || self.load.load < maxLoad) return;
    if (this.#o.rooms.get(roomName)?.participants.some((p) => !(p instanceof RemoteParticipant))) return;
    const alt = this.#c
      .liveNodes()
      .filter((n) => n.id !== self.id && n.region === self.region && !n.draining && n.load.load < maxLoad)
      .sort((a, b) => a.load.load - b.load.load)[0];
    if (alt) throw new RedirectError(`node ${self.id} is at capacity; join room ${roomName} on node ${alt.id}`, { nodeId: alt.id, url: alt.url });
  }

  /** Reconciles a room with the directory; concurrent requests share one queued run. */
  reconcile(room: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let job = this.#jobs.get(room);
    if (!job) {
      job = { tail: Promise.resolve() };
      this.#jobs.set(room, job);
    }
    if (job.queued) return job.queued;
    const j = job;
    const run = j.tail.then(async () => {
      j.queued = undefined;
      await this.#reconcileRoom(room).catch((err: unknown) => this.#log.warn('reconcile failed', { room, error: err }));
    });
    j.queued = run;
    j.tail = run;
    void run.finally(() => {
      if (this.#jobs.get(room) === j && j.tail === run && !j.queued) this.#jobs.delete(room);
    });
    return run;
  }

  #watch(room: Room): void {
    const onChange = (p: Participant) => {
      if (watches(p)) void this.reconcile(room.name);
    };
    room.on('participantJoined', onChange);
    room.on('participantLeft', onChange);
    room.once('closed', () => {
      room.off('participantJoined', onChange);
      room.off('participantLeft', onChange);
      if (this.#acquiredIn(room.name)) void this.reconcile(room.name);
    });
  }

  #roomWanted(room: string): boolean {
    if ((this.#acquired.get(room) ?? 0) > 0) return true;
    const r = this.#o.rooms.get(room);
    return !!r && !r.closed && r.participants.some(watches);
  }

  #streamWanted(room: string, identity: string): boolean {
    return (this.#acquired.get(streamKey(room, identity)) ?? 0) > 0 || this.server.servedCount(room, identity) > 0;
  }

  #acquiredIn(room: string): boolean {
    for (const k of this.#acquired.keys()) if (roomOfKey(k) === room) return true;
    return false;
  }

  #relevantRooms(): Set<string> {
    const rooms = new Set<string>();
    for (const p of this.#pulls.values()) rooms.add(p.room);
    for (const k of this.#acquired.keys()) rooms.add(roomOfKey(k));
    for (const s of this.server.list()) rooms.add(s.room);
    for (const r of this.#o.rooms.rooms) if (this.#roomWanted(r.name)) rooms.add(r.name);
    return rooms;
  }

  async #reconcileRoom(room: string): Promise<void> {
    if (this.#closed) return;
    const wantRoom = this.#roomWanted(room);
    const pullsHere = [...this.#pulls.values()].filter((p) => p.room === room);
    if (!wantRoom && pullsHere.length === 0 && !this.#acquiredIn(room) && !this.server.list().some((s) => s.room === room)) return;
    if (!this.#c.connected) return;
    let leases: StreamLease[];
    try {
      leases = await this.#c.streams(room);
    } catch (err) {
      this.#log.debug('directory unavailable; keeping current pulls', { room, error: err });
      return;
    }
    const now = Date.now();
    const listed = new Set<string>();
    const starts: Promise<void>[] = [];
    for (const lease of leases) {
      const k = streamKey(room, lease.identity);
      listed.add(k);
      this.#lastListed.set(k, now);
      if (this.#released.get(k) !== undefined && this.#released.get(k)! < lease.epoch) this.#released.delete(k);
      const pull = this.#pulls.get(k);
      if (lease.nodeId === this.#c.nodeId) {
        pull?.close('this node is the origin');
        continue;
      }
      if (!(wantRoom || this.#streamWanted(room, lease.identity))) {
        this.#linger(k, pull, now, room);
        continue;
      }
      this.#unwantedSince.delete(k);
      if (!this.#c.node(lease.nodeId)) {
        if (pull && pull.origin === lease.nodeId) pull.close('origin node is dead', false);
        continue;
      }
      if (pull && !pull.closed && pull.epoch === lease.epoch && pull.origin === lease.nodeId) continue;
      if (pull) {
        pull.close(`epoch ${pull.epoch} replaced by ${lease.epoch}`);
        this.server.closeStream(room, lease.identity, 'the stream has a new origin epoch', lease.epoch);
      }
      starts.push(this.#startPull(lease));
    }
    // A lease missing from the listing means the stream ended only when its origin said so
    // (streamDown) or it stayed missing past a lease lifetime while connected: right after a
    // Redis restart the directory is empty until origins restore their leases.
    const leaseMs = this.#o.config.leaseMs;
    for (const pull of pullsHere) {
      const k = streamKey(room, pull.identity);
      if (pull.closed || listed.has(k)) continue;
      const released = this.#released.get(k) === pull.epoch;
      const missingLong = now - (this.#lastListed.get(k) ?? pull.startedAt) > leaseMs && now - this.#connectedAt > leaseMs;
      if (released || missingLong) {
        this.#released.delete(k);
        this.#lastListed.delete(k);
        pull.close('the stream ended');
        this.server.closeStream(room, pull.identity, 'the stream ended');
      }
    }
    for (const k of listed) if (!this.#pulls.has(k)) this.#lastListed.delete(k);
    await Promise.all(starts);
  }

  #linger(k: string, pull: PipePull | undefined, now: number, room: string): void {
    if (!pull || pull.closed) return;
    const since = this.#unwantedSince.get(k) ?? now;
    this.#unwantedSince.set(k, since);
    if (now - since >= this.#o.config.lingerMs) {
      this.#unwantedSince.delete(k);
      pull.close('no viewers left');
      return;
    }
    const t = setTimeout(
      () => {
        this.#timers.delete(t);
        void this.reconcile(room);
      },
      since + this.#o.config.lingerMs - now + 5,
    );
    t.unref();
    this.#timers.add(t);
  }

  async #startPull(lease: StreamLease): Promise<void> {
    const k = streamKey(lease.room, lease.identity);
    const parent = await this.#chooseParent(lease);
    if (this.#closed || (this.#pulls.get(k) && !this.#pulls.get(k)!.closed)) return;
    const pull = new PipePull({
      coordinator: this.#c,
      rooms: this.#o.rooms,
      pipe: this.#o.pipe,
      lease,
      parent,
      rpcTimeoutMs: this.#o.config.rpcTimeoutMs,
      log: this.#log.child('pull'),
    });
    this.#pulls.set(k, pull);
    pull.once('closed', () => {
      if (pull.upstreamReason === ORIGIN_DIED) this.#tellOriginLost(pull);
      if (this.#pulls.get(k) === pull) {
        this.#pulls.delete(k);
        this.#lastListed.delete(k);
      }
      this.#c.clearRelay(lease.room, lease.identity).catch(() => undefined);
    });
    try {
      await pull.open();
      this.#failedParents.delete(parent);
      const info = this.pulls().find((p) => p.pipeId === pull.pipeId);
      if (info) this.emit('pullUp', info.setupMs ?? 0, info);
      await this.#c.setRelay(lease.room, lease.identity, { epoch: lease.epoch, parent, depth: pull.depth }).catch(() => undefined);
    } catch (err) {
      if (parent !== lease.nodeId) this.#failedParents.set(parent, Date.now() + 5_000);
      this.#log.warn('pull failed; will retry', { room: lease.room, identity: lease.identity, parent, error: err });
    }
  }

  /** The best node to pull a stream from: see the class comment. */
  async #chooseParent(lease: StreamLease): Promise<string> {
    const c = this.#c;
    const relays = await c.relays(lease.room, lease.identity).catch(() => []);
    const now = Date.now();
    const candidates = [
      { nodeId: lease.nodeId, depth: 0 },
      ...relays.filter((r) => r.epoch === lease.epoch && r.nodeId !== c.nodeId && r.parent !== c.nodeId && r.depth < this.#o.config.maxDepth),
    ].filter((cand) => {
      const n = c.node(cand.nodeId);
      return n && (cand.depth === 0 || (!n.draining && (this.#failedParents.get(cand.nodeId) ?? 0) < now));
    });
    const score = (cand: { nodeId: string; depth: number }) => {
      const n = c.node(cand.nodeId)!;
      return [n.region === this.#o.region ? 0 : 1, cand.depth, n.load.load] as const;
    };
    candidates.sort((a, b) => {
      const sa = score(a);
      const sb = score(b);
      return sa[0] - sb[0] || sa[1] - sb[1] || sa[2] - sb[2];
    });
    return candidates[0]?.nodeId ?? lease.nodeId;
  }

  #onDirectoryChange(lease: StreamLease): void {
    if (lease.nodeId === this.#c.nodeId) return;
    if (this.#relevantRooms().has(lease.room)) void this.reconcile(lease.room);
  }

  /** Tells local participants of the pull's room that the stream's origin died (once per pull). */
  #tellOriginLost(pull: PipePull): void {
    if (this.#toldOriginLost.has(pull)) return;
    this.#toldOriginLost.add(pull);
    for (const p of this.#o.rooms.get(pull.room)?.participants ?? []) {
      if (!(p instanceof RemoteParticipant)) p.notify('originLost', { identity: pull.identity, nodeId: pull.origin });
    }
  }

  #onNodeDown(nodeId: string): void {
    const rooms = new Set<string>();
    for (const pull of [...this.#pulls.values()]) {
      if (pull.parent !== nodeId && pull.origin !== nodeId) continue;
      rooms.add(pull.room);
      if (pull.origin === nodeId) {
        this.#tellOriginLost(pull);
        this.server.closeStream(pull.room, pull.identity, ORIGIN_DIED);
      }
      pull.close(pull.origin === nodeId ? 'origin node died' : 'parent node died', false);
    }
    for (const room of rooms) void this.reconcile(room);
  }
}
