/**
 * @moq/net (the moq-dev client, not ours) in Node for interop tests: polyfills for Node 20,
 * connections over WebSocket (QMux) or WebTransport over HTTP/2 (@fails-components), and
 * helpers to publish and read tracks with timeouts.
 */
import '../../relay/polyfills';
import WebSocket from 'ws';
import * as Moq from '@moq/net';
import QmuxSession from '@moq/qmux';

// @moq/qmux dials through the global WebSocket. The tests' client is `ws`, as the relay's own
// upstream dial (relay/transport/connectWebSocket.ts): Node's built-in WebSocket makes a second
// upgrade request after a refused one, so one refused connect would count as two refusals.
(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;

// @moq/net logs every stream at debug level and each WebSocket connect as a warning.
console.debug = () => undefined;
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[1] === 'string' && args[1].startsWith('connected via')) return;
  warn(...args);
};

export { Moq };

/** A relay's addresses as tests need them. */
export interface RelayTarget {
  url: string;
  webtransportUrl?: string;
  fingerprint?: string;
}

/** Connects @moq/net to `target` with `token` (WebSocket unless `webtransport`), rooted at `root`. */
export async function connectMoq(
  target: RelayTarget,
  token: string,
  opts: { root?: string; transport?: 'websocket' | 'webtransport'; timeoutMs?: number; versions?: string[] } = {},
): Promise<Moq.Connection.Established> {
  const root = opts.root ?? '';
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
  if (opts.versions && opts.transport !== 'webtransport') {
    // Offer exactly these app protocols (ALPNs such as 'moq-lite-04') over QMux, instead of @moq/net's default list.
    const url = new URL(`${target.url}/${root}?jwt=${encodeURIComponent(token)}`);
    const session = new QmuxSession(url, {
      protocols: opts.versions,
      versions: Object.fromEntries(opts.versions.map((v) => [v, null])),
      requireProtocol: true,
    });
    session.closed.catch(() => undefined);
    await Promise.race([session.ready, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
    return Moq.Connection.connect(url, { transport: session as unknown as WebTransport, signal });
  }
  if (opts.transport === 'webtransport') {
    if (!target.webtransportUrl || !target.fingerprint) throw new Error('relay has no WebTransport listener');
    const specifier = '@fails-components/webtransport';
    const { WebTransport } = (await import(specifier)) as { WebTransport: new (url: string, o: object) => unknown };
    const wtUrl = `${target.webtransportUrl}/${root}?jwt=${encodeURIComponent(token)}`;
    const wt = new WebTransport(wtUrl, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: Buffer.from(target.fingerprint, 'hex') }],
      forceReliable: true,
      protocols: ['moq-lite-04', 'moq-lite-03'],
    }) as { ready: Promise<void>; closed: Promise<unknown>; close(): void };
    wt.closed.catch(() => undefined);
    await Promise.race([wt.ready, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
    return Moq.Connection.connect(new URL(wtUrl), { transport: copyingTransport(wt) as unknown as WebTransport, signal });
  }
  return Moq.Connection.connect(new URL(`${target.url}/${root}?jwt=${encodeURIComponent(token)}`), { websocket: { delay: 0 }, signal });
}

/**
 * @moq/net reuses one scratch buffer for successive small writes, which is fine for browsers'
 * WebTransport (a write copies its chunk) but not for @fails-components' Node client, which
 * queues the chunk by reference, so later writes overwrite queued bytes. This wrapper copies
 * every chunk written, as the WebTransport spec's write does.
 */
function copyingTransport(wt: any): unknown {
  const copying = (writable: WritableStream<Uint8Array>): WritableStream<Uint8Array> => {
    const w = writable.getWriter();
    return new WritableStream<Uint8Array>({
      async write(chunk) {
        await w.ready;
        await w.write(chunk.slice());
      },
      close: () => w.close(),
      abort: (reason) => w.abort(reason),
    });
  };
  const bidi = (s: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }) => ({ readable: s.readable, writable: copying(s.writable) });
  return new Proxy(wt, {
    get(target, prop) {
      if (prop === 'createBidirectionalStream') return async (o?: object) => bidi(await target.createBidirectionalStream(o));
      if (prop === 'createUnidirectionalStream') return async (o?: object) => copying(await target.createUnidirectionalStream(o));
      if (prop === 'incomingBidirectionalStreams') {
        return (target.incomingBidirectionalStreams as ReadableStream).pipeThrough(new TransformStream({ transform: (s, c) => c.enqueue(bidi(s)) }));
      }
      const v = target[prop];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Resolves `p` or rejects after `ms` with `what` in the message. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** A received group: its sequence and frames. */
export interface ReceivedGroup {
  sequence: number;
  frames: Uint8Array[];
}

/**
 * Reads groups of a subscription until `enough` says stop (checked after every group) or the
 * timeout; resolves with what arrived, in arrival order.
 */
export async function readGroups(
  sub: Moq.Track.Subscriber,
  enough: (groups: ReceivedGroup[]) => boolean,
  timeoutMs: number,
  onFrame?: (group: number, frame: Uint8Array) => void,
): Promise<ReceivedGroup[]> {
  const groups: ReceivedGroup[] = [];
  const run = (async () => {
    for (;;) {
      const g = await sub.recvGroup();
      if (!g) return;
      const rec: ReceivedGroup = { sequence: g.sequence, frames: [] };
      groups.push(rec);
      for (;;) {
        const f = await g.readFrame();
        if (!f) break;
        rec.frames.push(f.payload);
        onFrame?.(g.sequence, f.payload);
      }
      if (enough(groups)) return;
    }
  })();
  await within(run, timeoutMs, 'groups');
  return groups;
}

/**
 * Calls `onFrame` for every frame of every group of a subscription until the track ends, reading
 * groups side by side as a live viewer does (a late group does not wait for an earlier one).
 * A reset group or track ends its reading quietly.
 */
export function onEveryFrame(sub: Moq.Track.Subscriber, onFrame: (payload: Uint8Array) => void): void {
  void (async () => {
    for (;;) {
      const g = await sub.recvGroup().catch(() => undefined);
      if (!g) return;
      void (async () => {
        for (;;) {
          const f = await g.readFrame().catch(() => undefined);
          if (!f) return;
          onFrame(f.payload);
        }
      })();
    }
  })();
}

/** H264 NAL unit types of an Annex-B access unit (4-byte start codes, as the SFU bridge writes them). */
export function nalTypes(au: Uint8Array): number[] {
  const types: number[] = [];
  for (let i = 0; i + 4 < au.byteLength; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 0 && au[i + 3] === 1) types.push(au[i + 4]! & 0x1f);
  }
  return types;
}

/** A running test publisher. */
export interface TestPublisher {
  /** Track names peers asked for. */
  readonly requested: string[];
  stop(): void;
}

/**
 * Publishes `path` on `conn`: every requested track gets a group every `intervalMs` with
 * `framesPerGroup` frames; frame payload = [group u32][index u32][send time ms f64][padding].
 */
export function publishTestBroadcast(
  conn: Moq.Connection.Established,
  path: string,
  opts: { intervalMs?: number; framesPerGroup?: number; frameBytes?: number } = {},
): TestPublisher {
  const producer = new Moq.Broadcast.Producer();
  conn.publish(Moq.Path.from(path), producer);
  const timers: NodeJS.Timeout[] = [];
  const requested: string[] = [];
  void (async () => {
    for (;;) {
      const req = await producer.requested();
      if (!req) return;
      requested.push(req.name);
      const track = req.accept();
      let seq = 0;
      const timer = setInterval(() => {
        // moq-lite-05's TRACK request (a peer asking only for the track's properties) ends its track at once.
        if (track.closed.peek() !== undefined) {
          clearInterval(timer);
          return;
        }
        const g = track.appendGroup();
        const n = opts.framesPerGroup ?? 3;
        for (let i = 0; i < n; i++) {
          const payload = new Uint8Array(Math.max(16, opts.frameBytes ?? 16));
          const view = new DataView(payload.buffer);
          view.setUint32(0, seq);
          view.setUint32(4, i);
          view.setFloat64(8, Date.now());
          g.writeFrame({ payload, timestamp: Moq.Time.Timestamp.fromMicros(Date.now() * 1000) } as Moq.Group.Frame);
        }
        g.close();
        seq++;
      }, opts.intervalMs ?? 50);
      timers.push(timer);
    }
  })();
  return {
    requested,
    stop: () => {
      for (const t of timers) clearInterval(t);
      producer.close();
    },
  };
}

/** Decodes a test publisher frame. */
export function testFrame(payload: Uint8Array): { group: number; index: number; sentAt: number } {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { group: view.getUint32(0), index: view.getUint32(4), sentAt: view.getFloat64(8) };
}
