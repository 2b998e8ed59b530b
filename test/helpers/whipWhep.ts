/**
 * Clients for WHIP/WHEP tests: HTTP helpers (Chromium itself: loadtest/core/chromium.ts),
 * in-page publisher/viewer code built on a bare RTCPeerConnection, and a Node WHEP viewer on node-datachannel that counts RTP packets.
 */
import type { Page } from 'playwright-core';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
        ? [
            { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
            { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 400_000 },
            { rid: 'f', maxBitrate: 1_200_000 },
          ]
        : undefined,
    });
    if (o.codec) {
      const codecs = RTCRtpSender.getCapabilities('video')!.codecs;
      const preferred = codecs.filter((c) => c.mimeType === `video/${o.codec}`);
      video.setCodecPreferences([...preferred, ...codecs.filter((c) => c.mimeType !== `video/${o.codec}`)]);
    }
    pc.addTransceiver(media.getAudioTracks()[0]!, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${o.token}` },
      body: pc.localDescription!.sdp,
    });
    const body = await res.text();
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
    (window as any).whip = { pc, location: res.headers.get('location') };
    return { status: res.status, location: res.headers.get('location'), body };
  }, o);
}

/** Starts a WHEP viewer in the page (audio + video recvonly); stores it on `window.whep`. */
export async function viewFromPage(page: Page, url: string, token: string): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(
    async ({ url, token }) => {
      const pc = new RTCPeerConnection();
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
        body: pc.localDescription!.sdp,
      });
      const body = await res.text();
      if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
      (window as any).whep = { pc, location: res.headers.get('location') };
      return { status: res.status, location: res.headers.get('location'), body };
    },
    { url, token },
  );
}

/** Decoded video frames, frame size and received audio packets of the page's WHEP viewer. */
export async function viewerStats(page: Page): Promise<{ framesDecoded: number; frameWidth: number; audioPackets: number; state: string }> {
  return page.evaluate(async () => {
    const pc: RTCPeerConnection = (window as any).whep.pc;
    let framesDecoded = 0,
      frameWidth = 0,
      audioPackets = 0;
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

/**
 * A WHEP viewer in Node (libdatachannel) that counts RTP packets per kind. It runs in a child
 * process (whepViewerProcess.mjs) so its native threads never share the test's event loop.
 */
export class NodeWhepViewer {
  readonly packets = { audio: 0, video: 0 };
  location: string | null = null;
  state = 'new';
  #proc: ChildProcess | undefined;

  /** Starts the viewer process; resolves with the POST's status once it has answered. */
  start(url: string, token: string): Promise<{ status: number; body: string }> {
    const script = fileURLToPath(new URL('./whepViewerProcess.mjs', import.meta.url));
    const proc = spawn(process.execPath, [script, url, token], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#proc = proc;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('WHEP viewer process did not answer')), 15_000);
      let buffered = '';
      proc.once('exit', (code) => reject(new Error(`WHEP viewer process exited (${code})`)));
      proc.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const msg = JSON.parse(line);
          if ('status' in msg) {
            clearTimeout(timer);
            this.location = msg.location;
            resolve({ status: msg.status, body: msg.body });
          } else {
            Object.assign(this.packets, msg.packets);
            this.state = msg.state;
          }
        }
      });
    });
  }

  close(): void {
    if (this.#proc && this.#proc.exitCode === null) this.#proc.kill('SIGTERM');
  }
}

/** A browser-like SDP offer without a browser (ICE never connects; enough for HTTP-level tests). */
export function fakeOffer(
  o: { direction?: 'sendonly' | 'recvonly'; video?: 'VP8' | 'H264' | 'AV1' | null; audio?: boolean; simulcast?: boolean } = {},
): string {
  const dir = o.direction ?? 'sendonly';
  const fp = Array.from({ length: 32 }, (_, i) => ((i * 37 + 11) % 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
  const mids = [...(o.video !== null ? ['0'] : []), ...(o.audio !== false ? ['1'] : [])];
  const common = [
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    `a=fingerprint:sha-256 ${fp}`,
    'a=setup:actpass',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    `a=${dir}`,
  ];
  const lines = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${mids.join(' ')}`];
  if (o.video !== null) {
    const codec = o.video ?? 'VP8';
    lines.push(
      'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
      ...common,
      'a=mid:0',
      'a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
      'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
      `a=rtpmap:96 ${codec}/90000`,
      'a=rtcp-fb:96 nack',
      'a=rtcp-fb:96 nack pli',
      'a=rtcp-fb:96 transport-cc',
      ...(codec === 'H264' ? ['a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'] : []),
      'a=rtpmap:97 rtx/90000',
      'a=fmtp:97 apt=96',
    );
    if (o.simulcast) lines.push('a=rid:lo send', 'a=rid:mid send', 'a=rid:hi send', 'a=simulcast:send lo;mid;hi');
    else if (dir === 'sendonly') lines.push('a=ssrc-group:FID 1111 2222', 'a=ssrc:1111 cname:test', 'a=ssrc:2222 cname:test');
  }
  if (o.audio !== false) {
    lines.push(
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      ...common,
      'a=mid:1',
      'a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
    );
    if (dir === 'sendonly') lines.push('a=ssrc:3333 cname:test');
  }
  return lines.join('\r\n') + '\r\n';
}
