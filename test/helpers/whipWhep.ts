/**
 * Clients for WHIP/WHEP tests: HTTP helpers, a Chromium launcher (Debian's chromium through
 * playwright-core with a fake camera), in-page publisher/viewer code built on a bare
 * RTCPeerConnection, and a Node WHEP viewer on node-datachannel that counts RTP packets.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import nodeDataChannel, { type PeerConnection } from 'node-datachannel';
import type { SubsecNode } from '../../src/SubsecNode';
import type { GrantsInput } from '../../src/auth/tokens';

/** A token for `grants` signed by the node. */
export function tokenFor(node: SubsecNode, grants: GrantsInput, ttlSeconds?: number): string {
  return node.tokens.issue(grants, ttlSeconds);
}

/** POSTs an SDP offer; returns status, headers and body text. */
export async function postSdp(url: string, sdp: string, token?: string, extra: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra },
    body: sdp,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** A launched Chromium with its own profile; `close()` removes both. */
export interface Chromium {
  context: BrowserContext;
  /** A page on the node's origin (so fetch to /whip and /whep is same-origin). */
  page(node: SubsecNode): Promise<Page>;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fake camera and microphone. */
export async function launchChromium(): Promise<Chromium> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-whip-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
    permissions: ['camera', 'microphone'],
  });
  return {
    context,
    async page(node) {
      const page = await context.newPage();
      await page.goto(`${node.url}/metrics`);
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What the in-page publisher should send. */
export interface PublishOptions {
  url: string;
  token: string;
  codec?: 'VP8' | 'H264';
  simulcast?: boolean;
  width?: number;
  height?: number;
}

/**
 * Publishes the fake camera + microphone from the page with a bare RTCPeerConnection (WHIP);
 * stores the PeerConnection and the resource URL on `window.whip`. Returns the HTTP status.
 */
export async function publishFromPage(page: Page, o: PublishOptions): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(async (o) => {
    const media = await navigator.mediaDevices.getUserMedia({ video: { width: o.width ?? 640, height: o.height ?? 360, frameRate: 15 }, audio: true });
    const pc = new RTCPeerConnection();
    const video = pc.addTransceiver(media.getVideoTracks()[0]!, {
      direction: 'sendonly',
      sendEncodings: o.simulcast
        ? [{ rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 }, { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 400_000 }, { rid: 'f', maxBitrate: 1_200_000 }]
        : undefined,
    });
    if (o.codec) {
      const codecs = RTCRtpSender.getCapabilities('video')!.codecs;
      const preferred = codecs.filter((c) => c.mimeType === `video/${o.codec}`);
      video.setCodecPreferences([...preferred, ...codecs.filter((c) => c.mimeType !== `video/${o.codec}`)]);
    }
    pc.addTransceiver(media.getAudioTracks()[0]!, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(o.url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${o.token}` }, body: pc.localDescription!.sdp });
    const body = await res.text();
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
    (window as any).whip = { pc, location: res.headers.get('location') };
    return { status: res.status, location: res.headers.get('location'), body };
  }, o);
}

/** Starts a WHEP viewer in the page (audio + video recvonly); stores it on `window.whep`. */
export async function viewFromPage(page: Page, url: string, token: string): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(async ({ url, token }) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp });
    const body = await res.text();
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
    (window as any).whep = { pc, location: res.headers.get('location') };
    return { status: res.status, location: res.headers.get('location'), body };
  }, { url, token });
}

/** Decoded video frames, frame size and received audio packets of the page's WHEP viewer. */
export async function viewerStats(page: Page): Promise<{ framesDecoded: number; frameWidth: number; audioPackets: number; state: string }> {
  return page.evaluate(async () => {
    const pc: RTCPeerConnection = (window as any).whep.pc;
    let framesDecoded = 0, frameWidth = 0, audioPackets = 0;
    (await pc.getStats()).forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        framesDecoded = s.framesDecoded ?? 0;
        frameWidth = s.frameWidth ?? 0;
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audioPackets = s.packetsReceived ?? 0;
    });
    return { framesDecoded, frameWidth, audioPackets, state: pc.connectionState };
  });
}

/** A WHEP viewer in Node (libdatachannel) that counts RTP packets per kind. */
export class NodeWhepViewer {
  readonly pc: PeerConnection;
  readonly packets = { audio: 0, video: 0 };
  location: string | null = null;
  state = 'new';

  constructor() {
    this.pc = new nodeDataChannel.PeerConnection('whep-viewer', { iceServers: [] });
    this.pc.onStateChange((s: string) => {
      this.state = s;
    });
  }

  /** Creates the offer (H264 + VP8 video, Opus audio, recvonly), POSTs it, applies the answer. */
  async start(url: string, token: string): Promise<{ status: number; body: string }> {
    const video = new nodeDataChannel.Video('0', 'RecvOnly');
    video.addH264Codec(102);
    video.addVP8Codec(96);
    const audio = new nodeDataChannel.Audio('1', 'RecvOnly');
    audio.addOpusCodec(111);
    const vt = this.pc.addTrack(video);
    const at = this.pc.addTrack(audio);
    vt.onMessage(() => this.packets.video++);
    at.onMessage(() => this.packets.audio++);
    const gathered = new Promise<void>((resolve) => this.pc.onGatheringStateChange((s: string) => s === 'complete' && resolve()));
    this.pc.setLocalDescription();
    await Promise.race([gathered, new Promise((r) => setTimeout(r, 3000))]);
    const offer = this.pc.localDescription()!.sdp;
    const res = await postSdp(url, offer, token);
    this.location = res.headers.get('location');
    if (res.status === 201) this.pc.setRemoteDescription(res.body, 'answer');
    return { status: res.status, body: res.body };
  }

  close(): void {
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }
}
