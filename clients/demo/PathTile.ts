/**
 * One delivery path on the start page: watches the synthetic stream with the SDK's `watch()`
 * forced to that transport, and shows what this browser measures of it — glass-to-glass latency
 * read from the clock code in each presented frame, startup time (asking → first presented
 * frame), and the media bitrate received. The tile element carries the figures as data
 * attributes too (`data-state`, `data-frames`, `data-latency-ms`, `data-latency-samples`,
 * `data-startup-ms`, `data-kbps`, `data-wire`), for tests and scripts.
 */
import type { StreamPlayer, SubsecClient, TransportName } from '../sdk/src/index';
import { clockCodeAgeMs } from '../../src/protocol/clockCode';
import { clockReader } from './clockReader';

/** How often a presented frame's code is read (ms). */
const READ_EVERY_MS = 100;
/** Latency shown: the median of the samples of this last stretch (ms). */
const SHOWN_WINDOW_MS = 1000;
/** Range shown: over this last stretch (ms). */
const RANGE_WINDOW_MS = 10_000;
/** A reading further back than this is not a latency (ms). */
const MAX_AGE_MS = 60_000;

/** What the tile shows about its path's wire. */
const WIRE_LABEL: Record<string, string> = { webtransport: 'over WebTransport (HTTP/3)', websocket: 'over WebSocket' };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** One path's player and figures. */
export class PathTile {
  readonly path: TransportName;
  readonly #root: HTMLElement;
  readonly #video: HTMLVideoElement;
  readonly #read: () => number | undefined;
  readonly #client: SubsecClient;
  readonly #identity: string;
  #player: StreamPlayer | undefined;
  #samples: Array<{ at: number; ms: number }> = [];
  #bytes: Array<{ at: number; bytes: number }> = [];
  #frames = 0;
  #lastRead = 0;
  #startedAt = 0;
  #generation = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(root: HTMLElement, client: SubsecClient, identity: string) {
    this.#root = root;
    this.path = root.dataset.path as TransportName;
    this.#video = root.querySelector('video')!;
    this.#read = clockReader(this.#video);
    this.#client = client;
    this.#identity = identity;
    this.#part('restart').addEventListener('click', () => void this.start());
  }

  /** The player, while one plays. */
  get player(): StreamPlayer | undefined {
    return this.#player;
  }

  /** Shows that the path cannot play here, and why. */
  off(reason: string): void {
    this.#set('off', reason);
    (this.#part('restart') as HTMLButtonElement).disabled = true;
  }

  /** (Re)starts watching; the figures start over. */
  async start(): Promise<void> {
    const generation = ++this.#generation;
    this.#stop();
    this.#samples = [];
    this.#bytes = [];
    this.#frames = 0;
    for (const role of ['latency', 'startup', 'bitrate', 'range']) this.#part(role).textContent = '–';
    delete this.#root.dataset.startupMs;
    delete this.#root.dataset.latencyMs;
    this.#root.dataset.latencySamples = '0';
    this.#set('connecting', 'connecting…');
    this.#startedAt = performance.now();
    this.#watchFrames(generation);
    try {
      const player = await this.#client.watch(this.#identity, this.#video, { transport: this.path, hlsTimeoutMs: 40_000 });
      if (generation !== this.#generation) return player.close();
      this.#player = player;
      player.on('failed', ({ reason }) => {
        if (this.#player === player) this.#failed(reason);
      });
      const wire = player.wireTransport;
      if (wire) {
        this.#root.dataset.wire = wire;
        this.#part('wire').textContent = WIRE_LABEL[wire] ?? wire;
      }
      this.#set('playing', 'live');
      this.#timer = setInterval(() => void this.#tick(), 1000);
    } catch (error) {
      if (generation === this.#generation) this.#failed(error instanceof Error ? error.message : String(error));
    }
  }

  #failed(reason: string): void {
    this.#stop();
    this.#set('failed', `failed: ${reason}`);
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#player?.close();
    this.#player = undefined;
  }

  #set(state: string, badge: string): void {
    this.#root.dataset.state = state;
    this.#part('badge').textContent = badge;
  }

  #part(role: string): HTMLElement {
    return this.#root.querySelector(`[data-role="${role}"]`)!;
  }

  /** Counts presented frames; reads the clock from one every {@link READ_EVERY_MS}. */
  #watchFrames(generation: number): void {
    const video = this.#video;
    const onFrame = (now: number, metadata: VideoFrameCallbackMetadata): void => {
      if (generation !== this.#generation) return;
      this.#frames++;
      this.#root.dataset.frames = String(this.#frames);
      if (this.#root.dataset.startupMs === undefined) {
        const startup = Math.round(now - this.#startedAt);
        this.#root.dataset.startupMs = String(startup);
        this.#part('startup').textContent = `${startup} ms`;
      }
      if (now - this.#lastRead >= READ_EVERY_MS) {
        this.#lastRead = now;
        const code = this.#read();
        if (code !== undefined) {
          // The node's time when this frame is on screen.
          const shownAt = this.#client.clock.now() + (metadata.expectedDisplayTime - performance.now());
          const age = clockCodeAgeMs(code, shownAt);
          if (Math.abs(age) < MAX_AGE_MS) this.#sample(age);
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  #sample(ms: number): void {
    const at = performance.now();
    this.#samples.push({ at, ms });
    while (this.#samples.length > 0 && this.#samples[0]!.at < at - RANGE_WINDOW_MS) this.#samples.shift();
    this.#root.dataset.latencySamples = String(Number(this.#root.dataset.latencySamples ?? 0) + 1);
  }

  /** Once a second: the shown latency, its range, the bitrate. */
  async #tick(): Promise<void> {
    const now = performance.now();
    const recent = this.#samples.filter((s) => s.at >= now - SHOWN_WINDOW_MS).map((s) => s.ms);
    if (recent.length > 0) {
      const shown = Math.round(median(recent));
      this.#root.dataset.latencyMs = String(shown);
      this.#part('latency').textContent = `${shown} ms`;
      const all = this.#samples.map((s) => s.ms);
      this.#part('range').textContent = `${Math.round(Math.min(...all))}–${Math.round(Math.max(...all))} ms`;
    } else if (this.#frames > 0) {
      this.#part('latency').textContent = 'no clock in view';
    }
    const player = this.#player;
    if (!player) return;
    const bytes = await player.bytesReceived();
    this.#bytes.push({ at: now, bytes });
    while (this.#bytes.length > 4) this.#bytes.shift();
    const first = this.#bytes[0]!;
    if (this.#bytes.length >= 2 && now > first.at) {
      const kbps = Math.round(((bytes - first.bytes) * 8) / (now - first.at));
      this.#root.dataset.kbps = String(kbps);
      this.#part('bitrate').textContent = `${kbps} kbit/s`;
    }
  }
}
