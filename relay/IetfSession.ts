/**
 * One IETF moq-transport session (draft-16 chosen by ALPN, or draft-14 chosen inside a pre-ALPN
 * CLIENT_SETUP, see {@link negotiatePreAlpnSetup}) with a subscriber: the CLIENT_SETUP /
 * SERVER_SETUP exchange on the first bidirectional stream (which stays the control stream), SUBSCRIBE
 * answered with SUBSCRIBE_OK or REQUEST_ERROR, each group of the relay's track sent as one
 * subgroup stream (one object per frame), PUBLISH_DONE when the track ends, UNSUBSCRIBE, and
 * MAX_REQUEST_ID as requests finish. Publishing over moq-transport (PUBLISH_NAMESPACE, PUBLISH),
 * namespace discovery, TRACK_STATUS and FETCH are refused with REQUEST_ERROR NOT_SUPPORTED
 * (draft-14: the matching per-request error message).
 */
import { DownstreamSubscription } from './DownstreamSubscription';
import { asError, ProtocolViolation, SessionCode, SessionError, StreamCode, streamCodeOf } from './errors';
import type { TrackLease } from './model/Broadcast';
import { hasPrefix, joinPath } from './Path';
import type { SessionContext, SessionGrant } from './SessionContext';
import type { SessionCloseInfo } from './Session';
import type { MoqTransport } from './transport/MoqTransport';
import {
  decodeClientSetup,
  decodeIetfSubscribe,
  encodeIetfSubscribeOk,
  encodeMaxRequestId,
  encodeObjectHeader,
  encodePublishDone,
  encodeRequestError,
  encodeServerSetup,
  encodeSubgroupHeader,
  encodeDraft14Error,
  Draft14Error,
  IETF_DRAFT_14,
  TRACK_DOES_NOT_EXIST_14,
  type IetfDraft,
  type ClientSetup,
  IetfMessage,
  IetfSessionCode,
  PublishDoneCode,
  readControl,
  RequestErrorCode,
  requestIdOf,
  type IetfSubscribe,
} from './wire/ietf';
import { StreamReader } from './wire/StreamReader';
import { StreamWriter } from './wire/StreamWriter';

/** Options of {@link IetfSession}. */
export interface IetfSessionOptions {
  id: number;
  transport: MoqTransport;
  /** The draft: 16 (ALPN `moqt-16`, set up here) or 14 (set up by {@link negotiatePreAlpnSetup}). */
  draft: IetfDraft;
  /** draft-14: the control stream whose CLIENT_SETUP was already read. */
  control?: { reader: StreamReader; writer: StreamWriter };
  grant: SessionGrant;
  context: SessionContext;
  /** Transport kind for logs and stats. */
  kind: string;
}

/** The publisher priority on every subgroup header (the draft's default, neither high nor low). */
const PUBLISHER_PRIORITY = 128;

/** Requests that may be outstanding at once, granted through MAX_REQUEST_ID. */
const REQUEST_WINDOW = 64n;

/** A running moq-transport session (this relay is the publisher). */
export class IetfSession {
  readonly id: number;
  /** The negotiated version, for stats and logs ('moqt-16', 'moq-transport-14'). */
  readonly versionName: string;
  readonly draft: IetfDraft;
  readonly role = 'server' as const;
  readonly grant: SessionGrant;
  readonly label: string;
  readonly kind: string;
  readonly #o: IetfSessionOptions;
  readonly #closed: Promise<SessionCloseInfo>;
  #resolveClosed!: (info: SessionCloseInfo) => void;
  #ended = false;
  #control: StreamWriter | undefined;
  /** Control messages go out in order. */
  #sending: Promise<void> = Promise.resolve();
  /** The next request id the client must use (client ids are even, in order). */
  #nextRequestId = 0n;
  #maxRequestId = REQUEST_WINDOW * 2n;
  #nextAlias = 0n;
  readonly #subscriptions = new Map<bigint, { sub: DownstreamSubscription; lease: TrackLease; unsubscribe: () => void }>();

