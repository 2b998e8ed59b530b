/**
 * The publishing half of a session: answers the peer's ANNOUNCE_REQUESTs (which broadcasts
 * exist under a prefix, live) and SUBSCRIBEs (deliver a track), enforcing the session's grant.
 */
import type { Broadcast, TrackLease } from './model/Broadcast';
import { DownstreamSubscription } from './DownstreamSubscription';
import { asError, ProtocolViolation, StreamCode, streamCodeOf } from './errors';
import { hasPrefix, joinPath, stripPrefix } from './Path';
import type { SessionContext, SessionGrant } from './SessionContext';
import type { MoqTransport } from './transport/MoqTransport';
import type { StreamReader } from './wire/StreamReader';
import type { StreamWriter } from './wire/StreamWriter';
import {
  decodeAnnounceRequest,
  decodeSubscribe,
  decodeSubscribeUpdate,
  encodeAnnounce,
  encodeSubscribeOk,
  hasAnnounceIds,
  isLite05OrLater,
  Version,
} from './wire/messages';
import {
  Announce06Type,
  decodeFetch,
  decodeTrackRequest,
  encodeAnnounce06,
  encodeAnnounceOk,
  encodeFrameHeader05,
  encodeSubscribeEnd,
  encodeSubscribeStart,
  encodeTrackInfo,
} from './wire/lite05';

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
  /** The origin id the peer declared in its SETUP (lite-05+; 0 when none): its own announcements are not sent back. */
  peerOrigin: () => bigint;
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
    const lite05 = isLite05OrLater(version);
    const ids = hasAnnounceIds(version);
    const excluded = (b: Broadcast) => {
      const peer = this.#o.peerOrigin();
      return (msg.excludeHop !== 0n && b.hops.includes(msg.excludeHop)) || (peer !== 0n && b.hops.includes(peer));
    };
    const visible = (b: Broadcast) => hasPrefix(prefix, b.path) && hasPrefix(grant.prefix, b.path) && !this.#o.isOwn(b) && !excluded(b);
    // lite-05+: ANNOUNCE_OK names this relay once and the chain omits it; older versions append it.
    const hopsOf = (b: Broadcast) => (lite05 ? [...b.hops] : [...b.hops, context.originId]);
    const sent = new Map<Broadcast, bigint>();
    let nextId = 0n;
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
      const initial = context.origin.list(prefix).filter(visible);
      if (lite05) await writer.write(encodeAnnounceOk({ origin: context.originId, active: initial.length }));
      for (const b of initial) push(b, true);
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
        if (ids) {
          if (next.active) {
            sent.set(next.b, nextId++);
            await writer.write(encodeAnnounce06({ type: Announce06Type.START, suffix, hops: hopsOf(next.b), cost: 0n }, version));
          } else {
            const id = sent.get(next.b)!;
            sent.delete(next.b);
            await writer.write(encodeAnnounce06({ type: Announce06Type.END, id }, version));
          }
          continue;
        }
        if (next.active) sent.set(next.b, 0n);
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
    const lite05 = isLite05OrLater(this.#o.version);
    // Responses on this stream go out in order (SUBSCRIBE_START may race the track's end).
    let responses = Promise.resolve();
    const respond = (bytes: Uint8Array) => {
      responses = responses.then(() => writer.write(bytes)).catch(() => undefined);
      return responses;
    };
    const sub = new DownstreamSubscription({
      transport,
      id: msg.id,
      track,
      priority: msg.priority,
      staleGroupMs: context.limits.staleGroupMs,
      stats: context.stats,
      log,
      timestamps: lite05,
      // lite-05+: the subscription is accepted implicitly; SUBSCRIBE_START resolves where it begins.
      onFirstGroup: lite05 ? (sequence) => void respond(encodeSubscribeStart(sequence)) : undefined,
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
      if (!lite05) {
        await writer.write(
          encodeSubscribeOk({ priority: msg.priority, ordered: msg.ordered, maxLatency: msg.maxLatency, startGroup: msg.startGroup, endGroup: msg.endGroup }),
        );
      }
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
        if (code === StreamCode.CANCELLED) {
          if (lite05) await respond(encodeSubscribeEnd(sub.end));
          writer.close();
        } else writer.reset(code, track.error?.message);
        updates.catch(() => undefined);
      } else {
        sub.close(StreamCode.CANCELLED);
        await responses;
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

  /** Handles a TRACK stream (lite-05+, type read): answers TRACK_INFO with the track's properties, then FIN. */
  async runTrackInfo(reader: StreamReader, writer: StreamWriter): Promise<void> {
    const { context } = this.#o;
    const msg = decodeTrackRequest(await reader.message(context.limits.maxMessageBytes));
    const lease = await this.#lease(msg.broadcast, msg.track, 0, writer);
    if (!lease) return;
    try {
      await writer.write(encodeTrackInfo(lease.track.properties));
      writer.close();
    } finally {
      lease.release();
    }
  }

  /** Handles a FETCH stream (lite-05+, type read): sends one cached group's frames, then FIN. */
  async runFetch(reader: StreamReader, writer: StreamWriter): Promise<void> {
    const { context } = this.#o;
    const msg = decodeFetch(await reader.message(context.limits.maxMessageBytes));
    const lease = await this.#lease(msg.broadcast, msg.track, msg.priority, writer);
    if (!lease) return;
    try {
      const group = lease.track.cached(msg.group);
      if (!group) {
        writer.reset(StreamCode.NOT_FOUND, `group ${msg.group} is not cached`);
        return;
      }
      let index = 0;
      let previous = 0;
      for (;;) {
        const frame = group.frame(index);
        if (frame) {
          const ts = group.timestamp(index)!;
          await writer.write(encodeFrameHeader05(ts, previous, frame.byteLength));
          await writer.write(frame);
          previous = ts;
          index++;
          continue;
        }
        if (group.closed || this.#closed) break;
        await group.wait(index);
      }
      if (group.error) writer.reset(streamCodeOf(group.error) ?? StreamCode.INTERNAL, group.error.message);
      else writer.close();
    } finally {
      lease.release();
    }
  }

  /** Holds `broadcast`'s `track` for a TRACK or FETCH request, or resets `writer` with why not. */
  async #lease(broadcastName: string, trackName: string, priority: number, writer: StreamWriter): Promise<TrackLease | undefined> {
    const { grant, context } = this.#o;
    const path = joinPath(grant.root, broadcastName);
    if (!grant.canSubscribe || !hasPrefix(grant.prefix, path)) {
      writer.reset(StreamCode.UNAUTHORIZED, 'not allowed to read here');
      return undefined;
    }
    const broadcast = await context.resolve(path);
    if (!broadcast) {
      writer.reset(StreamCode.NOT_FOUND, `broadcast ${path} not found`);
      return undefined;
    }
    try {
      return await broadcast.acquire(trackName, priority);
    } catch (err) {
      writer.reset(streamCodeOf(err) ?? StreamCode.NOT_FOUND, asError(err).message);
      return undefined;
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
