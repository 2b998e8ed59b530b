/**
 * One stream with a primary and a backup input. The switch is the stream's only participant in
 * the room (identity = the stream name): it publishes stable producers on a DirectTransport,
 * and every output (WebRTC, WHEP, LL-HLS, MoQ, cascade) consumes those, never the inputs. Each
 * input is a feed (RTMP, SRT, … over ffmpeg) that publishes through an {@link InputSeat}: its
 * producers stay out of the room and are consumed here; the packets of the live input are
 * rewritten (SSRC, payload type, sequence numbers, timestamps continuous) and sent on.
 *
 * The live input changes when it disconnects or stalls (no video for `stallMs`) while the
 * other delivers, and back to the primary once it has delivered for `returnAfterMs`. A switch
 * away from a failed input starts at once from the other input's last key frame (kept warm:
 * the frames since are sent within a few milliseconds of each other, then its live packets
 * follow), so viewers get a key frame at once and never rejoin; a return to the primary waits
 * for its next key frame while the backup carries on, so nothing is missed.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import type { Notifications, NotificationName } from '../../protocol/signaling';
import type { Participant, Room, RouterSlot } from '../../sfu/Room';
import { startIngest, type Ingest, type IngestRoom, type IngestSeat } from '../../streams/Ingest';
import type { IngestConfig } from './backupConfig';
import { RtpRewriter, h264KeyFrameStart, rtpTimestamp } from './rtpRewrite';
import type { InputRole } from './inputRole';

/** Why the live input changed (metric label and webhook field); `first-input`: an input went live while none was. */
export type SwitchReason = 'disconnect' | 'stall' | 'primary-restored' | 'first-input';

/** A change of the live input. */
export interface SwitchEvent {
  from: InputRole | null;
  to: InputRole;
  protocol: string;
  reason: SwitchReason;
  /** Frames sent at once from the new input's last key frame (0 when it was joined at a fresh key frame). */
  warmFrames: number;
}

/** Events of {@link BackupSwitch}. */
export interface BackupSwitchEvents {
  switched: [event: SwitchEvent];
  /** The live input failed and the other cannot take over (nothing is sent until one delivers). */
  noInput: [reason: string];
  /** The switch left the room (both inputs gone, the room closed, or closed by its owner). Fires once. */
  closed: [reason: string];
}

/** An input's state, as the API shows it. */
export interface InputView {
  role: InputRole;
  protocol: string;
  /** The feed has joined (its ingest is running). */
  connected: boolean;
  /** Time since its last video packet (ms); null before the first. */
  lastVideoAgoMs: number | null;
  /** Time it has delivered without a stall (ms); null while stalled or before its first video. */
  healthyForMs: number | null;
}

/** A stream's switch, as the API shows it. */
export interface SwitchView {
  room: string;
  stream: string;
  /** The input viewers see now; null while neither delivers. */
  live: InputRole | null;
  /** The input the switch moves to at its next key frame, if any. */
  pending: InputRole | null;
  switches: number;
  lastSwitch: { at: string; from: InputRole | null; to: InputRole; reason: SwitchReason; warmFrames: number } | null;
  inputs: InputView[];
}

/** The seat one input publishes through: a {@link IngestRoom} for its feed. */
export interface InputSeat {
  readonly role: InputRole;
  readonly room: IngestRoom;
  /** Frees the seat (idempotent; the feed leaving frees it too). */
  release(): void;
}

interface Input {
  role: InputRole;
  protocol: string;
  participant: Participant | undefined;
  released: boolean;
  consumers: types.Consumer[];
  producers: types.Producer[];
  lastVideoAt: number | undefined;
  healthySince: number | undefined;
  /** Timestamp of the access unit being received. */
  auTs: number | undefined;
  /** Packets of that access unit (copies). */
  au: Buffer[];
  auIsKey: boolean;
  /** Packets from the last key frame's first packet on (copies; empty when over the budget or none yet). */
  warm: Buffer[];
}

