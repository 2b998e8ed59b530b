/**
 * A media rig in the network lab, shared by the lab tests and bench:network: a subsec node in
 * host `node`, a Chromium publisher in host `pub` painting the glass-to-glass clock code
 * (loadtest/latency/clock-code.js) and publishing it over WebRTC, and Chromium viewers in hosts
 * of their own, each on its own profile, watching through the SDK (pages/lab-viewer.js).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { LocalNode } from '../core/LocalNode';
import { ensureSdkBuilt } from '../core/sdkBundle';
import { launchLabBrowser, type LabBrowser } from './labBrowser';
import { NetworkLab, type LabHost } from './NetworkLab';
import type { NetworkProfile } from './profiles';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLOCK_CODE = fs.readFileSync(path.join(here, '..', 'latency', 'clock-code.js'), 'utf8');
const VIEWER_PAGE = fs.readFileSync(path.join(here, 'pages', 'lab-viewer.js'), 'utf8');
/** Geometry of the clock code (as bench:latency). */
export const CLOCK = { width: 640, height: 360, block: 32, bits: 48, perRow: 16 };
/** Room every rig publishes into. */
export const LAB_ROOM = 'netlab';

/** Options of {@link MediaLab.start}. */
export interface MediaLabOptions {
  /** Extra node configuration (merged over the rig's), or a function of the node's host. */
  nodeConfig?: Record<string, unknown> | ((host: LabHost) => Record<string, unknown>);
  /** Name of the first node's host (default `node`). */
  nodeHostName?: string;
  /** Hosts to create before the first node starts (e.g. the Redis a cascade node needs at start). */
  beforeNode?: (lab: NetworkLab) => Promise<void>;
  /** Profile of the node's host (default lan). */
  nodeProfile?: NetworkProfile | string;
  /** Profile of the publisher's host (default lan). */
  publisherProfile?: NetworkProfile | string;
  /** Start the node's MoQ relay (WebSocket) and its SFU bridge. */
  moq?: boolean;
}

/** Figures a viewer's `sample` returns. */
export interface ViewerSample {
  g2gMs: number[];
  rejected: number;
  transport: string;
  /** What the SDK's connection runs over (MoQ: `webtransport` or `websocket`; WebRTC: undefined). */
  wire?: string;
  videoHeight: number;
  /** Time frozen in the window: gaps between presented frames over max(3 x mean, mean + 150 ms). */
  frozenMs: number;
  before: VideoStats;
  after: VideoStats;
}

/** The receiving peer connection's video stats (summed over its peer connections). */
export interface VideoStats {
  nackCount: number;
  retransmitted: number;
  packetsLost: number;
  packetsReceived: number;
  framesDecoded: number;
  freezeCount: number;
  totalFreezesDuration: number;
  bytesReceived: number;
  frameHeight: number;
  protocol: string;
  candidateType: string;
}

/** A Chromium viewer in its own lab host. */
export class LabViewer {
  constructor(
    readonly host: LabHost,
    readonly browser: LabBrowser,
    readonly page: Page,
    /** Uncaught page errors. */
    readonly errors: string[],
  ) {}

  /** Starts watching the publisher; resolves with the time to the first presented frame. */
  async start(
    rig: MediaLab,
    transport: 'auto' | 'webrtc' | 'moq' | 'hls',
    extra: { clientOptions?: unknown; watchOptions?: unknown; url?: string } = {},
  ): Promise<{ firstFrameMs: number; transport: string; wire?: string }> {
    const args = { url: rig.url, token: await rig.token(`viewer-${this.host.name}`, false), identity: 'pub', transport, ...extra };
    return (await this.page.evaluate(`subsecLabViewer.start(${JSON.stringify(args)})`)) as { firstFrameMs: number; transport: string; wire?: string };
  }

  /** Samples glass-to-glass latency for `ms` with the stats before and after. */
  async sample(ms: number): Promise<ViewerSample> {
    return (await this.page.evaluate(`subsecLabViewer.sample(${JSON.stringify({ code: CLOCK, sampleMs: ms })})`)) as ViewerSample;
  }

  /** Wall-clock times of every presented frame for `ms`. */
  async frameTimes(ms: number): Promise<number[]> {
    return (await this.page.evaluate(`subsecLabViewer.frameTimes(${ms})`)) as number[];
  }

  /** Per-half-second received bytes and frame height since the start. */
  async timeline(): Promise<Array<{ at: number; bytes: number; frameHeight: number; framesDecoded: number; transport?: string }>> {
    return (await this.page.evaluate('subsecLabViewer.timeline()')) as Array<{ at: number; bytes: number; frameHeight: number; framesDecoded: number }>;
  }

  /** Rebuffering events since the start ('waiting' until playing again). */
  async stalls(): Promise<Array<{ at: number; ms: number }>> {
    return (await this.page.evaluate('subsecLabViewer.stalls()')) as Array<{ at: number; ms: number }>;
  }

  async close(): Promise<void> {
    await this.page.evaluate('subsecLabViewer.stop()').catch(() => undefined);
    await this.browser.close();
  }
}

/** The rig. */
export class MediaLab {
  readonly viewers: LabViewer[] = [];
  /** Nodes started with `addNode` (besides the first). */
  readonly extraNodes: LocalNode[] = [];
  #publisher?: LabBrowser;
  /** The publisher's page (after `publish()`). */
  publisherPage?: Page;

  private constructor(
    readonly lab: NetworkLab,
    readonly nodeHost: LabHost,
    readonly pubHost: LabHost,
    readonly node: LocalNode,
  ) {}

