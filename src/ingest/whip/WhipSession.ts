/**
 * One WHIP publication (RFC 9725): a room participant whose identity is the stream name,
 * with one producer per accepted audio/video m-section of the client's offer. Codecs are
 * chosen in the client's order among Opus, VP8 and H264; simulcast offers (a=rid +
 * a=simulcast) become one simulcast producer. Anything else in the offer is rejected in the
 * answer (port 0) rather than failing the request.
 */
import { KEY_FRAME_REQUEST_DELAY_MS } from '../../sfu/keyFrames';
import type { types } from 'mediasoup';
import { BadRequestError } from '../../core/errors';
import type { SessionDescription } from '../../sdp/SessionDescription';
import { producerPlans } from '../../sdp/rtpMapping';
import { writeAnswer, type AnswerSection } from '../../sdp/writeAnswer';
import { WebRtcHttpSession, type WebRtcHttpSessionOptions } from '../../webrtcHttp/WebRtcHttpSession';
import { startIngest, type Ingest, type IngestRoom, type IngestSeat } from '../../streams/Ingest';
import type { RouterSlot } from '../../sfu/Room';

/** Most audio/video sections one publication may carry. */
const MAX_TRACKS = 4;

/** A WHIP publication that is the primary or backup input of its stream (src/ingest/backup). */
export interface WhipInputSeat {
  /** The stream's switch, entered instead of the room. */
  readonly room: IngestRoom;
  /** Frees the role (idempotent). */
  release(): void;
}

/** A WHIP session. Create with {@link WhipSession.start}. */
export class WhipSession extends WebRtcHttpSession implements Ingest {
  readonly kind = 'whip' as const;
  readonly role = 'ingest' as const;
  readonly producers: types.Producer[] = [];
  #seat: IngestSeat | undefined;
  readonly #input: WhipInputSeat | undefined;

  private constructor(options: WebRtcHttpSessionOptions, input?: WhipInputSeat) {
    super(options);
    this.#input = input;
  }

  get streamName(): string {
    return this.identity;
  }

  protected override async joinRoom(): Promise<RouterSlot> {
    this.#seat = await startIngest(this.#input?.room ?? this.room, this);
    return this.#seat.slot;
  }

  protected override leaveRoom(): void {
    this.#seat?.leave();
    this.#input?.release();
  }

  /**
   * Negotiates the offer: joins the room, produces each publishable section and returns the
   * session with its SDP answer. Throws BadRequestError when nothing in the offer can be published.
   */
  static async start(options: WebRtcHttpSessionOptions, offer: SessionDescription, input?: WhipInputSeat): Promise<{ session: WhipSession; answer: string }> {
    const session = new WhipSession(options, input);
    const local = await session.openTransport(offer, 'send');
    try {
      const sections: AnswerSection[] = [];
      for (const [index, m] of offer.media.entries()) {
        const mid = m.mid ?? String(index);
        const publishable = (m.kind === 'audio' || m.kind === 'video') && m.port !== 0 && (m.direction === 'sendonly' || m.direction === 'sendrecv');
        const produced = publishable && session.producers.length < MAX_TRACKS ? await session.#produce(m) : undefined;
        if (!produced) {
          sections.push({ kind: m.kind, mid, protocol: m.protocol, rejected: { formats: m.formats }, direction: 'inactive', codecs: [], extmaps: [] });
          continue;
        }
        sections.push({
          kind: m.kind,
          mid,
          protocol: m.protocol,
          direction: 'recvonly',
          codecs: produced.plan.answerCodecs,
          extmaps: produced.plan.extmaps,
          recvRids: produced.plan.recvRids,
        });
      }
      if (session.producers.length === 0) {
        throw new BadRequestError('offer has no sendonly audio/video section with a supported codec (Opus, VP8, H264 packetization-mode=1)');
      }
      if (input && !session.producers.some((p) => p.kind === 'video')) {
        throw new BadRequestError(
          'a WHIP input with a role (primary/backup) must send H264 video without simulcast: the switch joins inputs at H264 key frames',
        );
      }
      session.firstMid = sections.find((s) => !s.rejected)!.mid;
      for (const p of session.producers) session.#seat!.publish(p);
      return { session, answer: writeAnswer(local, sections) };
    } catch (err) {
      session.close('negotiation failed');
      throw err;
    }
  }

  /** Tries each codec plan of the section in order; the first that mediasoup accepts wins. */
  async #produce(m: Parameters<typeof producerPlans>[0]) {
    // An input of a switched stream carries H264 in one layer: the switch joins inputs at H264 key frames.
    const plans = producerPlans(m, this.room.rtpCapabilities).filter(
      (p) =>
        !this.#input ||
        p.kind === 'audio' ||
        (p.rtpParameters.codecs[0]!.mimeType.toLowerCase() === 'video/h264' && (p.rtpParameters.encodings?.length ?? 1) <= 1),
    );
    for (const plan of plans) {
      try {
        const producer = await this.transport!.produce({
          kind: plan.kind,
          rtpParameters: plan.rtpParameters,
          keyFrameRequestDelay: plan.kind === 'video' ? KEY_FRAME_REQUEST_DELAY_MS : undefined,
          appData: { peerId: this.id, public: { source: 'whip', mid: m.mid ?? null } },
        });
        this.producers.push(producer);
        return { producer, plan };
      } catch (err) {
        const name = (err as Error).name;
        // UnsupportedError: the router lacks that codec/profile; try the client's next choice.
        if (name !== 'UnsupportedError' && name !== 'TypeError') throw err;
        this.log.debug('codec not accepted', { mime: plan.rtpParameters.codecs[0]!.mimeType, error: err });
      }
    }
    return undefined;
  }
}
