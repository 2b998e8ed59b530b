/**
 * WHEP loss recovery and congestion feedback in Chromium: the answer carries RTX under the
 * viewer's own payload type (with NACK feedback) and the header extensions under the viewer's own
 * ids (transport-cc among them). With every 20th video packet dropped between the node and the
 * viewer (a UDP relay in front of the node's ICE-lite port) the viewer NACKs, the node retransmits
 * the packets as RTX, the picture keeps decoding, and the viewer sends transport-cc feedback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { tokenFor } from '../helpers/whipWhep';
import { LossyUdpProxy } from '../helpers/lossyUdpProxy';

const ROOM = 'whep-rtx';

/** The page's WHEP viewer: offer, answer through the relay, stats. */
const PAGE = `
window.rtxViewer = {
  async offer(url, token) {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token }, body: pc.localDescription.sdp });
    this.pc = pc;
    this.answer = await res.text();
    return { status: res.status, offer: pc.localDescription.sdp, answer: this.answer };
  },
  async connectThrough(port) {
    const sdp = this.answer
      .split('\\r\\n')
      .filter((l) => !(l.startsWith('a=candidate:') && / tcp /i.test(l)))
      .map((l) => (l.startsWith('a=candidate:') ? l.replace(/ \\d+ typ host/, ' ' + port + ' typ host') : l))
      .join('\\r\\n');
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  },
  async stats() {
    const out = { framesDecoded: 0, nackCount: 0, retransmitted: 0, state: this.pc.connectionState };
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.framesDecoded = s.framesDecoded ?? 0;
        out.nackCount = s.nackCount ?? 0;
        out.retransmitted = s.retransmittedPacketsReceived ?? 0;
      }
    });
    return out;
  },
};
`;

interface ViewerStats {
  framesDecoded: number;
  nackCount: number;
  retransmitted: number;
  state: string;
}

let node: SubsecNode;
let browser: Chromium;
let page: Page;
let proxy: LossyUdpProxy | undefined;

beforeAll(async () => {
  node = await startNode({ sfu: { workers: 1 }, synthetic: { enabled: true, room: ROOM, width: 320, height: 180, fps: 25, bitrateKbps: 500 } });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  proxy?.close();
  await browser?.close();
  await node?.close();
});

/** `a=<attr>:<pt> …` values of the video section. */
function videoSection(sdp: string): string[] {
  const m = sdp.split('\r\n');
  const start = m.findIndex((l) => l.startsWith('m=video'));
  const end = m.findIndex((l, i) => i > start && l.startsWith('m='));
  return m.slice(start, end === -1 ? undefined : end);
}

describe('WHEP loss recovery (Chromium)', () => {
  it("answers RTX and header extensions in the viewer's numbering; dropped packets are NACKed and resent; transport-cc feedback flows", async () => {
    page = await browser.page(node);
    await page.addScriptTag({ content: PAGE });
    const token = tokenFor(node, { room: ROOM, identity: 'rtx-viewer', canSubscribe: true });
    const { status, offer, answer } = (await page.evaluate(
      `rtxViewer.offer(${JSON.stringify(`${node.url}/whep/${ROOM}/synthetic`)}, ${JSON.stringify(token)})`,
    )) as { status: number; offer: string; answer: string };
    expect(status).toBe(201);

    const section = videoSection(answer);
    const videoPt = Number(section[0]!.split(' ')[3]);
    const rtxLine = section.find((l) => new RegExp(`^a=fmtp:\\d+ apt=${videoPt}$`).test(l));
    expect(rtxLine, 'an RTX codec for the video payload type').toBeDefined();
    const rtxPt = Number(/^a=fmtp:(\d+)/.exec(rtxLine!)![1]);
    // The viewer's own numbering: the offer maps the same RTX payload type to the same codec.
    expect(videoSection(offer)).toContain(`a=fmtp:${rtxPt} apt=${videoPt}`);
    expect(section).toContain(`a=rtpmap:${rtxPt} rtx/90000`);
    expect(section).toContain(`a=rtcp-fb:${videoPt} nack`);
    expect(section.some((l) => l.startsWith('a=ssrc-group:FID '))).toBe(true);
    // Header extensions under the viewer's ids, transport-cc among them.
    const tcc = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
    const tccLine = videoSection(offer).find((l) => l.startsWith('a=extmap:') && l.endsWith(` ${tcc}`));
    expect(section).toContain(tccLine);
    expect(section).toContain(`a=rtcp-fb:${videoPt} transport-cc`);

    const port = Number(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host/im.exec(answer)![1]);
    proxy = await LossyUdpProxy.start({ targetPort: port, payloadType: videoPt, dropRatio: 0.05 });
    await page.evaluate(`rtxViewer.connectThrough(${proxy.port})`);

    const stats = () => page.evaluate('rtxViewer.stats()') as Promise<ViewerStats>;
    const start = await waitFor(
      async () => {
        const s = await stats();
        return s.framesDecoded > 0 ? s : undefined;
      },
      { timeoutMs: 20_000, what: 'first decoded frame through the lossy relay' },
    );
    const after = await waitFor(
      async () => {
        const s = await stats();
        return s.framesDecoded >= start.framesDecoded + 100 && proxy!.counts.dropped >= 20 ? s : undefined;
      },
      { timeoutMs: 30_000, what: '100 more frames with 20 packets dropped' },
    );

    const consumer = [...node.whep.sessions.values()].flatMap((s) => s.consumers).find((c) => c.kind === 'video')!;
    const sent = (await consumer.getStats()).find((s) => s.type === 'outbound-rtp') as { packetsRetransmitted: number; nackPacketCount: number } | undefined;
    expect(after.nackCount).toBeGreaterThan(0);
    expect(sent?.nackPacketCount ?? 0).toBeGreaterThan(0);
    // Most dropped packets were asked for again and resent as RTX (some are recovered by a key frame instead).
    expect(sent?.packetsRetransmitted ?? 0).toBeGreaterThanOrEqual(proxy.counts.dropped / 2);
    expect(after.retransmitted).toBeGreaterThan(0);
    // Transport-wide congestion control under the viewer's extension ids: the viewer reads the
    // sequence numbers the node writes and sends transport-cc feedback.
    expect(proxy.counts.transportFeedback).toBeGreaterThan(0);
    console.log(
      `WHEP_RTX_FIGURE ${JSON.stringify({ dropped: proxy.counts.dropped, forwarded: proxy.counts.forwarded, transportFeedback: proxy.counts.transportFeedback, viewerNacks: after.nackCount, retransmitted: sent?.packetsRetransmitted, receivedRtx: after.retransmitted, framesDecoded: after.framesDecoded })}`,
    );
  }, 90_000);
});
