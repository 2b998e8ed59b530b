/**
 * Bridges one SFU producer into one MoQ track: a mediasoup DirectTransport consumer hands us
 * the RTP in Node, a depacketizer rebuilds frames, and frames go out in the hang legacy
 * container with wall-clock-anchored microsecond timestamps. Video opens a new group at every
 * key frame (groups per GOP); every audio frame is its own group.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import type { RouterSlot } from '../sfu/Room';
import type { Group } from '../../relay/model/Group';
import type { Track } from '../../relay/model/Track';
import { encodeLegacyFrame, type AudioRendition, type VideoRendition } from '../protocol/hangFormat';
import { parseSps } from './h264Sps';
import { H264Depacketizer } from './rtp/H264Depacketizer';
import type { Depacketizer, MediaFrame } from './rtp/MediaFrame';
import { OpusDepacketizer } from './rtp/OpusDepacketizer';
import { parseRtp, TimestampUnwrapper } from './rtp/RtpPacket';
import { vp8KeyframeSize, Vp8Depacketizer } from './rtp/Vp8Depacketizer';

/** The codecs the bridge understands. */
export type BridgeCodec = 'H264' | 'VP8' | 'opus';

/** Options of {@link ProducerBridge}. */
export interface ProducerBridgeOptions {
  producer: types.Producer;
  slot: RouterSlot;
  track: Track;
  /** Consumes the producer on a transport of `slot`'s router, unpaused (through the stream, which counts it against the router budget). */
  consume: (transport: types.Transport, slot: RouterSlot) => Promise<types.Consumer>;
  /** Called whenever the rendition config is known or changes (video: at key frames). */
  onRendition: (r: { kind: 'video'; config: VideoRendition } | { kind: 'audio'; config: AudioRendition }) => void;
  /** Least interval between key frame requests (ms). */
  keyframeRequestIntervalMs?: number;
  log: Logger;
}

/** The codec of a producer, if the bridge supports it. */
export function bridgeCodecOf(producer: types.Producer): { codec: BridgeCodec; clockRate: number; channels?: number } | undefined {
  const c = producer.rtpParameters.codecs[0];
  if (!c) return undefined;
  const mime = c.mimeType.toLowerCase();
  if (mime === 'video/h264') return { codec: 'H264', clockRate: c.clockRate };
  if (mime === 'video/vp8') return { codec: 'VP8', clockRate: c.clockRate };
  if (mime === 'audio/opus') return { codec: 'opus', clockRate: c.clockRate, channels: c.channels ?? 2 };
  return undefined;
}

/** One producer → one track. */
export class ProducerBridge {
  readonly #o: ProducerBridgeOptions;
  readonly #codec: { codec: BridgeCodec; clockRate: number; channels?: number };
  readonly #depacketizer: Depacketizer;
  readonly #unwrap = new TimestampUnwrapper();
  #transport: types.DirectTransport | undefined;
  #consumer: types.Consumer | undefined;
  #group: Group | undefined;
  #anchor: { rtp: number; wallUs: number } | undefined;
  /** The last timestamp handed out (µs). */
  #lastUs = 0;
  #lastKeyframeRequest = 0;
  #renditionKey = '';
  #closed = false;
  /** Frames written to the track. */
  frames = 0;

  constructor(options: ProducerBridgeOptions) {
    this.#o = options;
    const codec = bridgeCodecOf(options.producer);
    if (!codec) throw new TypeError(`unsupported codec ${options.producer.rtpParameters.codecs[0]?.mimeType}`);
    this.#codec = codec;
    this.#depacketizer = codec.codec === 'H264' ? new H264Depacketizer() : codec.codec === 'VP8' ? new Vp8Depacketizer() : new OpusDepacketizer();
    this.#depacketizer.onKeyframeNeeded = (reason) => this.#requestKeyframe(reason);
  }