  constructor(options: IetfSessionOptions) {
    this.#o = options;
    this.id = options.id;
    this.draft = options.draft;
    this.versionName = options.draft === 16 ? 'moqt-16' : 'moq-transport-14';
    this.grant = options.grant;
    this.kind = options.kind;
    this.label = `${options.kind}#${options.id}(${options.grant.identity})`;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Resolves once the session ended. */
  get closed(): Promise<SessionCloseInfo> {
    return this.#closed;
  }

  /** Subscriptions currently served. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** Starts: waits for the control stream and serves it. */
  start(): void {
    const { transport, context } = this.#o;
    context.log.info('session open', { session: this.label, version: this.versionName, role: this.role, root: this.grant.root });
    transport.closed.then(
      () => this.#end({ code: SessionCode.NO_ERROR, reason: 'closed' }),
      (err: unknown) => this.#end({ code: SessionCode.INTERNAL, reason: asError(err).message }),
    );
    void this.#run();
  }

  /** Ends the session with a code. Idempotent. */
  close(code: number = SessionCode.NO_ERROR, reason = ''): void {
    if (this.#ended) return;
    try {
      this.#o.transport.close({ closeCode: code, reason: reason.slice(0, 512) });
    } catch {
      // Already gone.
    }
    this.#end({ code, reason });
  }

  #fail(err: SessionError): void {
    if (this.#ended) return;
    if (err.code === SessionCode.PROTOCOL_VIOLATION) this.#o.context.stats.protocolViolations++;
    this.#o.context.log.warn('closing session', { session: this.label, code: err.code, reason: err.message });
    this.close(err.code, err.message);
  }

  #end(info: SessionCloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const s of [...this.#subscriptions.values()]) s.unsubscribe();
    this.#o.context.log.info('session closed', { session: this.label, code: info.code, reason: info.reason });
    this.#resolveClosed(info);
  }

  async #run(): Promise<void> {
    const { transport, context } = this.#o;
    const bidis = transport.incomingBidirectionalStreams.getReader();
    try {
      let reader: StreamReader;
      if (this.#o.control) {
        reader = this.#o.control.reader;
        this.#control = this.#o.control.writer;
      } else {
        const first = await Promise.race([
          bidis.read(),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), context.limits.requestTimeoutMs).unref?.()),
        ]);
        if (!first || first.done) throw new SessionError(SessionCode.TIMEOUT, 'no CLIENT_SETUP in time');
        reader = new StreamReader(first.value.readable);
        this.#control = new StreamWriter(first.value.writable);
        const setup = await readControl(reader, context.limits.maxMessageBytes);
        if (setup?.type !== IetfMessage.CLIENT_SETUP)
          throw new ProtocolViolation(`expected CLIENT_SETUP, got ${setup ? `type 0x${setup.type.toString(16)}` : 'end of stream'}`);
        decodeClientSetup(setup.body, this.draft);
      }
      this.#send(encodeServerSetup(this.#maxRequestId, this.draft));
      void this.#refuseBidis(bidis);
      void this.#refuseUnis();
      for (;;) {
        const m = await readControl(reader, context.limits.maxMessageBytes);
        if (!m) throw new ProtocolViolation('control stream ended');
        if (this.#ended) return;
        this.#dispatch(m.type, m.body);
      }
    } catch (err) {
      if (err instanceof SessionError) this.#fail(err);
      else if (!this.#ended) this.close(SessionCode.INTERNAL, asError(err).message);
    }
  }

  /** Refuses request `id` with `code` (draft-16 REQUEST_ERROR; draft-14 the error message of the request's kind). */
  #refuse(kind: number, id: bigint, code: number, reason: string): void {
    if (this.draft === 16) this.#send(encodeRequestError(id, code, reason));
    else {
      const type =
        kind === IetfMessage.PUBLISH_NAMESPACE
          ? Draft14Error.PUBLISH_NAMESPACE_ERROR
          : kind === IetfMessage.SUBSCRIBE_NAMESPACE
            ? Draft14Error.SUBSCRIBE_NAMESPACE_ERROR
            : kind === IetfMessage.FETCH
              ? Draft14Error.FETCH_ERROR
              : kind === IetfMessage.PUBLISH
                ? Draft14Error.PUBLISH_ERROR
                : Draft14Error.SUBSCRIBE_ERROR;
      this.#send(encodeDraft14Error(type, id, code === RequestErrorCode.DOES_NOT_EXIST ? TRACK_DOES_NOT_EXIST_14 : code, reason));
    }
    this.#requestDone();
  }

  #send(bytes: Uint8Array): void {
    const control = this.#control;
    if (!control) return;
    this.#sending = this.#sending.then(() => control.write(bytes)).catch(() => undefined);
  }

  /** Checks a new request's id (the next even id, within MAX_REQUEST_ID); a wrong one ends the session. */
  #takeRequestId(id: bigint): void {
    if (id !== this.#nextRequestId) throw new SessionError(IetfSessionCode.INVALID_REQUEST_ID, `request id ${id}, expected ${this.#nextRequestId}`);
    if (id >= this.#maxRequestId) throw new SessionError(IetfSessionCode.TOO_MANY_REQUESTS, `request id ${id} at or past MAX_REQUEST_ID ${this.#maxRequestId}`);
    this.#nextRequestId += 2n;
  }

  /** A request finished: its id's slot is granted again. */
  #requestDone(): void {
    this.#maxRequestId += 2n;
    this.#send(encodeMaxRequestId(this.#maxRequestId));
  }

  #dispatch(type: number, body: import('./wire/BufferReader').BufferReader): void {
    switch (type) {
      case IetfMessage.SUBSCRIBE: {
        const msg = decodeIetfSubscribe(body, this.draft);
        this.#takeRequestId(msg.requestId);
        void this.#subscribe(msg);
        return;
      }
      case IetfMessage.UNSUBSCRIBE: {
        const id = requestIdOf(body);
        body.end();
        this.#subscriptions.get(id)?.unsubscribe();
        return;
      }
      case IetfMessage.SUBSCRIBE_UPDATE:
      case IetfMessage.MAX_REQUEST_ID:
      case IetfMessage.PUBLISH_NAMESPACE_DONE:
      case IetfMessage.PUBLISH_NAMESPACE_CANCEL:
      case IetfMessage.FETCH_CANCEL:
      case IetfMessage.GOAWAY:
        // Nothing of ours to change: updates keep the subscription as it is, and this relay never makes requests.
        return;
      case IetfMessage.REQUESTS_BLOCKED:
        this.#requestDone();
        return;
      case IetfMessage.PUBLISH_NAMESPACE:
      case IetfMessage.PUBLISH:
      case IetfMessage.TRACK_STATUS:
      case IetfMessage.FETCH: {
        const id = requestIdOf(body);
        this.#takeRequestId(id);
        this.#send(
          encodeRequestError(id, RequestErrorCode.NOT_SUPPORTED, `message type 0x${type.toString(16)} is not supported by this relay over moq-transport`),
        );
        this.#requestDone();
        return;
      }
      default:
        break;
    }
    throw new ProtocolViolation(`unexpected control message type 0x${type.toString(16)} for ${this.versionName}`);
  }

  async #subscribe(msg: IetfSubscribe): Promise<void> {
    const { context, transport, grant } = this.#o;
    const refuse = (code: number, reason: string) => this.#refuse(IetfMessage.SUBSCRIBE, msg.requestId, code, reason);
    if (msg.namespace.some((p) => p === '' || p.includes('/')))
      return refuse(RequestErrorCode.DOES_NOT_EXIST, 'namespace fields must be non-empty and free of "/"');
    const path = joinPath(grant.root, msg.namespace.join('/'));
    if (!grant.canSubscribe || !hasPrefix(grant.prefix, path)) return refuse(RequestErrorCode.UNAUTHORIZED, 'not allowed to subscribe here');
    if (this.#subscriptions.size >= context.limits.maxSubscriptions) return refuse(RequestErrorCode.INTERNAL_ERROR, 'too many subscriptions');
    const broadcast = await context.resolve(path);
    if (!broadcast) return refuse(RequestErrorCode.DOES_NOT_EXIST, `broadcast ${path} not found`);
    let lease: TrackLease;
    try {
      lease = await broadcast.acquire(msg.track, msg.priority);
    } catch (err) {
      return refuse(streamCodeOf(err) === StreamCode.NOT_FOUND ? RequestErrorCode.DOES_NOT_EXIST : RequestErrorCode.INTERNAL_ERROR, asError(err).message);
    }
    if (this.#ended) {
      lease.release();
      return;
    }
    const { track } = lease;
    const alias = this.#nextAlias++;
    const sub = new DownstreamSubscription({
      transport,
      id: alias,
      track,
      // moq-transport: a lower subscriber priority is more important; the relay's send order wants the opposite.
      priority: 255 - msg.priority,
      staleGroupMs: context.limits.staleGroupMs,
      stats: context.stats,
      log: context.log,
      framing: {
        header: (sequence) => encodeSubgroupHeader(alias, sequence, PUBLISHER_PRIORITY),
        frameHeader: (_index, _ts, _previous, size) => encodeObjectHeader(size),
      },
    });
    let done = false;
    const finish = (status?: { code: number; reason: string }) => {
      if (done) return;
      done = true;
      track.off('closed', onClosed);
      sub.close(StreamCode.CANCELLED);
      this.#subscriptions.delete(msg.requestId);
      context.stats.subscriptions--;
      lease.release();
      if (status) this.#send(encodePublishDone(msg.requestId, status.code, status.reason));
      if (!this.#ended) this.#requestDone();
    };
    const onClosed = () => {
      void sub
        .drain()
        .then(() =>
          finish(
            track.error ? { code: PublishDoneCode.INTERNAL_ERROR, reason: track.error.message } : { code: PublishDoneCode.TRACK_ENDED, reason: 'track ended' },
          ),
        );
    };
    this.#subscriptions.set(msg.requestId, { sub, lease, unsubscribe: () => finish() });
    context.stats.subscriptions++;
    this.#send(encodeIetfSubscribeOk(msg.requestId, alias, this.draft));
    track.once('closed', onClosed);
    sub.start();
    if (track.closed) onClosed();
  }

  /** Bidirectional streams after the control stream (draft-16 SUBSCRIBE_NAMESPACE): refused with NOT_SUPPORTED. */
  async #refuseBidis(bidis: ReadableStreamDefaultReader<import('./transport/MoqTransport').MoqBidiStream>): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await bidis.read();
        if (done || this.#ended) break;
        const reader = new StreamReader(value.readable);
        const writer = new StreamWriter(value.writable);
        void readControl(reader, this.#o.context.limits.maxMessageBytes).then(
          async (m) => {
            const id = m ? requestIdOf(m.body) : 0n;
            await writer.write(
              encodeRequestError(id, RequestErrorCode.NOT_SUPPORTED, 'namespace subscriptions are not supported by this relay over moq-transport'),
            );
            writer.close();
            reader.cancel();
          },
          () => {
            writer.reset(StreamCode.INTERNAL);
            reader.cancel();
          },
        );
      }
    } catch {
      // The session ended.
    } finally {
      bidis.releaseLock();
    }
  }

  /** This relay subscribes to nothing over moq-transport, so a data stream from the peer breaks the protocol. */
  async #refuseUnis(): Promise<void> {
    const unis = this.#o.transport.incomingUnidirectionalStreams.getReader();
    try {
      const { done } = await unis.read();
      if (!done && !this.#ended) this.#fail(new ProtocolViolation('data stream without a subscription'));
    } catch {
      // The session ended.
    } finally {
      unis.releaseLock();
    }
  }
}

