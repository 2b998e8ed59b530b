/** SDP parsing and the offer → mediasoup mappings used by WHIP and WHEP. */
import { describe, expect, it } from 'vitest';
import { parseSdp } from '../../src/sdp/SessionDescription';
import { producerPlans } from '../../src/sdp/rtpMapping';
import { renumberedCodecs } from '../../src/egress/whep/WhepRouters';
import {
  answerInViewerNumbering,
  encodeViewerNumbering,
  inRouterNumbering,
  offeredExtensionIds,
  offeredRtx,
  viewerNumbering,
  withViewerNumbering,
  VIEWER_NUMBERING_PARAMETER,
} from '../../src/egress/whep/viewerNumbering';
import { parseIceFragment } from '../../src/sdp/writeAnswer';
import { fakeOffer } from '../helpers/whipWhep';
import type { types } from 'mediasoup';

const routerCaps: types.RtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100, rtcpFeedback: [{ type: 'transport-cc' }] },
    {
      kind: 'video',
      mimeType: 'video/VP8',
      clockRate: 90000,
      preferredPayloadType: 101,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'transport-cc' }],
    },
    { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 102, parameters: { apt: 101 } },
    {
      kind: 'video',
      mimeType: 'video/H264',
      clockRate: 90000,
      preferredPayloadType: 103,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' },
    },
  ],
  headerExtensions: [
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 },
    { kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', preferredId: 2 },
    { kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 },
  ],
};

describe('parseSdp', () => {
  it('reads media sections, codecs in m-line order, fmtp, rtcp-fb (also *), RIDs and simulcast', () => {
    const sd = parseSdp(fakeOffer({ simulcast: true }).replace('a=rtcp-fb:96 nack\r\n', 'a=rtcp-fb:* nack\r\n'));
    expect(sd.groups).toEqual([{ semantics: 'BUNDLE', mids: ['0', '1'] }]);
    const [video, audio] = sd.media;
    expect(video!.codecs.map((c) => `${c.payloadType}:${c.name}`)).toEqual(['96:VP8', '97:rtx']);
    expect(video!.codecs[1]!.parameters).toEqual({ apt: 96 });
    expect(video!.codecs[1]!.rtcpFeedback).toEqual([{ type: 'nack' }]);
    expect(video!.rids.map((r) => r.id)).toEqual(['lo', 'mid', 'hi']);
    expect(video!.simulcastSend).toEqual([['lo'], ['mid'], ['hi']]);
    expect(audio!.codecs[0]).toMatchObject({ name: 'opus', clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } });
    expect(video!.fingerprint?.algorithm).toBe('sha-256');
  });

  it('names the offending line of malformed input', () => {
    expect(() => parseSdp('')).toThrow(/empty SDP/);
    expect(() => parseSdp('hello')).toThrow(/v=0/);
    expect(() => parseSdp('v=0\r\nm=video x\r\n')).toThrow(/SDP line 2 .*malformed m-line/);
    expect(() => parseSdp('v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:300 VP8/90000\r\n')).toThrow(/line 3.*payload type/);
    expect(() => parseSdp('v=0\r\n' + 'a=x\r\n'.repeat(5000))).toThrow(/more than/);
  });
});

describe('producerPlans', () => {
  it('maps SSRC offers with RTX to one encoding and filters feedback to what the router does', () => {
    const [plan] = producerPlans(parseSdp(fakeOffer()).media[0]!, routerCaps);
    expect(plan!.rtpParameters.codecs.map((c) => c.mimeType)).toEqual(['video/VP8', 'video/rtx']);
    expect(plan!.rtpParameters.encodings).toEqual([{ ssrc: 1111, rtx: { ssrc: 2222 } }]);
    expect(plan!.rtpParameters.codecs[0]!.rtcpFeedback!.map((f) => f.type)).toEqual(['nack', 'nack', 'transport-cc']);
    expect(plan!.extmaps.map((e) => e.id)).toEqual([9, 10]);
  });

  it('maps RID offers to simulcast encodings in a=simulcast order', () => {
    const [plan] = producerPlans(parseSdp(fakeOffer({ simulcast: true })).media[0]!, routerCaps);
    expect(plan!.rtpParameters.encodings).toEqual([{ rid: 'lo' }, { rid: 'mid' }, { rid: 'hi' }]);
    expect(plan!.recvRids).toEqual(['lo', 'mid', 'hi']);
  });

  it('offers no plan for codecs the node does not publish', () => {
    expect(producerPlans(parseSdp(fakeOffer({ video: 'AV1' })).media[0]!, routerCaps)).toEqual([]);
  });
});

describe('renumberedCodecs (WHEP routers)', () => {
  it("gives the room's codecs the viewer's payload types, matching H264 by profile and mode", () => {
    const offer = parseSdp(
      fakeOffer({ direction: 'recvonly', video: 'H264' })
        .replace(/\b96\b/g, '108')
        .replace(/\b111\b/g, '63'),
    );
    const codecs = renumberedCodecs(routerCaps, offer.media);
    expect(codecs.map((c) => `${c.mimeType}:${c.preferredPayloadType}`)).toEqual(['audio/opus:63', 'video/H264:108']);
  });
});

