/**
 * Routers that speak a WHEP viewer's payload-type numbering.
 *
 * A WHEP client makes the offer, so the answer must reuse the client's payload types, and the
 * client decodes incoming RTP by its own numbering. mediasoup consumers send with their
 * router's payload types and cannot rewrite them. So WHEP transports live on a router whose
 * codecs carry the viewer's payload types (`preferredPayloadType`), and the stream's producers
 * are piped into it. Viewers with the same numbering (every viewer of one browser version)
 * share one such router per room and worker, so each pipe costs once. The pipe is built here with
 * PipeTransports and a fresh producer id rather than with pipeToRouter, because the copy's RTP
 * parameters carry the viewers' numbering (below).
 *
 * Retransmissions (RTX) need the viewer's RTX payload types too, which mediasoup assigns on its
 * own, and header extensions the viewer's ids, which the worker fixes: the router's copy of each
 * producer carries the viewer's numbering for the worker's send path (viewerNumbering.ts).
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { Room, RouterSlot } from '../../sfu/Room';
import type { WorkerPool } from '../../sfu/WorkerPool';
import type { MediaSection, SdpCodec } from '../../sdp/SessionDescription';
import { offeredExtensionIds, offeredRtx, viewerNumbering, withViewerNumbering, type ViewerNumbering } from './viewerNumbering';

interface Entry {
  slot: RouterSlot;
  /** The viewers' RTX payload types and extension ids (the router's are mediasoup's). */
  numbering: ViewerNumbering;
  refs: number;
  /** Source router id → the pipe transport pair into this router. */
  links: Map<string, Promise<{ out: types.PipeTransport; in: types.PipeTransport }>>;
  /** Source producer id → its piped copy on this router. */
  copies: Map<string, Promise<types.Producer>>;
}

/** A router held for one WHEP session; `release()` when the session ends (idempotent). */
export interface WhepRouterLease {
  slot: RouterSlot;
  /** Router numbering → the viewers' numbering (for the answer). */
  numbering: ViewerNumbering;
  /** The producer's copy on this router (piped from `source` once, then shared). */
  copyOf(producer: types.Producer, source: types.Router): Promise<types.Producer>;
  release(): void;
}

/** The shared WHEP routers of the node. */
export class WhepRouters {
  readonly #pool: WorkerPool;
  readonly #entries = new Map<string, Promise<Entry>>();

  constructor(pool: WorkerPool) {
    this.#pool = pool;
  }

  /** Number of open WHEP routers. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A router on `roomSlot`'s worker with the room's codecs renumbered to the offer's payload
   * types; codecs the offer lacks are left out. Returns undefined when no codec matches.
   */
  async acquire(room: Room, roomSlot: RouterSlot, sections: MediaSection[]): Promise<WhepRouterLease | undefined> {
    const codecs = renumberedCodecs(room.rtpCapabilities, sections);
    if (codecs.length === 0) return undefined;
    const rtx = offeredRtx(sections);
    const extensionIds = offeredExtensionIds(sections);
    const key = `${room.name}|${roomSlot.worker.index}|${JSON.stringify(codecs)}|${JSON.stringify([...rtx])}|${JSON.stringify([...extensionIds])}`;
    let pending = this.#entries.get(key);
    if (!pending) {
      pending = this.#pool.createRouter(roomSlot.worker, codecs).then((router) => {
        const numbering = viewerNumbering(router.rtpCapabilities, sections);
        const entry: Entry = { slot: { router, worker: roomSlot.worker, consumers: 0 }, numbering, refs: 0, links: new Map(), copies: new Map() };
        router.observer.once('close', () => {
          this.#entries.delete(key);
          for (const link of entry.links.values())
            link.then(
              (l) => l.out.close(),
              () => undefined,
            );
        });
        room.once('closed', () => router.close());
        return entry;
      });
      this.#entries.set(key, pending);
      pending.catch(() => this.#entries.delete(key));
    }
    const entry = await pending;
    if (entry.slot.router.closed) return this.acquire(room, roomSlot, sections);
    entry.refs++;
    let released = false;
    return {
      slot: entry.slot,
      numbering: entry.numbering,
      copyOf: (producer, source) => copyOf(entry, producer, source),
      release: () => {
        if (released) return;
        released = true;
        if (--entry.refs === 0) entry.slot.router.close();
      },
    };
  }
}

