/**
 * One WHEP viewer: a room participant that consumes one stream (the producers of one
 * identity) over one ICE-lite transport. Each recvonly audio/video m-section of the offer is
 * matched with a producer of its kind, in order; the answer keeps the viewer's payload types (RTX
 * included) and header extension ids (WhepRouters, viewerNumbering.ts). Consumers start paused and resume
 * once DTLS connects (the SFU asks the publisher for a key frame then). When every consumed
 * producer has closed, the stream has ended and the session closes itself (the client sees
 * its DTLS transport close and may POST again to resume).
 */
import type { types } from 'mediasoup';
import { BadRequestError, NotFoundError } from '../../core/errors';
import { ErrorCode } from '../../protocol/errors';
import type { MediaSection, SessionDescription } from '../../sdp/SessionDescription';
import { consumerCapabilities } from '../../sdp/rtpMapping';
import { writeAnswer, type AnswerSection } from '../../sdp/writeAnswer';
import { WebRtcHttpSession, type WebRtcHttpSessionOptions } from '../../webrtcHttp/WebRtcHttpSession';
import type { RouterSlot } from '../../sfu/Room';
import type { Stream } from '../../streams/Stream';
import type { WhepRouterLease, WhepRouters } from './WhepRouters';
import { answerInViewerNumbering, inRouterNumbering } from './viewerNumbering';

/** Preferred simulcast/SVC layers of the video consumers. */
export interface LayerPreference {
  spatialLayer: number;
  temporalLayer?: number;
}

/** Options of a WHEP session. */
export interface WhepSessionOptions extends WebRtcHttpSessionOptions {
  /** The hub stream watched (one publisher identity's tracks): its consumers are counted there. */
  stream: Stream;
  layers?: LayerPreference;
  /** Routers in viewers' payload-type numbering. */
  routers: WhepRouters;
}

/** A WHEP session. Create with {@link WhepSession.start}. */
export class WhepSession extends WebRtcHttpSession {
  readonly kind = 'whep' as const;
  readonly role = 'viewer' as const;
  readonly consumers: types.Consumer[] = [];
  readonly #stream: Stream;
  #live = 0;
  #lease: WhepRouterLease | undefined;
  #roomSlot: RouterSlot | undefined;

  private constructor(options: WhepSessionOptions) {
    super(options);
    this.#stream = options.stream;
  }

  get streamName(): string {
    return this.#stream.identity;
  }

