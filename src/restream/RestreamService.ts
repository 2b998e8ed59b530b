/**
 * The node's RTMP pushes: starts a push of a stream (packaging it through the LL-HLS ladder and
 * keeping that packaging alive while pushed), lists and stops them, stops them when their stream
 * ends, and reports each start, failure and stop as a webhook and in metrics.
 */
import crypto from 'node:crypto';
import client from 'prom-client';
import type { Logger } from '../core/logger';
import { BadRequestError, InvalidStateError, NotFoundError, UnavailableError } from '../core/errors';
import { HlsCapacityError, type HlsService } from '../hls/HlsService';
import type { HlsStream } from '../hls/HlsStream';
import type { WebhookEmitter } from '../webhooks/events';
import type { RestreamConfig } from './restreamConfig';
import { RestreamPush, type RestreamView } from './RestreamPush';

/** Options of {@link RestreamService}. */
export interface RestreamServiceOptions {
  /** The LL-HLS packaging the pushes read (undefined when `hls.enabled` is false: pushes are refused). */
  hls: HlsService | undefined;
  config: RestreamConfig;
  webhooks: WebhookEmitter;
  registry: client.Registry;
  log: Logger;
  ffmpegPath?: string;
}

const SCHEMES = new Set(['rtmp:', 'rtmps:']);

/** Checks a destination: rtmp:// or rtmps:// with a host, at most 2048 characters, no whitespace. @throws BadRequestError */
export function validateDestination(url: string): void {
  if (url.length > 2048 || /\s/.test(url)) throw new BadRequestError('url must be an rtmp:// or rtmps:// URL without whitespace, at most 2048 characters');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BadRequestError('url is not a valid URL');
  }
  if (!SCHEMES.has(u.protocol)) throw new BadRequestError(`url must use rtmp:// or rtmps://, not ${u.protocol}//`);
  if (!u.hostname) throw new BadRequestError('url has no host');
  if (u.pathname.split('/').filter(Boolean).length === 0) throw new BadRequestError('url has no application path (rtmp://host/app/key)');
}

/** Every push of this node. */
export class RestreamService {
  readonly #hls: HlsService | undefined;
  readonly #config: RestreamConfig;
  readonly #webhooks: WebhookEmitter;
  readonly #log: Logger;
  readonly #ffmpegPath: string | undefined;
  readonly #pushes = new Map<string, RestreamPush>();
  /** Streams pinned by pushes, and whether they were pinned before (eager mode, recording). */
  readonly #pins = new Map<HlsStream, { wasPinned: boolean; offEnded: () => void }>();
  readonly #counters: { started: client.Counter<'video'>; failed: client.Counter; stopped: client.Counter<'reason'> };
  #closed = false;