function copyOf(entry: Entry, producer: types.Producer, source: types.Router): Promise<types.Producer> {
  let copy = entry.copies.get(producer.id);
  if (!copy) {
    copy = pipe(entry, producer, source);
    entry.copies.set(producer.id, copy);
    copy.then(
      (p) => p.observer.once('close', () => entry.copies.delete(producer.id)),
      () => entry.copies.delete(producer.id),
    );
  }
  return copy;
}

async function pipe(entry: Entry, producer: types.Producer, source: types.Router): Promise<types.Producer> {
  let link = entry.links.get(source.id);
  if (!link) {
    link = (async () => {
      const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
      const out = await source.createPipeTransport({ listenInfo });
      const into = await entry.slot.router.createPipeTransport({ listenInfo }).catch((err) => {
        out.close();
        throw err;
      });
      out.observer.once('close', () => into.close());
      into.observer.once('close', () => {
        out.close();
        entry.links.delete(source.id);
      });
      await out.connect({ ip: '127.0.0.1', port: into.tuple.localPort });
      await into.connect({ ip: '127.0.0.1', port: out.tuple.localPort });
      return { out, in: into };
    })();
    entry.links.set(source.id, link);
    link.catch(() => entry.links.delete(source.id));
  }
  const { out, in: into } = await link;
  const pipeConsumer = await out.consume({ producerId: producer.id });
  try {
    const copy = await into.produce({
      id: crypto.randomUUID(),
      kind: pipeConsumer.kind,
      rtpParameters: withViewerNumbering(pipeConsumer.rtpParameters, entry.numbering),
      paused: pipeConsumer.producerPaused,
      appData: { copyOf: producer.id },
    });
    pipeConsumer.observer.once('close', () => copy.close());
    copy.observer.once('close', () => pipeConsumer.close());
    pipeConsumer.on('producerpause', () => void copy.pause().catch(() => undefined));
    pipeConsumer.on('producerresume', () => void copy.resume().catch(() => undefined));
    return copy;
  } catch (err) {
    pipeConsumer.close();
    throw err;
  }
}

/** The room's codecs (RTX aside) with the payload type the offer gave the same codec. */
export function renumberedCodecs(caps: types.RtpCapabilities, sections: MediaSection[]): types.RouterRtpCodecCapability[] {
  const out: types.RouterRtpCodecCapability[] = [];
  const used = new Set<number>();
  for (const rc of caps.codecs ?? []) {
    if (rc.mimeType.toLowerCase().endsWith('/rtx')) continue;
    const offered = sections
      .filter((m) => m.kind === rc.kind && m.port !== 0)
      .flatMap((m) => m.codecs)
      .find((oc) => !used.has(oc.payloadType) && sameCodec(rc, oc));
    if (!offered) continue;
    used.add(offered.payloadType);
    out.push({
      kind: rc.kind,
      mimeType: rc.mimeType,
      clockRate: rc.clockRate,
      ...(rc.channels ? { channels: rc.channels } : {}),
      parameters: rc.parameters,
      rtcpFeedback: rc.rtcpFeedback,
      preferredPayloadType: offered.payloadType,
    });
  }
  return out;
}

/** Same codec by name, clock rate, channels and, for H264, packetization mode and profile. */
function sameCodec(rc: types.RtpCodecCapability, oc: SdpCodec): boolean {
  const mime = rc.mimeType.split('/')[1]!.toLowerCase();
  if (oc.name.toLowerCase() !== mime || oc.clockRate !== rc.clockRate) return false;
  if (rc.kind === 'audio' && (oc.channels ?? 1) !== (rc.channels ?? 1)) return false;
  if (mime !== 'h264') return true;
  const p = rc.parameters ?? {};
  if (Number(oc.parameters['packetization-mode'] ?? 0) !== Number(p['packetization-mode'] ?? 0)) return false;
  const profile = (v: unknown) =>
    String(v ?? '42001f')
      .toLowerCase()
      .slice(0, 4);
  return profile(oc.parameters['profile-level-id']) === profile(p['profile-level-id']);
}