describe('viewer numbering (WHEP routers)', () => {
  const TCC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01' as const;
  const ABS = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time' as const;
  const MID = 'urn:ietf:params:rtp-hdrext:sdes:mid' as const;
  // A router created with the viewer's media payload types: mediasoup picked the RTX ones and
  // keeps its fixed header extension ids.
  const router: types.RtpCapabilities = {
    codecs: [
      { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96 },
      { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 100, parameters: { apt: 96 } },
      { kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 108 },
      { kind: 'video', mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 101, parameters: { apt: 108 } },
    ],
    headerExtensions: [
      { kind: 'audio', uri: MID, preferredId: 1 },
      { kind: 'video', uri: MID, preferredId: 1 },
      { kind: 'video', uri: ABS, preferredId: 4 },
      { kind: 'video', uri: TCC, preferredId: 5 },
      { kind: 'video', uri: 'urn:3gpp:video-orientation', preferredId: 8 },
    ],
  };
  const offer = () =>
    parseSdp(
      fakeOffer({ direction: 'recvonly', video: 'VP8' })
        .replace(/a=extmap:\d+ [^\r]+\r\n/g, '')
        .replace('a=mid:0\r\n', `a=mid:0\r\na=extmap:9 ${MID}\r\na=extmap:2 ${ABS}\r\na=extmap:4 ${TCC}\r\n`),
    );

  it("reads the offer's RTX payload types by the payload type they repair, and its extension ids by URI", () => {
    expect([...offeredRtx(offer().media)]).toEqual([[96, 97]]);
    expect([...offeredExtensionIds(offer().media)]).toEqual([
      [MID, 9],
      [ABS, 2],
      [TCC, 4],
    ]);
  });

  it("maps the router's RTX payload types and extension ids to the viewer's, and leaves out what the viewer did not offer", () => {
    const n = viewerNumbering(router, offer().media);
    expect([...n.rtx]).toEqual([[100, 97]]);
    expect([...n.extensionIds]).toEqual([
      [1, 9],
      [4, 2],
      [5, 4],
    ]);
    expect(encodeViewerNumbering(n)).toBe('r100=97 e1=9 e4=2 e5=4');
  });

  it('puts the numbering on the media codecs of the copy only', () => {
    const n = viewerNumbering(router, offer().media);
    const rtp = withViewerNumbering(
      {
        codecs: [router.codecs![0]!, router.codecs![1]!].map((c) => ({
          mimeType: c.mimeType,
          payloadType: c.preferredPayloadType!,
          clockRate: c.clockRate,
          parameters: { ...c.parameters },
        })),
      },
      n,
    );
    expect(rtp.codecs[0]!.parameters).toEqual({ [VIEWER_NUMBERING_PARAMETER]: 'r100=97 e1=9 e4=2 e5=4' });
    expect(rtp.codecs[1]!.parameters).toEqual({ apt: 96 });
  });

  it("gives the viewer's extensions the router's ids for the consumer, and answers in the viewer's numbering", () => {
    const viewer: types.RtpCapabilities = {
      codecs: [],
      headerExtensions: [
        { kind: 'video', uri: MID, preferredId: 9 },
        { kind: 'video', uri: TCC, preferredId: 4 },
        { kind: 'video', uri: 'urn:example:unknown' as typeof MID, preferredId: 3 },
      ],
    };
    expect(inRouterNumbering(viewer, router).headerExtensions!.map((h) => `${h.uri}:${h.preferredId}`)).toEqual([`${MID}:1`, `${TCC}:5`]);
    const n = viewerNumbering(router, offer().media);
    const answer = answerInViewerNumbering(
      {
        codecs: [
          { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: { [VIEWER_NUMBERING_PARAMETER]: encodeViewerNumbering(n) } },
          { mimeType: 'video/rtx', payloadType: 100, clockRate: 90000, parameters: { apt: 96 } },
        ],
        headerExtensions: [
          { uri: MID, id: 1 },
          { uri: TCC, id: 5 },
        ],
      },
      n,
    );
    expect(answer.codecs.map((c) => `${c.name}:${c.payloadType}:${JSON.stringify(c.parameters)}`)).toEqual(['VP8:96:{}', 'rtx:97:{"apt":96}']);
    expect(answer.extmaps).toEqual([
      { id: 9, uri: MID },
      { id: 4, uri: TCC },
    ]);
  });
});

describe('parseIceFragment', () => {
  it('reads credentials and counts candidates', () => {
    expect(parseIceFragment('a=ice-ufrag:ab\r\na=ice-pwd:cd\r\nm=audio 9 RTP/AVP 0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n')).toEqual({
      iceUfrag: 'ab',
      icePwd: 'cd',
      candidates: 1,
    });
  });
});
