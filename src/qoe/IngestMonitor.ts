/**
 * Ingest health of every contribution (the producers of one identity in a room, whatever brought
 * them: SDK, WHIP, SRT, ffmpeg): incoming bitrate and packet loss from producer stats sampled
 * every `ingestSampleIntervalMs`; key frame interval from key frame trace events (RTP timestamps,
 * so network jitter does not distort it); frame rate from distinct RTP timestamps of packet trace
 * events, enabled for one sample interval out of every `frameRateEvery` to keep its cost low.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import type { Participant, Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';
import type { StreamLabel } from './StreamLabels';

/** Current ingest figures of one stream (null: not measured yet, or no video). */
export interface IngestFigures {
  /** Incoming bitrate of every track (kbps). */
  bitrateKbps: number;
  /** Of which audio (kbps). */
  audioKbps: number;
  /** Frames per second of the video's best layer. */
  frameRate: number | null;
  /** Time between the last two key frames (the longest over simulcast layers, ms). */
  keyframeIntervalMs: number | null;
  /** Lost / expected packets over the last sample, all tracks. */
  lossRatio: number | null;
  /** Tracks (producers) of the stream. */
  tracks: number;
}

interface TraceRtp {
  ssrc?: number;
  timestamp?: number;
}

interface TrackedProducer {
  producer: types.Producer;
  label: StreamLabel;
  /** ssrc → cumulative [received, lost] at the last sample. */
  counters: Map<number, [number, number]>;
  bitrateBps: number;
  lost: number;
  expected: number;
  /** ssrc → RTP timestamp of the last key frame seen. */
  lastKeyframe: Map<number, number>;
  /** ssrc → last interval between key frames (ms). */
  keyframeIntervals: Map<number, number>;
  /** ssrc → RTP timestamps seen while counting frames. */
  frames?: Map<number, Set<number>>;
  framesSinceMs: number;
  frameRate: number | null;
}

/** Dependencies of {@link IngestMonitor}. */
export interface IngestMonitorDeps {
  rooms: RoomManager;
  /** Label of a stream (assigned on first sight; marks it active). */
  label(room: string, stream: string): StreamLabel;
  sampleIntervalMs: number;
  frameRateEvery: number;
  log: Logger;
}

/** The monitor. */
export class IngestMonitor {
  readonly #deps: IngestMonitorDeps;
  readonly #producers = new Map<string, TrackedProducer>();
  readonly #timer: NodeJS.Timeout;
  #samples = 0;
  #sampling = false;
  #closed = false;

