/**
 * A server-side publisher that receives plain RTP (from ffmpeg or any RTP sender on this host)
 * into mediasoup PlainTransports and publishes it into a room as one participant. Used by the
 * synthetic source and by SRT ingest. `comedia` mode: the transport learns the sender's address
 * from the first packet, so senders only need the ports.
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { Participant, Room } from '../sfu/Room';
import { startIngest, type Ingest, type IngestSeat } from '../streams/Ingest';
import type { Notifications, NotificationName } from '../protocol/signaling';

/** Video codec a plain RTP feed carries. */
export type PlainVideoCodec = 'H264' | 'VP8';

/** RTP parameters the sender must use (payload types and SSRCs). */
export interface PlainRtpEndpoints {
  video: { port: number; payloadType: number; ssrc: number; codec: PlainVideoCodec };
  audio?: { port: number; payloadType: number; ssrc: number };
}

/** Options of {@link PlainRtpPublisher}. */
export interface PlainRtpPublisherOptions {
  room: Room;
  identity: string;
  kind: Participant['kind'];
  /** Report join and leave as `ingest.started`/`ingest.ended` (default false). */
  joinWebhooks?: boolean;
  videoCodec: PlainVideoCodec;
  audio: boolean;
  /** IP the plain transports listen on. */
  listenIp: string;
  /** Called when the room closes under the publisher (e.g. its worker died). */
  onRoomClosed?: (reason: string) => void;
}

const VIDEO_PT = 102;
const AUDIO_PT = 111;

/** Publishes one plain-RTP feed into a room. */
export class PlainRtpPublisher implements Ingest {
  readonly id = crypto.randomUUID();
  readonly identity: string;
  readonly kind: Participant['kind'];
  readonly role = 'ingest' as const;
  /** Test and synthetic feeds are no encoders: no `ingest.started`/`ingest.ended` unless asked. */
  readonly joinWebhooks: boolean;
  readonly #options: PlainRtpPublisherOptions;
  readonly #transports: types.PlainTransport[] = [];
  readonly producers: types.Producer[] = [];
  #seat: IngestSeat | undefined;
  #closed = false;

  constructor(options: PlainRtpPublisherOptions) {
    this.#options = options;
    this.identity = options.identity;
    this.kind = options.kind;
    this.joinWebhooks = options.joinWebhooks ?? false;
  }

  notify<N extends NotificationName>(_name: N, _data: Notifications[N]): void {}

  onRoomClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.onRoomClosed?.(reason);
  }

  /** Joins the room, opens the transports and producers; returns where to send RTP. */
  async start(): Promise<PlainRtpEndpoints> {
    const { room } = this.#options;
    const seat = (this.#seat = await startIngest(room, this));
    const { slot } = seat;
    try {
      const videoSsrc = crypto.randomInt(1, 2 ** 31);
      const video = await this.#openTransport(slot.router);
      const codec = this.#options.videoCodec;
      const videoProducer = await video.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [
            codec === 'H264'
              ? {
                  mimeType: 'video/H264',
                  payloadType: VIDEO_PT,
                  clockRate: 90000,
                  parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
                  rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
                }
              : {
                  mimeType: 'video/VP8',
                  payloadType: VIDEO_PT,
                  clockRate: 90000,
                  rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
                },
          ],
          encodings: [{ ssrc: videoSsrc }],
        },
        appData: { public: { source: this.kind } },
      });
      this.producers.push(videoProducer);
      seat.publish(videoProducer);
      const endpoints: PlainRtpEndpoints = {
        video: { port: video.tuple.localPort, payloadType: VIDEO_PT, ssrc: videoSsrc, codec },
      };
      if (this.#options.audio) {
        const audioSsrc = crypto.randomInt(1, 2 ** 31);
        const audio = await this.#openTransport(slot.router);
        const audioProducer = await audio.produce({
          kind: 'audio',
          rtpParameters: {
            codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
            encodings: [{ ssrc: audioSsrc }],
          },
          appData: { public: { source: this.kind } },
        });
        this.producers.push(audioProducer);
        seat.publish(audioProducer);
        endpoints.audio = { port: audio.tuple.localPort, payloadType: AUDIO_PT, ssrc: audioSsrc };
      }
      return endpoints;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Leaves the room and closes transports (viewers get producerClosed). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#transports) t.close();
    this.#seat?.leave();
  }

  async #openTransport(router: types.Router): Promise<types.PlainTransport> {
    const transport = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: this.#options.listenIp },
      rtcpMux: true,
      comedia: true,
      // The sender (ffmpeg, a synthetic source) adapts to no congestion feedback.
      enableBwe: false,
    });
    this.#transports.push(transport);
    return transport;
  }
}