/** Options of {@link BackupSwitch}. */
export interface BackupSwitchOptions {
  room: Room;
  stream: string;
  config: IngestConfig['backup'];
}

const VIDEO_PT = 102;
const AUDIO_PT = 111;
/** Spacing of the warm frames sent at a switch (90 kHz ticks: 1 ms). */
const WARM_FRAME_TICKS = 90;
const KEY_FRAME_REQUEST_INTERVAL_MS = 500;
/**
 * Warm frames go out paced, this many packets per millisecond: a receiver's UDP socket buffer
 * (about 90 full-size packets at Linux's default) drops the tail of a key frame and its GOP sent
 * back to back, and the NACK round trip that recovers it shows as a longer gap.
 */
const BURST_PACKETS_PER_MS = 24;

/** The stable producers of one stream and the inputs behind them. */
export class BackupSwitch extends EventEmitter<BackupSwitchEvents> implements Ingest {
  readonly id = crypto.randomUUID();
  readonly kind = 'switched';
  readonly role = 'ingest' as const;
  readonly identity: string;
  readonly room: Room;
  readonly #config: IngestConfig['backup'];
  readonly #inputs = new Map<InputRole, Input>();
  readonly #videoSsrc = crypto.randomInt(1, 2 ** 31);
  readonly #audioSsrc = crypto.randomInt(1, 2 ** 31);
  readonly #video = new RtpRewriter(this.#videoSsrc, VIDEO_PT, 90000);
  readonly #audio = new RtpRewriter(this.#audioSsrc, AUDIO_PT, 48000);
  #slot: RouterSlot | undefined;
  #seat: IngestSeat | undefined;
  #transport: types.DirectTransport | undefined;
  #videoProducer: types.Producer | undefined;
  #audioProducer: Promise<types.Producer | undefined> | undefined;
  #audioOut: types.Producer | undefined;
  #live: Input | undefined;
  #pending: { input: Input; reason: SwitchReason; from: InputRole | null } | undefined;
  #audioNeedsRebase = true;
  #lastKeyFrameRequest = 0;
  #switches = 0;
  #lastSwitch: SwitchView['lastSwitch'] = null;
  #timer: NodeJS.Timeout | undefined;
  /** Rewritten video packets waiting for their turn (a paced burst, and what arrived behind it). */
  readonly #videoQueue: Buffer[] = [];
  #draining: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: BackupSwitchOptions) {
    super();
    this.room = options.room;
    this.identity = options.stream;
    this.#config = options.config;
  }

  notify<N extends NotificationName>(_name: N, _data: Notifications[N]): void {}

  onRoomClosed(reason: string): void {
    this.#close(`room closed (${reason})`, false);
  }

  /** Whether the switch has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Joins the room and opens the stable video producer. */
  async open(): Promise<void> {
    this.#seat = await startIngest(this.room, this);
    this.#slot = this.#seat.slot;
    try {
      this.#transport = await this.#slot.router.createDirectTransport();
      this.#transport.on('rtcp', (packet) => this.#onRtcp(packet));
      this.#videoProducer = await this.#transport.produce({
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
        appData: { public: { source: 'switched' } },
      });
      if (this.#closed) return;
      this.#seat.publish(this.#videoProducer);
      this.#timer = setInterval(() => this.#check(), Math.max(20, Math.min(100, this.#config.stallMs / 5)));
      this.#timer.unref();
    } catch (err) {
      this.close('setup failed');
      throw err;
    }
  }

  /** Whether a role's seat is taken (by a running or starting input). */
  has(role: InputRole): boolean {
    return this.#inputs.has(role);
  }

  /** The protocol of the input in a seat. */
  protocolOf(role: InputRole): string | undefined {
    return this.#inputs.get(role)?.protocol;
  }

  /** Takes a role's seat for an input of `protocol` (the caller checked it is free). */
  seat(role: InputRole, protocol: string): InputSeat {
    const input: Input = {
      role,
      protocol,
      participant: undefined,
      released: false,
      consumers: [],
      producers: [],
      lastVideoAt: undefined,
      healthySince: undefined,
      auTs: undefined,
      au: [],
      auIsKey: false,
      warm: [],
    };
    this.#inputs.set(role, input);
    const release = () => this.#release(input, 'disconnect');
    const room: IngestRoom = {
      join: async (participant) => {
        if (this.#closed || input.released || !this.#slot) throw new Error(`the ${role} seat of ${this.identity} is no longer open`);
        input.participant = participant;
        return this.#slot;
      },
      addProducer: (participant, producer) => {
        if (input.participant !== participant || input.released) throw new Error('this input no longer publishes here');
        input.producers.push(producer);
        this.#consume(input, producer).catch(() => this.#release(input, 'disconnect'));
      },
      leave: (participantId) => {
        if (input.participant?.id === participantId) release();
      },
    };
    return { role, room, release };
  }

  /** What the API shows. */
  view(): SwitchView {
    const now = performance.now();
    const inputs = (['primary', 'backup'] as const)
      .map((r) => this.#inputs.get(r))
      .filter((i): i is Input => !!i)
      .map((i) => ({
        role: i.role,
        protocol: i.protocol,
        connected: !!i.participant,
        lastVideoAgoMs: i.lastVideoAt === undefined ? null : Math.round(now - i.lastVideoAt),
        healthyForMs: this.#healthy(i, now) && i.healthySince !== undefined ? Math.round(now - i.healthySince) : null,
      }));
    return {
      room: this.room.name,
      stream: this.identity,
      live: this.#live?.role ?? null,
      pending: this.#pending?.input.role ?? null,
      switches: this.#switches,
      lastSwitch: this.#lastSwitch,
      inputs,
    };
  }

  /** Ends both inputs' feeds and leaves the room (idempotent). */
  close(reason: string): void {
    this.#close(reason, true);
  }

  #close(reason: string, leave: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#draining);
    this.#videoQueue.length = 0;
    for (const input of [...this.#inputs.values()]) {
      const participant = input.participant;
      this.#release(input, 'disconnect');
      participant?.onRoomClosed(reason);
    }
    this.#transport?.close();
    if (leave) this.#seat?.leave();
    this.emit('closed', reason);
  }

  async #consume(input: Input, producer: types.Producer): Promise<void> {
    const transport = this.#transport!;
    if (producer.kind === 'audio') await this.#ensureAudioProducer();
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities: { ...this.#slot!.router.rtpCapabilities, headerExtensions: [] },
    });
    if (input.released || this.#closed) {
      consumer.close();
      return;
    }
    input.consumers.push(consumer);
    const kind = producer.kind;
    consumer.on('rtp', (packet) => (kind === 'video' ? this.#onVideo(input, packet) : this.#onAudio(input, packet)));
    consumer.on('producerclose', () => this.#release(input, 'disconnect'));
  }

  #ensureAudioProducer(): Promise<types.Producer | undefined> {
    this.#audioProducer ??= (async () => {
      const producer = await this.#transport!.produce({
        kind: 'audio',
        rtpParameters: {
          codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
          encodings: [{ ssrc: this.#audioSsrc }],
        },
        appData: { public: { source: 'switched' } },
      });
      if (this.#closed) {
        producer.close();
        return undefined;
      }
      this.#seat!.publish(producer);
      this.#audioOut = producer;
      return producer;
    })();
    return this.#audioProducer;
  }

  #onVideo(input: Input, packet: Buffer): void {
    if (this.#closed) return;
    const now = performance.now();
    if (input.lastVideoAt === undefined || now - input.lastVideoAt > this.#config.stallMs) input.healthySince = now;
    input.lastVideoAt = now;
    const ts = rtpTimestamp(packet);
    const key = h264KeyFrameStart(packet);
    let keyFrameBegins = false;
    if (ts !== input.auTs) {
      input.auTs = ts;
      input.au = [];
      input.auIsKey = false;
    }
    const copy = Buffer.from(packet);
    input.au.push(copy);
    if (key && !input.auIsKey) {
      input.auIsKey = true;
      keyFrameBegins = true;
      input.warm = this.#config.warmPackets > 0 ? [...input.au] : [];
    } else if (input.warm.length > 0) {
      if (input.warm.length < this.#config.warmPackets) input.warm.push(copy);
      else input.warm = [];
    }
    if (this.#live === input) {
      this.#sendVideo(this.#video.rewrite(packet, now));
      return;
    }
    if (keyFrameBegins && (this.#pending?.input === input || (!this.#live && !this.#pending))) {
      // Join at this key frame: its packets so far (usually just this one) go out now, the rest as they come.
      const reason = this.#pending?.reason ?? 'first-input';
      this.#activate(input, reason, this.#pending ? this.#pending.from : null, input.au, now, 0);
    }
  }

  #onAudio(input: Input, packet: Buffer): void {
    if (this.#closed || this.#live !== input || !this.#audioOut) return;
    const now = performance.now();
    if (this.#audioNeedsRebase) {
      this.#audio.rebase(packet, now);
      this.#audioNeedsRebase = false;
    }
    this.#audioOut.send(this.#audio.rewrite(packet, now));
  }

  /** Sends a rewritten video packet now, or behind a burst still going out. */
  #sendVideo(packet: Buffer): void {
    if (this.#videoQueue.length > 0) this.#videoQueue.push(packet);
    else this.#videoProducer?.send(packet);
  }

  /** Sends the queue's next packets, and the rest a millisecond later. */
  #drain(): void {
    this.#draining = undefined;
    const producer = this.#videoProducer;
    for (let i = 0; i < BURST_PACKETS_PER_MS && this.#videoQueue.length > 0; i++) producer?.send(this.#videoQueue.shift()!);
    if (this.#videoQueue.length > 0 && !this.#closed) this.#draining = setTimeout(() => this.#drain(), 1);
  }

  /** Makes `input` live, sending `packets` (copies, from a key frame's first packet) at once. */
  #activate(input: Input, reason: SwitchReason, from: InputRole | null, packets: Buffer[], now: number, warmFrames: number): void {
    this.#live = input;
    this.#pending = undefined;
    this.#audioNeedsRebase = true;
    // Frames kept warm go out 1 ms apart in RTP time, ending at "now" on the output's clock.
    const frames = new Map<number, Buffer[]>();
    for (const p of packets) {
      const ts = rtpTimestamp(p);
      const frame = frames.get(ts);
      if (frame) frame.push(p);
      else frames.set(ts, [p]);
    }
    const expected = this.#video.expectedTimestamp(now);
    const last = this.#video.lastTimestamp;
    let outTs = expected === undefined ? undefined : (expected - (frames.size - 1) * WARM_FRAME_TICKS) >>> 0;
    // Never at or before what was already sent: receivers drop frames older than the last decoded one.
    if (outTs !== undefined && last !== undefined && ((outTs - last) >>> 0 === 0 || (outTs - last) >>> 0 >= 0x80000000))
      outTs = (last + WARM_FRAME_TICKS) >>> 0;
    for (const frame of frames.values()) {
      this.#video.rebase(frame[0]!, now, outTs);
      for (const p of frame) this.#videoQueue.push(this.#video.rewrite(Buffer.from(p), now));
      if (outTs !== undefined) outTs = (outTs + WARM_FRAME_TICKS) >>> 0;
    }
    if (!this.#draining) this.#drain();
    this.#switches++;
    this.#lastSwitch = { at: new Date().toISOString(), from, to: input.role, reason, warmFrames };
    this.emit('switched', { from, to: input.role, protocol: input.protocol, reason, warmFrames });
  }

  /** Moves to `input`: at once from its warm key frame when the live input failed, else at its next key frame. */
  #switchTo(input: Input, reason: SwitchReason, now: number, from: InputRole | null = this.#live?.role ?? null): void {
    const failing = reason !== 'primary-restored';
    if (failing && input.warm.length > 0) {
      const frames = new Set(input.warm.map(rtpTimestamp)).size;
      this.#activate(input, reason, from, input.warm, now, frames);
      return;
    }
    if (failing) this.#live = undefined;
    this.#pending = { input, reason, from };
    this.#requestKeyFrame(input, now);
  }

  #requestKeyFrame(input: Input, now: number): void {
    if (now - this.#lastKeyFrameRequest < KEY_FRAME_REQUEST_INTERVAL_MS) return;
    this.#lastKeyFrameRequest = now;
    for (const c of input.consumers) if (c.kind === 'video' && !c.closed) c.requestKeyFrame().catch(() => undefined);
  }

  #healthy(input: Input, now: number): boolean {
    return !!input.participant && !input.released && input.lastVideoAt !== undefined && now - input.lastVideoAt <= this.#config.stallMs;
  }

  #other(input: Input): Input | undefined {
    return this.#inputs.get(input.role === 'primary' ? 'backup' : 'primary');
  }

  /** Runs every few tens of ms: stall detection and the return to the primary. */
  #check(): void {
    if (this.#closed) return;
    const now = performance.now();
    const live = this.#live;
    if (live && !this.#healthy(live, now)) {
      const other = this.#other(live);
      if (other && this.#healthy(other, now)) this.#switchTo(other, 'stall', now);
      return;
    }
    const primary = this.#inputs.get('primary');
    if (live?.role === 'backup' && !this.#pending && primary && this.#healthy(primary, now) && now - primary.healthySince! >= this.#config.returnAfterMs) {
      this.#switchTo(primary, 'primary-restored', now);
    }
    if (!live && !this.#pending) {
      const candidate = [this.#inputs.get('primary'), this.#inputs.get('backup')].find((i) => i && this.#healthy(i, now));
      if (candidate) this.#switchTo(candidate, 'first-input', now);
    }
    if (this.#pending) {
      if (!this.#healthy(this.#pending.input, now)) this.#pending = undefined;
      else this.#requestKeyFrame(this.#pending.input, now);
    }
  }

  /** An input left (or its seat was given up): switch away if it was live, close when none is left. */
  #release(input: Input, reason: SwitchReason): void {
    if (input.released) return;
    input.released = true;
    for (const c of input.consumers) c.close();
    input.consumers = [];
    input.warm = [];
    input.au = [];
    if (this.#inputs.get(input.role) === input) this.#inputs.delete(input.role);
    if (this.#pending?.input === input) this.#pending = undefined;
    if (this.#closed) return;
    if (this.#live === input) {
      this.#live = undefined;
      const other = this.#other(input);
      const now = performance.now();
      if (other && this.#healthy(other, now)) this.#switchTo(other, reason, now, input.role);
      else this.emit('noInput', `the ${input.role} input left and the ${input.role === 'primary' ? 'backup' : 'primary'} delivers no video`);
    }
    if (this.#inputs.size === 0) this.close('both inputs ended');
  }

  /** PLI/FIR from the outputs: ask the live input's encoder (WHIP/SDK encoders answer; ffmpeg copies wait for the next key frame). */
  #onRtcp(packet: Buffer): void {
    const live = this.#live;
    if (!live) return;
    for (let at = 0; at + 4 <= packet.length;) {
      const fmt = packet[at]! & 0x1f;
      const type = packet[at + 1]!;
      if (type === 206 && (fmt === 1 || fmt === 4)) return this.#requestKeyFrame(live, performance.now());
      at += (packet.readUInt16BE(at + 2) + 1) * 4;
    }
  }
}
