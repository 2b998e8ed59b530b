/**
 * The publishing half of a session: answers the peer's ANNOUNCE_REQUESTs (which broadcasts
 * exist under a prefix, live) and SUBSCRIBEs (deliver a track), enforcing the session's grant.
 */
import type { Broadcast } from './model/Broadcast';
import { DownstreamSubscription } from './DownstreamSubscription';
import { asError, ProtocolViolation, StreamCode, streamCodeOf } from './errors';
import { hasPrefix, joinPath, stripPrefix } from './Path';
import type { SessionContext, SessionGrant } from './SessionContext';
import type { MoqTransport } from './transport/MoqTransport';
import type { StreamReader } from './wire/StreamReader';
import type { StreamWriter } from './wire/StreamWriter';
import { decodeAnnounceRequest, decodeSubscribe, decodeSubscribeUpdate, encodeAnnounce, encodeSubscribeOk, Version } from './wire/messages';

/** Options of {@link Publisher}. */
export interface PublisherOptions {
  transport: MoqTransport;
  version: Version;
  grant: SessionGrant;
  context: SessionContext;
  /** The session's own broadcasts are never announced back to it. */
  isOwn: (b: Broadcast) => boolean;
  /** Session label for logs. */
  label: string;
}

/** Serves the peer's announce and subscribe requests. */
export class Publisher {
  readonly #o: PublisherOptions;
  readonly #subscriptions = new Map<bigint, DownstreamSubscription>();
  readonly #cleanups = new Set<() => void>();
  #closed = false;

  constructor(options: PublisherOptions) {
    this.#o = options;
  }

  /** Subscriptions currently served. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** Handles an ANNOUNCE stream whose type varint was read. */
  async runAnnounce(reader: StreamReader, writer: StreamWriter): Promise<void> {
    const { version, grant, context } = this.#o;
    const msg = decodeAnnounceRequest(await reader.message(context.limits.maxMessageBytes), version);
    const prefix = joinPath(grant.root, msg.prefix);
    if (!grant.canSubscribe || !(hasPrefix(grant.prefix, prefix) || hasPrefix(prefix, grant.prefix))) {
      writer.reset(StreamCode.UNAUTHORIZED, 'not allowed to list this prefix');
      return;
    }
    const visible = (b: Broadcast) =>
      hasPrefix(prefix, b.path) && hasPrefix(grant.prefix, b.path) && !this.#o.isOwn(b) && !(msg.excludeHop !== 0n && b.hops.includes(msg.excludeHop));
    const hopsOf = (b: Broadcast) => [...b.hops, context.originId];
    const sent = new Set<Broadcast>();
    const queue: Array<{ b: Broadcast; active: boolean }> = [];
    let wake: (() => void) | undefined;
    const push = (b: Broadcast, active: boolean) => {
      if (!visible(b)) return;
      queue.push({ b, active });
      wake?.();
    };
    const onAnnounced = (b: Broadcast) => push(b, true);
    const onUnannounced = (b: Broadcast) => push(b, false);
    context.origin.on('announced', onAnnounced);
    context.origin.on('unannounced', onUnannounced);
    const cleanup = () => {
      context.origin.off('announced', onAnnounced);
      context.origin.off('unannounced', onUnannounced);
      wake?.();
    };
    this.#cleanups.add(cleanup);
    let peerDone = false;
    reader.done().then(
      () => {
        peerDone = true;
        wake?.();
      },
      () => {
        peerDone = true;
        wake?.();
      },
    );
    try {
      for (const b of context.origin.list(prefix)) push(b, true);
      while (!this.#closed && !peerDone) {
        const next = queue.shift();
        if (!next) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        const suffix = stripPrefix(prefix, next.b.path)!;
        if (next.active === sent.has(next.b)) continue;
        if (next.active) sent.add(next.b);
        else sent.delete(next.b);
        await writer.write(encodeAnnounce({ active: next.active, suffix, hops: hopsOf(next.b) }, version));
      }
      writer.close();
    } finally {
      cleanup();
      this.#cleanups.delete(cleanup);
    }
  }

  /** Handles a SUBSCRIBE stream whose type varint was read. */
  async runSubscribe(reader: StreamReader, writer: StreamWriter): Promise<void> {
    const { grant, context, transport } = this.#o;
    const msg = decodeSubscribe(await reader.message(context.limits.maxMessageBytes));
    const path = joinPath(grant.root, msg.broadcast);
    const log = context.log;
    if (!grant.canSubscribe || !hasPrefix(grant.prefix, path)) {
      writer.reset(StreamCode.UNAUTHORIZED, 'not allowed to subscribe here');
      return;
    }
    if (this.#subscriptions.has(msg.id)) {
      throw new ProtocolViolation(`duplicate subscribe id ${msg.id}`);
    }
    if (this.#subscriptions.size >= context.limits.maxSubscriptions) {
      writer.reset(StreamCode.INTERNAL, 'too many subscriptions');
      return;
    }
    const broadcast = await context.resolve(path);
    if (!broadcast) {
      writer.reset(StreamCode.NOT_FOUND, `broadcast ${path} not found`);
      return;
    }
    let lease;
    try {
      lease = await broadcast.acquire(msg.track, msg.priority);
    } catch (err) {
      writer.reset(streamCodeOf(err) ?? StreamCode.NOT_FOUND, asError(err).message);
      return;
    }
    const { track } = lease;
    const sub = new DownstreamSubscription({
      transport,
      id: msg.id,
      track,
      priority: msg.priority,
      staleGroupMs: context.limits.staleGroupMs,
      stats: context.stats,
      log,
    });
    this.#subscriptions.set(msg.id, sub);
    context.stats.subscriptions++;
    let trackEnded: (() => void) | undefined;
    const ended = new Promise<void>((resolve) => {
      trackEnded = resolve;
    });
    const onClosed = () => trackEnded?.();
    track.once('closed', onClosed);
    try {
      await writer.write(
        encodeSubscribeOk({ priority: msg.priority, ordered: msg.ordered, maxLatency: msg.maxLatency, startGroup: msg.startGroup, endGroup: msg.endGroup }),
      );
      sub.start(msg.startGroup);
      if (track.closed) trackEnded?.();
      // Updates arrive until the peer finishes its side (unsubscribe).
      const updates = (async () => {
        for (;;) {
          const m = await reader.messageOrEnd(context.limits.maxMessageBytes);
          if (!m) return 'unsubscribed' as const;
          sub.setPriority(decodeSubscribeUpdate(m).priority);
        }
      })();
      const outcome = await Promise.race([updates, ended.then(() => 'ended' as const)]);
      if (outcome === 'ended') {
        await sub.drain();
        // A track that ended (publisher unpublished or left) is finished; a failed one is reset with its code.
        const code = track.error ? (streamCodeOf(track.error) ?? StreamCode.INTERNAL) : StreamCode.CANCELLED;
        if (code === StreamCode.CANCELLED) writer.close();
        else writer.reset(code, track.error?.message);
        updates.catch(() => undefined);
      } else {
        sub.close(StreamCode.CANCELLED);
        writer.close();
      }
    } catch (err) {
      sub.close(StreamCode.CANCELLED);
      throw err;
    } finally {
      track.off('closed', onClosed);
      sub.close(StreamCode.CANCELLED);
      this.#subscriptions.delete(msg.id);
      context.stats.subscriptions--;
      lease.release();
    }
  }

  /** Stops serving: ends announce streams and cancels subscriptions. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#cleanups]) c();
    for (const s of this.#subscriptions.values()) s.close(StreamCode.SESSION_CLOSED);
  }
}