  /**
   * Negotiates the offer against the stream's current producers; returns the session and its
   * SDP answer. 404 when the stream has no producers, 400 when no section can be served.
   */
  static async start(options: WhepSessionOptions, offer: SessionDescription): Promise<{ session: WhepSession; answer: string }> {
    const available = options.stream.tracks;
    if (available.length === 0) throw new NotFoundError(`stream ${options.stream.identity} is not live in room ${options.room.name}`);
    const session = new WhepSession(options);
    const local = await session.openTransport(offer, 'recv', async (roomSlot) => {
      const lease = await options.routers.acquire(options.room, roomSlot, offer.media);
      if (!lease) throw new BadRequestError('the offer has none of the codecs of this node (Opus, VP8, H264)', ErrorCode.UNSUPPORTED_MEDIA);
      session.#roomSlot = roomSlot;
      session.#lease = lease;
      return lease.slot.router;
    });
    try {
      const used = new Set<string>();
      const sections: AnswerSection[] = [];
      for (const [index, m] of offer.media.entries()) {
        const mid = m.mid ?? String(index);
        const wanted = (m.kind === 'audio' || m.kind === 'video') && m.port !== 0 && (m.direction === 'recvonly' || m.direction === 'sendrecv');
        const producer = wanted ? available.find((p) => p.kind === m.kind && !p.closed && !used.has(p.id)) : undefined;
        const consumer = producer ? await session.#consume(producer, m, options.layers) : undefined;
        if (!producer || !consumer) {
          sections.push({ kind: m.kind, mid, protocol: m.protocol, rejected: { formats: m.formats }, direction: 'inactive', codecs: [], extmaps: [] });
          continue;
        }
        used.add(producer.id);
        const enc = consumer.rtpParameters.encodings![0]!;
        const { codecs, extmaps } = answerInViewerNumbering(consumer.rtpParameters, session.#lease!.numbering);
        sections.push({
          kind: m.kind,
          mid,
          protocol: m.protocol,
          direction: 'sendonly',
          codecs,
          extmaps,
          send: {
            ssrc: enc.ssrc!,
            rtxSsrc: enc.rtx?.ssrc,
            cname: consumer.rtpParameters.rtcp?.cname ?? options.stream.identity,
            streamId: options.stream.identity,
            trackId: consumer.id,
          },
        });
      }
      if (session.consumers.length === 0) {
        throw new BadRequestError('no recvonly audio/video section of the offer matches the stream (kinds or codecs differ)', ErrorCode.UNSUPPORTED_MEDIA);
      }
      session.firstMid = sections.find((s) => !s.rejected)!.mid;
      return { session, answer: writeAnswer(local, sections) };
    } catch (err) {
      session.close('negotiation failed');
      throw err;
    }
  }

  /** Sets the preferred layers of the video consumers (the WHEP layer extension of this node). */
  async setLayers(layers: LayerPreference): Promise<void> {
    for (const c of this.consumers) {
      if (c.kind === 'video' && !c.closed) await c.setPreferredLayers(layers);
    }
  }

  protected override onClose(): void {
    this.#lease?.release();
  }

  protected override onConnected(): void {
    for (const c of this.consumers) if (!c.closed) c.resume().catch(() => undefined);
  }

  async #consume(producer: types.Producer, section: MediaSection, layers?: LayerPreference): Promise<types.Consumer | undefined> {
    const slot = this.#lease!.slot;
    const router = slot.router;
    const mime = producer.rtpParameters.codecs[0]!.mimeType.toLowerCase();
    if (!router.rtpCapabilities.codecs?.some((c) => c.mimeType.toLowerCase() === mime)) return undefined;
    const source = this.room.getProducer(producer.id);
    if (!source) return undefined;
    const copy = await this.#lease!.copyOf(producer, this.room.slotOf(source.participant.id).router);
    // The viewer's capabilities with the router's extension ids (the worker sends the viewer's).
    const rtpCapabilities = inRouterNumbering(consumerCapabilities(section), router.rtpCapabilities);
    if (!router.canConsume({ producerId: copy.id, rtpCapabilities })) return undefined;
    const consumer = await this.#stream.consume(this.transport!, this.#roomSlot!, producer, {
      output: 'whep',
      copy,
      rtpCapabilities,
      // The MID header extension carries the viewer's mid for its section (the viewer demuxes by it).
      ...(section.mid ? { mid: section.mid } : {}),
      paused: true,
      ...(producer.kind === 'video' && layers ? { preferredLayers: layers } : {}),
      // Retransmissions as RTX when the viewer offered RTX for the codec (the worker sends it under
      // the viewer's payload type); otherwise NACKed packets are resent as they were.
      enableRtx: rtxOffered(copy.consumableRtpParameters, section, this.#lease!.numbering.rtx),
      appData: { peerId: this.id },
    });
    this.consumers.push(consumer);
    this.#live++;
    consumer.on('transportclose', () => consumer.close());
    consumer.on('producerclose', () => {
      consumer.close();
      if (--this.#live === 0) this.close('stream ended');
    });
    return consumer;
  }
}

/**
 * True when the viewer offered RTX for a media codec the consumer could send, under the payload
 * type the numbering sends that codec's RTX with.
 */
function rtxOffered(consumable: types.RtpParameters, section: MediaSection, rtx: Map<number, number>): boolean {
  return consumable.codecs.some(
    (c) =>
      c.mimeType.toLowerCase().endsWith('/rtx') &&
      section.codecs.some(
        (o) => o.name.toLowerCase() === 'rtx' && o.payloadType === rtx.get(c.payloadType) && Number(o.parameters.apt) === Number(c.parameters?.apt),
      ),
  );
}
