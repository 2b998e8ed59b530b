/**
 * The subscribing half of a session: learns the peer's broadcasts (ANNOUNCE_REQUEST, when the
 * peer may publish), subscribes to the peer's tracks on behalf of the relay, and writes the
 * groups the peer sends on unidirectional streams into those tracks.
 */
import { Broadcast, type BroadcastSource, type TrackFeed } from './model/Broadcast';
import type { Track, TrackProperties } from './model/Track';
import { ProtocolViolation, SessionError, SessionCode, StreamCode, StreamError, streamCodeOf, asError } from './errors';
import { joinPath, stripPrefix } from './Path';
import type { SessionContext, SessionGrant } from './SessionContext';
import type { MoqTransport } from './transport/MoqTransport';
import { StreamReader } from './wire/StreamReader';
import { StreamWriter } from './wire/StreamWriter';
import {
  ControlStream,
  decodeAnnounce,
  decodeGroupHeader,
  decodeSubscribeDrop,
  decodeSubscribeOk,
  encodeAnnounceRequest,
  encodeStreamType,
  encodeSubscribe,
  hasAnnounceIds,
  isLite05OrLater,
  SubscribeResponse,
  SubscribeResponse05,
  Version,
  type Announce,
} from './wire/messages';
import { Announce06Type, decodeAnnounce06, decodeAnnounceOk, decodeSubscribeBound, decodeTrackInfo, encodeTrackRequest, unzigzag } from './wire/lite05';

/** Options of {@link Subscriber}. */
export interface SubscriberOptions {
  transport: MoqTransport;
  version: Version;
  grant: SessionGrant;
  context: SessionContext;
  /** Session label for logs. */
  label: string;
  /** Called when the peer breaks the protocol on a stream we own. */
  fail: (err: SessionError) => void;
}

interface UpstreamSub {
  track: Track;
  writer: StreamWriter;
}

/** Our requests to the peer. */
export class Subscriber implements BroadcastSource {
  readonly label: string;
  readonly #o: SubscriberOptions;
  readonly #subs = new Map<bigint, UpstreamSub>();
  readonly #broadcasts = new Map<string, Broadcast>();
  #nextId = 0n;
  #closed = false;

  constructor(options: SubscriberOptions) {
    this.#o = options;
    this.label = options.label;
  }