  /** Creates the lab, the node host and the publisher host, and starts the node. */
  static async start(options: MediaLabOptions = {}): Promise<MediaLab> {
    await ensureSdkBuilt();
    const lab = await NetworkLab.create({ controller: true });
    try {
      await options.beforeNode?.(lab);
      const nodeHost = await lab.addHost(options.nodeHostName ?? 'node', { profile: options.nodeProfile ?? 'lan' });
      const pubHost = await lab.addHost('pub', { profile: options.publisherProfile ?? 'lan' });
      const node = await LocalNode.start({
        labHost: nodeHost,
        moq: options.moq,
        startTimeoutMs: 60_000,
        config: {
          http: { demo: true },
          sfu: { webRtcServer: { enabled: false } },
          logLevel: 'warn',
          ...(typeof options.nodeConfig === 'function' ? options.nodeConfig(nodeHost) : (options.nodeConfig ?? {})),
        },
      });
      return new MediaLab(lab, nodeHost, pubHost, node);
    } catch (err) {
      await lab.close();
      throw err;
    }
  }

  /** The node's base URL (its lab address). */
  get url(): string {
    return this.node.url;
  }

  /** A token for `identity` in the rig's room. */
  async token(identity: string, canPublish: boolean): Promise<string> {
    const res = await fetch(`${this.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.node.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ room: LAB_ROOM, identity, canPublish, canSubscribe: true }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`POST /v1/tokens: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  }

  /**
   * Starts the Chromium publisher (identity `pub`): the clock code on top, moving noise below it
   * so the encoder spends a realistic bitrate (about 1.5 Mbit/s at 640x360; the code alone
   * compresses to 200 kbit/s), published over WebRTC; `simulcast` publishes three layers of a
   * 1280x720 canvas.
   */
  async publish(options: { simulcast?: boolean; codec?: 'H264' | 'VP8'; url?: string; clientOptions?: Record<string, unknown> } = {}): Promise<void> {
    this.#publisher = await launchLabBrowser(this.pubHost);
    const page = await this.#publisher.page();
    await page.addScriptTag({ content: CLOCK_CODE });
    await page.addScriptTag({ content: VIEWER_PAGE }); // its peer-connection tracker: senderStats()
    const scale = options.simulcast ? 2 : 1;
    const code = { ...CLOCK, width: CLOCK.width * scale, height: CLOCK.height * scale, block: CLOCK.block * scale };
    const args = {
      url: options.url ?? this.url,
      token: await this.token('pub', true),
      code,
      codec: options.codec ?? 'H264',
      simulcast: options.simulcast ?? false,
      clientOptions: options.clientOptions ?? {},
    };
    await page.evaluate(`(async (args) => {
      const { connect } = await import(args.url + '/sdk/subsec.js');
      const { width, height, block } = args.code;
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      document.body.append(canvas);
      const ctx = canvas.getContext('2d');
      const codeRows = 6 * block;
      const paint = () => {
        window.subsecClockCode.paintCode(ctx, args.code, Date.now());
        const cell = block / 2;
        for (let y = codeRows; y < height; y += cell)
          for (let x = 0; x < width; x += cell) {
            const v = Math.floor(Math.random() * 256);
            ctx.fillStyle = 'rgb(' + v + ',' + ((v * 7) % 256) + ',' + ((v * 13) % 256) + ')';
            ctx.fillRect(x, y, cell, cell);
          }
      };
      paint();
      setInterval(paint, 1000 / 30);
      const client = await connect(args.url, args.token, args.clientOptions);
      window.benchClient = client;
      await client.publish(canvas.captureStream(30).getVideoTracks()[0], { simulcast: args.simulcast, codec: args.codec });
    })(${JSON.stringify(args)})`);
    this.publisherPage = page;
  }

  /** Adds a viewer host on `profile` with a Chromium page ready to watch. */
  async addViewer(name: string, profile: NetworkProfile | string, options: { startSchedule?: boolean } = {}): Promise<LabViewer> {
    const host = await this.lab.addHost(name, { profile, startSchedule: options.startSchedule ?? true });
    const browser = await launchLabBrowser(host);
    const errors: string[] = [];
    try {
      const page = await browser.page();
      page.on('pageerror', (e) => errors.push(e.message));
      await page.addScriptTag({ content: CLOCK_CODE });
      await page.addScriptTag({ content: VIEWER_PAGE });
      const viewer = new LabViewer(host, browser, page, errors);
      this.viewers.push(viewer);
      return viewer;
    } catch (err) {
      await browser.close();
      throw err;
    }
  }

  /** Starts another node in a new host `name` (same secrets as the first, so tokens work on every node). */
  async addNode(
    name: string,
    config: (host: LabHost) => Record<string, unknown>,
    profile: NetworkProfile | string = 'lan',
  ): Promise<{ host: LabHost; node: LocalNode }> {
    const host = await this.lab.addHost(name, { profile });
    const node = await LocalNode.start({ labHost: host, startTimeoutMs: 60_000, config: { http: { demo: true }, logLevel: 'warn', ...config(host) } });
    this.extraNodes.push(node);
    return { host, node };
  }

  /** Closes viewers, the publisher, the nodes and the lab. */
  async close(): Promise<void> {
    for (const v of this.viewers) await v.close();
    await this.#publisher?.close();
    for (const n of this.extraNodes) await n.close();
    await this.node.close();
    await this.lab.close();
  }
}