  /** Opens the DirectTransport consumer and starts writing the track. */
  async start(): Promise<void> {
    const { slot } = this.#o;
    const transport = await slot.router.createDirectTransport();
    this.#transport = transport;
    if (this.#closed) {
      transport.close();
      return;
    }
    const consumer = await this.#o.consume(transport, slot);
    this.#consumer = consumer;
    consumer.on('rtp', (packet) => this.#onRtp(packet));
    consumer.on('producerclose', () => this.close());
    consumer.on('transportclose', () => {
      if (!this.#closed) this.close(); // not our own stop()
    });
    if (this.#codec.codec === 'opus') {
      this.#rendition({ kind: 'audio', config: { codec: 'opus', sampleRate: this.#codec.clockRate, numberOfChannels: this.#codec.channels ?? 2 } });
    } else {
      this.#requestKeyframe('start');
    }
    if (this.#closed) this.#transport.close(); // stopped meanwhile
  }

  /** True once stopped or closed. */
  get stopped(): boolean {
    return this.#closed;
  }

  /** Stops consuming (the open group is finished) and leaves the track open for a later bridge. Idempotent. */
  stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#group?.finish();
    this.#transport?.close();
  }

  /** Stops consuming and ends the track. Idempotent. */
  close(): void {
    this.stop();
    this.#o.track.close();
  }

  #requestKeyframe(reason: string): void {
    const now = performance.now();
    if (!this.#consumer || now - this.#lastKeyframeRequest < (this.#o.keyframeRequestIntervalMs ?? 1000)) return;
    this.#lastKeyframeRequest = now;
    this.#o.log.debug('requesting key frame', { producer: this.#o.producer.id, reason });
    this.#consumer.requestKeyFrame().catch(() => undefined);
  }

  #rendition(r: Parameters<ProducerBridgeOptions['onRendition']>[0]): void {
    const key = JSON.stringify(r);
    if (key === this.#renditionKey) return;
    this.#renditionKey = key;
    this.#o.onRendition(r);
  }

  /**
   * Presentation time (µs): the wall clock of the earliest-arriving packet relative to its RTP
   * time, plus RTP time since. The anchor only moves back (a packet that arrives earlier than the
   * anchor predicts — the first one was late — moves it), so a frame's time is never later than its
   * arrival, and it stays strictly increasing.
   */
  #timestampUs(rtpTimestamp: number): number {
    const ext = this.#unwrap.unwrap(rtpTimestamp);
    const nowUs = (performance.timeOrigin + performance.now()) * 1000;
    if (!this.#anchor) this.#anchor = { rtp: ext, wallUs: nowUs };
    const sinceUs = ((ext - this.#anchor.rtp) * 1_000_000) / this.#codec.clockRate;
    if (this.#anchor.wallUs + sinceUs > nowUs) this.#anchor.wallUs = nowUs - sinceUs;
    const ts = Math.max(Math.round(this.#anchor.wallUs + sinceUs), this.#lastUs + 1);
    this.#lastUs = ts;
    return ts;
  }

  #onRtp(buf: Buffer): void {
    if (this.#closed) return;
    const packet = parseRtp(buf);
    if (!packet) return;
    let frames: MediaFrame[];
    try {
      frames = this.#depacketizer.push(packet);
    } catch (err) {
      this.#o.log.warn('depacketizer failed', { producer: this.#o.producer.id, error: err });
      return;
    }
    for (const f of frames) this.#write(f);
  }

  #write(f: MediaFrame): void {
    const track = this.#o.track;
    if (track.closed) return;
    if (this.#codec.codec !== 'opus' && f.keyframe) this.#videoConfig(f);
    const payload = encodeLegacyFrame(this.#timestampUs(f.rtpTimestamp), f.data);
    if (this.#codec.codec === 'opus') {
      const g = track.appendGroup();
      g.write(payload);
      g.finish();
    } else {
      if (f.keyframe) {
        this.#group?.finish();
        this.#group = track.appendGroup();
      }
      if (!this.#group) return;
      this.#group.write(payload);
    }
    this.frames++;
  }

  #videoConfig(f: MediaFrame): void {
    if (this.#codec.codec === 'H264') {
      const sps = (this.#depacketizer as H264Depacketizer).sps;
      const info = sps ? parseSps(sps) : undefined;
      if (info) this.#rendition({ kind: 'video', config: { codec: info.codec, codedWidth: info.width || undefined, codedHeight: info.height || undefined } });
      else this.#rendition({ kind: 'video', config: { codec: 'avc3.42e01f' } });
    } else {
      const size = vp8KeyframeSize(f.data);
      this.#rendition({ kind: 'video', config: { codec: 'vp8', codedWidth: size?.width, codedHeight: size?.height } });
    }
  }
}