  /** Broadcasts the peer announced (absolute paths). */
  get broadcasts(): Broadcast[] {
    return [...this.#broadcasts.values()];
  }

  /** True when `b` was announced by this peer. */
  owns(b: Broadcast): boolean {
    return this.#broadcasts.get(b.path) === b;
  }

  /**
   * Asks the peer for every broadcast it publishes under the session root and publishes them
   * into the relay's origin until the stream or session ends.
   */
  async runAnnounces(): Promise<void> {
    const { transport, version, grant, context } = this.#o;
    let stream;
    try {
      stream = await transport.createBidirectionalStream();
    } catch (err) {
      context.log.debug('cannot open announce stream', { session: this.label, error: err });
      return;
    }
    const writer = new StreamWriter(stream.writable);
    const reader = new StreamReader(stream.readable);
    try {
      await writer.write(encodeStreamType(ControlStream.ANNOUNCE));
      await writer.write(encodeAnnounceRequest({ prefix: '', excludeHop: context.originId }, version));
      // lite-05+: ANNOUNCE_OK names the peer once; its announcements leave it out of the chain.
      let responder = 0n;
      if (isLite05OrLater(version)) responder = decodeAnnounceOk(await reader.message(context.limits.maxMessageBytes)).origin;
      const withResponder = (hops: bigint[]) => (responder !== 0n ? [...hops, responder] : hops);
      // lite-06: each START takes the stream's next id; END and RESTART name one.
      const byId = new Map<bigint, string>();
      let nextId = 0n;
      for (;;) {
        let a: Announce | undefined;
        if (hasAnnounceIds(version)) {
          if (await reader.done()) break;
          const type = await reader.varint();
          const m = decodeAnnounce06(type, await reader.message(context.limits.maxMessageBytes), version);
          if (m.type === Announce06Type.START) {
            if ([...byId.values()].includes(m.suffix)) throw new ProtocolViolation(`duplicate announce of ${m.suffix}`);
            byId.set(nextId++, m.suffix);
            a = { active: true, suffix: m.suffix, hops: withResponder(m.hops) };
          } else {
            const suffix = byId.get(m.id);
            if (suffix === undefined) throw new ProtocolViolation(`unknown announce id ${m.id}`);
            // A RESTART re-routes a broadcast that stays live: nothing changes for its subscribers here.
            if (m.type === Announce06Type.RESTART) continue;
            byId.delete(m.id);
            a = { active: false, suffix, hops: [] };
          }
        } else {
          const m = await reader.messageOrEnd(context.limits.maxMessageBytes);
          if (!m) break;
          a = decodeAnnounce(m, version);
          a.hops = withResponder(a.hops);
        }
        if (this.#closed) break;
        const path = joinPath(grant.root, a.suffix);
        if (stripPrefix(grant.prefix, path) === undefined) {
          throw new SessionError(SessionCode.UNAUTHORIZED, `not allowed to publish ${path}`);
        }
        const existing = this.#broadcasts.get(path);
        if (a.active) {
          if (a.hops.includes(context.originId)) continue; // our own announcement reflected back
          // lite-05: a second ANNOUNCE of a live path replaces its route in place (a restart).
          if (existing && !existing.closed && version === Version.LITE_05) continue;
          existing?.close();
          const b = context.createBroadcast(path, a.hops, this);
          this.#broadcasts.set(path, b);
          b.once('closed', () => {
            if (this.#broadcasts.get(path) === b) this.#broadcasts.delete(path);
          });
          context.origin.publish(b);
          context.log.info('broadcast announced', { session: this.label, path });
        } else if (existing) {
          existing.close();
          context.log.info('broadcast ended', { session: this.label, path });
        }
      }
      writer.close();
    } catch (err) {
      writer.reset(streamCodeOf(err) ?? StreamCode.INTERNAL);
      reader.cancel();
      if (err instanceof SessionError) this.#o.fail(err);
      else if (!this.#closed) context.log.debug('announce stream ended', { session: this.label, error: err });
    }
  }

  /** {@link BroadcastSource}: subscribes to `path`'s `track` at the peer. */
  async subscribe(path: string, track: Track, priority: number): Promise<TrackFeed> {
    const { transport, grant, context } = this.#o;
    if (this.#closed) throw new StreamError(StreamCode.SESSION_CLOSED, 'session closed');
    const relative = stripPrefix(grant.root, path);
    if (relative === undefined) throw new StreamError(StreamCode.NOT_FOUND, `${path} is outside ${this.label}`);
    const id = this.#nextId++;
    const lite05 = isLite05OrLater(this.#o.version);
    // lite-05+: the track's properties (timescale above all) come first, from a TRACK stream.
    if (lite05) track.setProperties(await this.#trackInfo(relative, track.name));
    const stream = await transport.createBidirectionalStream();
    const writer = new StreamWriter(stream.writable);
    const reader = new StreamReader(stream.readable);
    this.#subs.set(id, { track, writer });
    context.stats.upstreamSubscriptions++;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      this.#subs.delete(id);
      context.stats.upstreamSubscriptions--;
      track.close(err);
    };
    try {
      await writer.write(encodeStreamType(ControlStream.SUBSCRIBE));
      await writer.write(encodeSubscribe({ id, broadcast: relative, track: track.name, priority, ordered: false, maxLatency: 0 }));
      // lite-03/04 answer SUBSCRIBE_OK first; lite-05+ accept implicitly.
      if (!lite05) await this.#awaitSubscribeOk(reader);
    } catch (err) {
      const e = toStreamError(err);
      writer.reset(StreamCode.CANCELLED);
      reader.cancel();
      finish(e);
      if (err instanceof SessionError) this.#o.fail(err);
      throw e;
    }
    // Drops, START/END (lite-05+) and the publisher's FIN keep arriving on this stream until the track ends.
    void (async () => {
      try {
        while (!(await reader.done())) {
          const type = await reader.varint();
          const body = await reader.message(context.limits.maxMessageBytes);
          if (lite05 && (type === SubscribeResponse05.START || type === SubscribeResponse05.END)) decodeSubscribeBound(body);
          else if (type === (lite05 ? SubscribeResponse05.DROP : SubscribeResponse.DROP)) decodeSubscribeDrop(body);
          else throw new ProtocolViolation(`unexpected subscribe response ${type}`);
        }
        finish();
      } catch (err) {
        finish(toStreamError(err));
      }
    })();
    return {
      close: () => {
        writer.close();
        reader.cancel();
        finish();
      },
    };
  }

  /** Reads SUBSCRIBE_OK (skipping drops) within the request timeout (lite-03/04). */
  async #awaitSubscribeOk(reader: StreamReader): Promise<void> {
    const { context } = this.#o;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StreamError(StreamCode.DELIVERY_TIMEOUT, 'no SUBSCRIBE_OK in time')), context.limits.requestTimeoutMs);
    });
    try {
      for (;;) {
        const type = await Promise.race([reader.varint(), timeout]);
        const body = await reader.message(context.limits.maxMessageBytes);
        if (type === SubscribeResponse.OK) {
          decodeSubscribeOk(body);
          return;
        }
        if (type === SubscribeResponse.DROP) {
          decodeSubscribeDrop(body);
          continue;
        }
        throw new ProtocolViolation(`unknown subscribe response ${type}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the peer for a track's properties on a TRACK stream (lite-05+), within the request timeout. */
  async #trackInfo(broadcast: string, name: string): Promise<TrackProperties> {
    const { transport, context } = this.#o;
    const stream = await transport.createBidirectionalStream();
    const writer = new StreamWriter(stream.writable);
    const reader = new StreamReader(stream.readable);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StreamError(StreamCode.DELIVERY_TIMEOUT, 'no TRACK_INFO in time')), context.limits.requestTimeoutMs);
    });
    try {
      await writer.write(encodeStreamType(ControlStream.TRACK));
      await writer.write(encodeTrackRequest({ broadcast, track: name }));
      const info = decodeTrackInfo(await Promise.race([reader.message(context.limits.maxMessageBytes), timeout]));
      writer.close();
      return info;
    } catch (err) {
      writer.reset(StreamCode.CANCELLED);
      reader.cancel();
      if (err instanceof SessionError) this.#o.fail(err);
      throw toStreamError(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads one GROUP stream (type varint already read) into its subscription's track. */
  async runGroup(reader: StreamReader): Promise<void> {
    const { context } = this.#o;
    const header = decodeGroupHeader(await reader.message(context.limits.maxMessageBytes));
    const sub = this.#subs.get(header.subscribe);
    if (!sub) {
      if (header.subscribe >= this.#nextId) throw new ProtocolViolation(`group for unknown subscription ${header.subscribe}`);
      reader.cancel(new StreamError(StreamCode.CANCELLED, 'unsubscribed'));
      return;
    }
    if (sub.track.closed) {
      reader.cancel(new StreamError(StreamCode.CANCELLED, 'unsubscribed'));
      return;
    }
    const group = sub.track.appendGroup(header.sequence);
    const timestamps = isLite05OrLater(this.#o.version);
    let timestamp = 0n;
    try {
      while (!(await reader.done())) {
        if (timestamps) {
          timestamp += unzigzag(await reader.varintBig());
          if (timestamp < 0n || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolViolation(`frame timestamp ${timestamp} out of range`);
        }
        const size = await reader.varint();
        if (size > context.limits.maxFrameBytes) {
          const err = new StreamError(StreamCode.FRAME_TOO_LARGE, `frame of ${size} bytes exceeds ${context.limits.maxFrameBytes}`);
          reader.cancel(err);
          group.abort(err);
          context.stats.framesRejected++;
          return;
        }
        const payload = await reader.bytes(size);
        if (timestamps) group.write(payload, Number(timestamp));
        else group.write(payload);
        context.stats.framesIn++;
        if (group.closed) {
          reader.cancel(group.error);
          return;
        }
      }
      group.finish();
    } catch (err) {
      group.abort(toStreamError(err));
      if (err instanceof ProtocolViolation) throw err;
    }
  }

  /** Ends every announced broadcast and upstream subscription. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const b of [...this.#broadcasts.values()]) b.close();
    this.#broadcasts.clear();
    for (const s of [...this.#subs.values()]) {
      s.writer.reset(StreamCode.SESSION_CLOSED);
      s.track.close(new StreamError(StreamCode.SESSION_CLOSED, 'upstream session closed'));
    }
    this.#subs.clear();
  }
}

function toStreamError(err: unknown): StreamError {
  if (err instanceof StreamError) return err;
  const code = streamCodeOf(err);
  const e = asError(err);
  return new StreamError(code ?? StreamCode.INTERNAL, e.message, { cause: err });
}
