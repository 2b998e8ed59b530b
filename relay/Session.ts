/**
 * One moq-lite session over a WebTransport-shaped transport, in either role: the relay
 * accepting a client (server) or the relay dialling an upstream relay (client). It dispatches
 * the peer's streams to its {@link Publisher} (what we serve) and {@link Subscriber} (what we
 * asked for), and closes with the registry's code when the peer breaks the protocol; other
 * sessions are unaffected.
 */
import { Publisher } from './Publisher';
import { Subscriber } from './Subscriber';
import { asError, ProtocolViolation, SessionCode, SessionError, StreamCode, streamCodeOf } from './errors';
import type { SessionContext, SessionGrant } from './SessionContext';
import type { MoqTransport } from './transport/MoqTransport';
import { StreamReader } from './wire/StreamReader';
import { StreamWriter } from './wire/StreamWriter';
import { decodeSetup, encodeSetup, type Setup } from './wire/lite05';
import { ControlStream, DataStream, encodeStreamType, isLite05OrLater, versionName, type Version } from './wire/messages';

/** Options of {@link Session}. */
export interface SessionOptions {
  id: number;
  transport: MoqTransport;
  version: Version;
  role: 'server' | 'client';
  grant: SessionGrant;
  context: SessionContext;
  /** Transport kind for logs. */
  kind: string;
}

/** How a session ended. */
export interface SessionCloseInfo {
  code: number;
  reason: string;
}

/** A running session. */
export class Session {
  readonly id: number;
  readonly version: Version;
  readonly role: 'server' | 'client';
  readonly grant: SessionGrant;
  readonly label: string;
  /** The transport kind ('websocket', 'webtransport-h3', 'webtransport-h2', 'upstream-h3', 'upstream-websocket'). */
  readonly kind: string;
  readonly publisher: Publisher;
  readonly subscriber: Subscriber;
  readonly #o: SessionOptions;
  readonly #closed: Promise<SessionCloseInfo>;
  #resolveClosed!: (info: SessionCloseInfo) => void;
  #ended = false;
  #peerSetup: Setup | undefined;
  #setupStreams = 0;

  constructor(options: SessionOptions) {
    this.#o = options;
    this.id = options.id;
    this.version = options.version;
    this.role = options.role;
    this.grant = options.grant;
    this.kind = options.kind;
    this.label = `${options.kind}#${options.id}(${options.grant.identity})`;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const fail = (err: SessionError) => this.fail(err);
    this.subscriber = new Subscriber({
      transport: options.transport,
      version: options.version,
      grant: options.grant,
      context: options.context,
      label: this.label,
      fail,
    });
    this.publisher = new Publisher({
      transport: options.transport,
      version: options.version,
      grant: options.grant,
      context: options.context,
      label: this.label,
      isOwn: (b) => this.subscriber.owns(b),
      peerOrigin: () => this.#peerSetup?.origin ?? 0n,
    });
  }

  /** The peer's SETUP (lite-05+), once it arrived. */
  get peerSetup(): Setup | undefined {
    return this.#peerSetup;
  }

  /** Resolves once the session ended, with the close code and reason. */
  get closed(): Promise<SessionCloseInfo> {
    return this.#closed;
  }

  /** Starts serving; the peer's broadcasts are requested when it may publish. */
  start(): void {
    const { transport, context } = this.#o;
    context.log.info('session open', { session: this.label, version: versionName(this.version), role: this.role, root: this.grant.root });
    transport.closed.then(
      (info) => this.#end(closeInfoOf(info) ?? { code: SessionCode.NO_ERROR, reason: 'closed' }),
      (err: unknown) => this.#end({ code: closeInfoOf(err)?.code ?? SessionCode.INTERNAL, reason: asError(err).message }),
    );
    void this.#acceptBidis();
    void this.#acceptUnis();
    if (isLite05OrLater(this.version)) void this.#sendSetup();
    if (this.role === 'server' && this.grant.canPublish) void this.subscriber.runAnnounces();
  }