/** What a pre-ALPN CLIENT_SETUP settled: draft-14 on its control stream. */
export interface PreAlpnSetup {
  control: { reader: StreamReader; writer: StreamWriter };
  setup: ClientSetup;
}

/**
 * Reads the CLIENT_SETUP of a session that negotiated no version by ALPN (bare QMux, WebTransport
 * without a protocol, or `moql`). It lists versions (moq-lite-01/02, moq-transport-14 …): with
 * draft-14 among them, resolves with the control stream for an {@link IetfSession}; otherwise
 * (or when no CLIENT_SETUP arrives within `timeoutMs`) the session is closed with
 * VERSION_NEGOTIATION_FAILED (PROTOCOL_VIOLATION for a malformed one) naming what the relay
 * speaks, and this resolves with that reason.
 */
export async function negotiatePreAlpnSetup(
  transport: MoqTransport,
  timeoutMs: number,
  maxBytes: number,
  spoken: readonly string[],
): Promise<PreAlpnSetup | string> {
  const bidis = transport.incomingBidirectionalStreams.getReader();
  let offered = 'nothing';
  let code: number = SessionCode.VERSION_NEGOTIATION_FAILED;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const first = await Promise.race([bidis.read(), deadline]);
    if (first && !first.done) {
      const reader = new StreamReader(first.value.readable);
      const writer = new StreamWriter(first.value.writable);
      const m = await Promise.race([readControl(reader, maxBytes).catch(() => undefined), deadline]);
      if (!m) offered = 'no complete CLIENT_SETUP in time';
      if (m?.type === IetfMessage.CLIENT_SETUP) {
        try {
          const setup = decodeClientSetup(m.body, 14);
          if (setup.versions.includes(IETF_DRAFT_14)) return { control: { reader, writer }, setup };
          offered = `a pre-ALPN SETUP listing ${setup.versions.map((v) => `0x${v.toString(16)}`).join(', ') || 'no version'}`;
        } catch (err) {
          code = SessionCode.PROTOCOL_VIOLATION;
          offered = `a malformed pre-ALPN SETUP (${asError(err).message})`;
        }
      } else if (m) {
        offered = `control message 0x${m.type.toString(16)}`;
      }
    }
  } catch {
    // Closed under us.
  } finally {
    clearTimeout(timer);
    bidis.releaseLock();
  }
  const reason = `no supported version: peer offered ${offered}; this relay speaks ${spoken.join(', ')} and moq-transport-14 in a pre-ALPN SETUP`;
  try {
    transport.close({ closeCode: code, reason: reason.slice(0, 512) });
  } catch {
    // Already closed.
  }
  return reason;
}