  constructor(deps: IngestMonitorDeps) {
    this.#deps = deps;
    const watch = (room: Room): void => {
      room.on('producerAdded', (producer, participant) => this.#add(room, producer, participant));
      for (const info of room.producerInfos()) {
        const entry = room.getProducer(info.producerId);
        if (entry) this.#add(room, entry.producer, entry.participant);
      }
    };
    deps.rooms.on('roomCreated', watch);
    for (const room of deps.rooms.rooms) watch(room);
    this.#timer = setInterval(() => void this.#sample(), deps.sampleIntervalMs);
    this.#timer.unref();
  }

  /** The label of the stream a producer belongs to. */
  labelOf(producerId: string): StreamLabel | undefined {
    return this.#producers.get(producerId)?.label;
  }

  /** Keys of the streams that have producers now. */
  activeKeys(): Set<string> {
    return new Set([...this.#producers.values()].map((p) => p.label.key));
  }

  /** Current figures of every stream with producers, by stream key. */
  figures(): Map<string, { label: StreamLabel; figures: IngestFigures }> {
    const out = new Map<string, { label: StreamLabel; figures: IngestFigures; lost: number; expected: number }>();
    for (const p of this.#producers.values()) {
      let e = out.get(p.label.key);
      if (!e) {
        e = {
          label: p.label,
          figures: { bitrateKbps: 0, audioKbps: 0, frameRate: null, keyframeIntervalMs: null, lossRatio: null, tracks: 0 },
          lost: 0,
          expected: 0,
        };
        out.set(p.label.key, e);
      }
      const f = e.figures;
      f.tracks++;
      f.bitrateKbps += p.bitrateBps / 1000;
      if (p.producer.kind === 'audio') f.audioKbps += p.bitrateBps / 1000;
      e.lost += p.lost;
      e.expected += p.expected;
      if (p.frameRate !== null) f.frameRate = Math.max(f.frameRate ?? 0, p.frameRate);
      for (const ms of p.keyframeIntervals.values()) f.keyframeIntervalMs = Math.max(f.keyframeIntervalMs ?? 0, ms);
    }
    for (const e of out.values()) if (e.expected > 0) e.figures.lossRatio = e.lost / e.expected;
    return out;
  }

  /** Stops sampling. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #add(room: Room, producer: types.Producer, participant: Participant): void {
    if (this.#closed || producer.closed || this.#producers.has(producer.id)) return;
    const label = this.#deps.label(room.name, participant.identity);
    const tracked: TrackedProducer = {
      producer,
      label,
      counters: new Map(),
      bitrateBps: 0,
      lost: 0,
      expected: 0,
      lastKeyframe: new Map(),
      keyframeIntervals: new Map(),
      framesSinceMs: 0,
      frameRate: null,
    };
    this.#producers.set(producer.id, tracked);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
    if (producer.kind !== 'video') return;
    producer.observer.on('trace', (trace) => {
      const info = trace.info as { rtpPacket?: TraceRtp; isRtx?: boolean } | undefined;
      const rtp = info?.rtpPacket;
      if (info?.isRtx || rtp?.ssrc === undefined || rtp.timestamp === undefined) return;
      if (trace.type === 'keyframe') this.#onKeyframe(tracked, rtp.ssrc, rtp.timestamp);
      if (trace.type === 'rtp' && tracked.frames) {
        let set = tracked.frames.get(rtp.ssrc);
        if (!set) tracked.frames.set(rtp.ssrc, (set = new Set()));
        if (set.size < 10_000) set.add(rtp.timestamp);
      }
    });
    this.#trace(tracked, ['keyframe']);
  }

  #onKeyframe(p: TrackedProducer, ssrc: number, timestamp: number): void {
    const previous = p.lastKeyframe.get(ssrc);
    if (previous === timestamp) return;
    p.lastKeyframe.set(ssrc, timestamp);
    // Video RTP clocks run at 90 kHz; the difference wraps at 2^32.
    if (previous !== undefined) p.keyframeIntervals.set(ssrc, ((timestamp - previous) >>> 0) / 90);
  }

  #trace(p: TrackedProducer, types: types.ProducerTraceEventType[]): void {
    if (p.producer.closed) return;
    p.producer.enableTraceEvent(types).catch((error: unknown) => this.#deps.log.debug('producer trace not set', { error }));
  }

  async #sample(): Promise<void> {
    if (this.#sampling || this.#closed) return;
    this.#sampling = true;
    try {
      this.#samples++;
      const countFrames = this.#deps.frameRateEvery > 0 && this.#samples % this.#deps.frameRateEvery === 0;
      const now = performance.now();
      await Promise.all([...this.#producers.values()].map((p) => this.#sampleOne(p, now, countFrames)));
    } finally {
      this.#sampling = false;
    }
  }

  async #sampleOne(p: TrackedProducer, now: number, countFrames: boolean): Promise<void> {
    p.label = this.#deps.label(p.label.room, p.label.stream);
    if (p.frames) {
      // The counting window that began at the previous sample ends now.
      const seconds = (now - p.framesSinceMs) / 1000;
      const best = Math.max(0, ...[...p.frames.values()].map((s) => s.size));
      p.frameRate = seconds > 0 ? best / seconds : null;
      p.frames = undefined;
      this.#trace(p, ['keyframe']);
    } else if (countFrames && p.producer.kind === 'video') {
      p.frames = new Map();
      p.framesSinceMs = now;
      this.#trace(p, ['keyframe', 'rtp']);
    }
    const stats = (await Promise.race([p.producer.getStats().catch(() => []), new Promise<[]>((r) => setTimeout(() => r([]), 2000).unref())])) as Array<{
      type: string;
      ssrc?: number;
      bitrate?: number;
      packetCount?: number;
      packetsLost?: number;
    }>;
    let bitrate = 0;
    let lost = 0;
    let expected = 0;
    for (const s of stats) {
      if (s.type !== 'inbound-rtp' || s.ssrc === undefined) continue;
      bitrate += s.bitrate ?? 0;
      const received = s.packetCount ?? 0;
      const lostNow = Math.max(0, s.packetsLost ?? 0);
      const [r0, l0] = p.counters.get(s.ssrc) ?? [received, lostNow];
      const dr = Math.max(0, received - r0);
      const dl = Math.max(0, lostNow - l0);
      lost += dl;
      expected += dr + dl;
      p.counters.set(s.ssrc, [received, lostNow]);
    }
    p.bitrateBps = bitrate;
    p.lost = lost;
    p.expected = expected;
  }
}