  constructor(o: RestreamServiceOptions) {
    this.#hls = o.hls;
    this.#config = o.config;
    this.#webhooks = o.webhooks;
    this.#log = o.log;
    this.#ffmpegPath = o.ffmpegPath;
    const pushes = this.#pushes;
    new client.Gauge({
      name: 'subsec_restream_pushes',
      help: 'RTMP pushes by state',
      labelNames: ['state'],
      registers: [o.registry],
      collect() {
        this.reset();
        for (const state of ['connecting', 'live', 'reconnecting'] as const) this.set({ state }, [...pushes.values()].filter((p) => p.state === state).length);
      },
    });
    new client.Counter({
      name: 'subsec_restream_sent_bytes_total',
      help: 'FLV bytes sent to RTMP destinations (live pushes, sampled at collection)',
      registers: [o.registry],
      collect() {
        this.reset();
        this.inc([...pushes.values()].reduce((n, p) => n + p.bytesSent, 0));
      },
    });
    this.#counters = {
      started: new client.Counter({
        name: 'subsec_restream_connections_total',
        help: 'RTMP push connections that started sending, by video mode (copy, ladder)',
        labelNames: ['video'],
        registers: [o.registry],
      }),
      failed: new client.Counter({ name: 'subsec_restream_failures_total', help: 'RTMP push connections that failed or dropped', registers: [o.registry] }),
      stopped: new client.Counter({
        name: 'subsec_restream_stopped_total',
        help: 'RTMP pushes ended, by reason',
        labelNames: ['reason'],
        registers: [o.registry],
      }),
    };
  }

  /** Starts pushing `room`/`identity` to `url`. @throws BadRequestError, NotFoundError, InvalidStateError (limits), UnavailableError */
  async start(room: string, identity: string, url: string): Promise<RestreamView> {
    if (this.#closed) throw new UnavailableError('the node is shutting down');
    if (!this.#config.enabled) throw new InvalidStateError('restreaming is disabled on this node (restream.enabled: false)');
    if (!this.#hls) throw new InvalidStateError('restreaming needs hls.enabled: the push reads the LL-HLS ladder');
    validateDestination(url);
    const active = [...this.#pushes.values()].filter((p) => !p.stopped);
    if (active.length >= this.#config.maxTotal) throw new InvalidStateError(`this node already pushes ${active.length} destinations (restream.maxTotal)`);
    const mine = active.filter((p) => p.stream.room.name === room && p.stream.identity === identity);
    if (mine.length >= this.#config.maxPerStream)
      throw new InvalidStateError(`stream ${identity} is already pushed to ${mine.length} destinations (restream.maxPerStream)`);
    const before = this.#hls.get(room, identity);
    const wasPinned = before && !before.ended && !before.disposed ? before.pinned || this.#pins.has(before) : this.#hls.config.mode === 'eager';
    let stream: HlsStream;
    try {
      stream = await this.#hls.acquire(room, identity, { pin: true });
    } catch (err) {
      if (err instanceof HlsCapacityError) throw new UnavailableError(err.message);
      throw err;
    }
    if (!(await stream.waitStarted(this.#hls.config.startupTimeoutMs))) throw new UnavailableError('the stream did not start packaging in time');
    if (stream.ended) throw new NotFoundError(`stream ${identity} ended`);
    this.#pin(stream, wasPinned && !this.#pins.has(stream));
    const push = new RestreamPush({
      id: crypto.randomUUID(),
      stream,
      url,
      config: this.#config,
      log: this.#log,
      ffmpegPath: this.#ffmpegPath,
      events: {
        started: (p, attempt) => {
          this.#counters.started.inc({ video: p.view().video ?? 'copy' });
          this.#webhooks.emit({ type: 'restream.started', room, data: { ...this.#eventData(p), attempt } });
        },
        failed: (p, error, attempt, retryInMs) => {
          this.#counters.failed.inc();
          this.#webhooks.emit({
            type: 'restream.failed',
            room,
            data: { ...this.#eventData(p), error, attempt, willRetry: retryInMs !== undefined, ...(retryInMs !== undefined ? { retryInMs } : {}) },
          });
        },
        stopped: (p, reason) => {
          listing.close();
          this.#counters.stopped.inc({ reason });
          this.#webhooks.emit({
            type: 'restream.stopped',
            room,
            data: { ...this.#eventData(p), reason, durationMs: Date.now() - p.createdAt, bytesSent: p.bytesSent },
          });
          this.#unpin(p.stream);
        },
      },
    });
    // Listed in /v1/streams as a `restream` output of the hub stream while it runs.
    const listing = stream.source.attach({
      kind: 'restream',
      start: async () => undefined,
      close: () => push.stop('closed'),
      stats: () => ({ id: push.id, destination: push.destination, state: push.state, bytesSent: push.bytesSent }),
    });
    this.#pushes.set(push.id, push);
    push.start();
    this.#sweep();
    return push.view();
  }

  /** The pushes of a stream (stopped ones stay listed for a while). */
  list(room: string, identity: string): RestreamView[] {
    return [...this.#pushes.values()].filter((p) => p.stream.room.name === room && p.stream.identity === identity).map((p) => p.view());
  }

  /** One push. @throws NotFoundError */
  get(room: string, identity: string, id: string): RestreamView {
    return this.#find(room, identity, id).view();
  }

  /** Stops a push. @throws NotFoundError */
  stop(room: string, identity: string, id: string): RestreamView {
    const push = this.#find(room, identity, id);
    push.stop('api');
    return push.view();
  }

  /** Stops every push. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pushes.values()) p.stop('shutdown');
  }

  #find(room: string, identity: string, id: string): RestreamPush {
    const push = this.#pushes.get(id);
    if (!push || push.stream.room.name !== room || push.stream.identity !== identity)
      throw new NotFoundError(`no restream ${id} of ${identity} in room ${room}`);
    return push;
  }

  #eventData(p: RestreamPush) {
    return { restreamId: p.id, identity: p.stream.identity, destination: p.destination };
  }

  /** Keeps the stream packaged while pushed; its end stops the pushes. */
  #pin(stream: HlsStream, wasPinned: boolean): void {
    if (this.#pins.has(stream)) return;
    const offEnded = stream.onEnded(() => {
      for (const p of this.#pushes.values()) if (p.stream === stream) p.stop('stream-ended');
    });
    // acquire({pin: true}) pinned it; remember whether someone else (eager mode, a recording) had.
    this.#pins.set(stream, { wasPinned, offEnded });
  }

  #unpin(stream: HlsStream): void {
    const pin = this.#pins.get(stream);
    if (!pin || [...this.#pushes.values()].some((p) => p.stream === stream && !p.stopped)) return;
    pin.offEnded();
    this.#pins.delete(stream);
    if (!pin.wasPinned && !stream.ended) stream.pinned = false;
    stream.touch(); // an on-demand stream then idles out normally
  }

  /** Forgets stopped pushes beyond the 50 most recent. */
  #sweep(): void {
    const stopped = [...this.#pushes.values()].filter((p) => p.stopped);
    for (const p of stopped.slice(0, Math.max(0, stopped.length - 50))) this.#pushes.delete(p.id);
  }
}