  /** Ends the session with a session code. Idempotent. */
  close(code: number = SessionCode.NO_ERROR, reason = ''): void {
    if (this.#ended) return;
    try {
      this.#o.transport.close({ closeCode: code, reason: reason.slice(0, 512) });
    } catch {
      // The transport may already be gone.
    }
    this.#end({ code, reason });
  }

  /** Ends the session because of `err` (logged with its code). */
  fail(err: SessionError): void {
    if (this.#ended) return;
    const { context } = this.#o;
    if (err.code === SessionCode.PROTOCOL_VIOLATION) context.stats.protocolViolations++;
    context.log.warn('closing session', { session: this.label, code: err.code, reason: err.message });
    this.close(err.code, err.message);
  }

  #end(info: SessionCloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    this.publisher.close();
    this.subscriber.close();
    this.#o.context.log.info('session closed', { session: this.label, code: info.code, reason: info.reason });
    this.#resolveClosed(info);
  }

  /** lite-05+: our SETUP, the only message on a unidirectional stream: this relay's origin id. */
  async #sendSetup(): Promise<void> {
    try {
      const writer = new StreamWriter(await this.#o.transport.createUnidirectionalStream());
      await writer.write(encodeStreamType(DataStream.SETUP));
      await writer.write(encodeSetup(this.#o.context.originId));
      writer.close();
    } catch (err) {
      this.#o.context.log.debug('cannot send SETUP', { session: this.label, error: err });
    }
  }

  /** lite-05+: reads the peer's SETUP; a second one, or one on an older version, is a violation. */
  async #readSetup(reader: StreamReader): Promise<void> {
    if (!isLite05OrLater(this.version)) throw new ProtocolViolation(`SETUP stream on ${versionName(this.version)}`);
    if (++this.#setupStreams > 1) throw new ProtocolViolation('second SETUP stream');
    const setup = decodeSetup(await reader.message(this.#o.context.limits.maxMessageBytes));
    this.#peerSetup = setup;
    if (!(await reader.done())) throw new ProtocolViolation('data after SETUP');
  }

  async #acceptBidis(): Promise<void> {
    const reader = this.#o.transport.incomingBidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#ended) break;
        void this.#handleBidi(new StreamReader(value.readable), new StreamWriter(value.writable));
      }
    } catch {
      // The session ended.
    } finally {
      reader.releaseLock();
    }
  }

  async #acceptUnis(): Promise<void> {
    const reader = this.#o.transport.incomingUnidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#ended) break;
        void this.#handleUni(new StreamReader(value));
      }
    } catch {
      // The session ended.
    } finally {
      reader.releaseLock();
    }
  }

  async #handleBidi(reader: StreamReader, writer: StreamWriter): Promise<void> {
    try {
      const type = await reader.varint();
      switch (type) {
        case ControlStream.ANNOUNCE:
          await this.publisher.runAnnounce(reader, writer);
          return;
        case ControlStream.SUBSCRIBE:
          await this.publisher.runSubscribe(reader, writer);
          return;
        case ControlStream.TRACK:
          if (!isLite05OrLater(this.version)) break;
          await this.publisher.runTrackInfo(reader, writer);
          return;
        case ControlStream.FETCH:
          if (!isLite05OrLater(this.version)) break;
          await this.publisher.runFetch(reader, writer);
          return;
        case ControlStream.PROBE:
          // We cannot measure bitrate over these transports: decline the probe stream.
          writer.close();
          reader.cancel();
          return;
        case ControlStream.GOAWAY:
          writer.close();
          reader.cancel();
          return;
        default:
          break;
      }
      throw new ProtocolViolation(`unexpected control stream type ${type} for ${versionName(this.version)}`);
    } catch (err) {
      if (err instanceof SessionError) {
        this.fail(err);
        return;
      }
      writer.reset(streamCodeOf(err) ?? StreamCode.INTERNAL, asError(err).message);
      reader.cancel();
    }
  }

  async #handleUni(reader: StreamReader): Promise<void> {
    try {
      const type = await reader.varint();
      if (type === DataStream.SETUP) {
        await this.#readSetup(reader);
        return;
      }
      if (type !== DataStream.GROUP) throw new ProtocolViolation(`unexpected data stream type ${type} for ${versionName(this.version)}`);
      await this.subscriber.runGroup(reader);
    } catch (err) {
      if (err instanceof SessionError) {
        this.fail(err);
        return;
      }
      reader.cancel();
    }
  }
}

/** Reads a close code/reason from a WebTransportCloseInfo or a session error. */
function closeInfoOf(v: unknown): SessionCloseInfo | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { closeCode?: unknown; reason?: unknown; code?: unknown };
  const code = typeof o.closeCode === 'number' ? o.closeCode : undefined;
  if (code === undefined) return undefined;
  return { code, reason: typeof o.reason === 'string' ? o.reason : '' };
}
