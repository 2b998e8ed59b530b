/**
 * The room participant of one ffmpeg-fed contribution (RTMP, RTSP, MPEG-TS over UDP): two
 * PlainTransports (comedia, RTCP on its own port: ffmpeg sends RTCP from another source port
 * than RTP) that ffmpeg sends RTP to, an H264 video producer opened at once and an Opus audio
 * producer opened once ffmpeg has found audio. Its identity is the stream name, so SDK peers see
 * the feed as a peer and WHEP/HLS/MoQ outputs find it by name.
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { Notifications, NotificationName } from '../../protocol/signaling';
import type { Participant } from '../../sfu/Room';
import { startIngest, type Ingest, type IngestSeat, type IngestRoom } from '../../streams/Ingest';

/** Where ffmpeg sends one track's RTP. */
export interface RtpFeedEndpoint {
  port: number;
  rtcpPort: number;
  payloadType: number;
  ssrc: number;
}

/** Options of {@link RtpFeed}. */
export interface RtpFeedOptions {
  room: IngestRoom;
  identity: string;
  kind: Participant['kind'];
  /** Report join and leave as `ingest.started`/`ingest.ended` (default true). */
  joinWebhooks?: boolean;
  listenIp: string;
  /** Called when the room closes under the feed. */
  onRoomClosed: (reason: string) => void;
}

const VIDEO_PT = 102;
const AUDIO_PT = 111;

/** One ffmpeg-fed stream in a room. */
export class RtpFeed implements Ingest {
  readonly id = crypto.randomUUID();
  readonly kind: Participant['kind'];
  readonly role = 'ingest' as const;
  readonly joinWebhooks: boolean;
  readonly identity: string;
  readonly producers: types.Producer[] = [];
  readonly #options: RtpFeedOptions;
  #video: types.PlainTransport | undefined;
  #audio: types.PlainTransport | undefined;
  readonly #videoSsrc = crypto.randomInt(1, 2 ** 31);
  readonly #audioSsrc = crypto.randomInt(1, 2 ** 31);
  #seat: IngestSeat | undefined;
  #closed = false;

  constructor(options: RtpFeedOptions) {
    this.#options = options;
    this.identity = options.identity;
    this.kind = options.kind;
    this.joinWebhooks = options.joinWebhooks ?? true;
  }

  notify<N extends NotificationName>(_name: N, _data: Notifications[N]): void {}

  onRoomClosed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.onRoomClosed(reason);
  }

  /** Joins the room and opens both transports and the video producer; returns ffmpeg's targets. */
  async open(): Promise<{ video: RtpFeedEndpoint; audio: RtpFeedEndpoint }> {
    const { room } = this.#options;
    this.#seat = await startIngest(room, this);
    const { slot } = this.#seat;
    try {
      const open = () => slot.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: this.#options.listenIp }, rtcpMux: false, comedia: true });
      this.#video = await open();
      this.#audio = await open();
      const video = await this.#video.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [
            {
              mimeType: 'video/H264',
              payloadType: VIDEO_PT,
              clockRate: 90000,
              parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
              rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
            },
          ],
          encodings: [{ ssrc: this.#videoSsrc }],
        },
        appData: { public: { source: this.kind } },
      });
      this.#register(video);
      return {
        video: { port: this.#video.tuple.localPort, rtcpPort: this.#video.rtcpTuple!.localPort, payloadType: VIDEO_PT, ssrc: this.#videoSsrc },
        audio: { port: this.#audio.tuple.localPort, rtcpPort: this.#audio.rtcpTuple!.localPort, payloadType: AUDIO_PT, ssrc: this.#audioSsrc },
      };
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Opens the Opus producer (after ffmpeg reported an audio stream). */
  async publishAudio(): Promise<void> {
    if (this.#closed || !this.#audio) return;
    const audio = await this.#audio.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
        encodings: [{ ssrc: this.#audioSsrc }],
      },
      appData: { public: { source: this.kind } },
    });
    if (this.#closed) {
      audio.close();
      return;
    }
    this.#register(audio);
  }

  /** Leaves the room; viewers get producerClosed and peerLeft. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#video?.close();
    this.#audio?.close();
    this.#seat?.leave();
  }

  #register(producer: types.Producer): void {
    this.producers.push(producer);
    this.#seat!.publish(producer);
  }
}
