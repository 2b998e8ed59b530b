/**
 * Maps offered m-sections to mediasoup RTP objects: producer RtpParameters for a WHIP offer
 * (codec choice in the client's order, RTX, header extensions, SSRC or RID simulcast
 * encodings) and consumer RtpCapabilities for a WHEP offer; and the reverse, answer codecs
 * from consumer RtpParameters.
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import { BadRequestError } from '../core/errors';
import type { MediaSection, SdpCodec } from './SessionDescription';
import type { AnswerCodec } from './writeAnswer';

/** Codecs a WHIP publisher may send (checked against the router before producing). */
const PUBLISHABLE = new Set(['audio/opus', 'video/vp8', 'video/h264']);

/** RTCP feedback the SFU acts on as a receiver. */
const RECEIVER_FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc']);

/** One way to produce an offered section: parameters for mediasoup plus what to answer. */
export interface ProducerPlan {
  kind: 'audio' | 'video';
  rtpParameters: types.RtpParameters;
  /** Codec lines of the answer (the main codec and its RTX). */
  answerCodecs: AnswerCodec[];
  extmaps: { id: number; uri: string }[];
  /** Simulcast RIDs we accept, in the order the client listed them. */
  recvRids?: string[];
}

const mimeOf = (kind: string, c: SdpCodec) => `${kind}/${c.name}`.toLowerCase();

/**
 * Producer plans for a sendonly/sendrecv section, most preferred first: one per offered
 * codec the router also has (mediasoup's own check decides H264 profile compatibility).
 */
export function producerPlans(section: MediaSection, router: types.RtpCapabilities): ProducerPlan[] {
  const kind = section.kind;
  if (kind !== 'audio' && kind !== 'video') return [];
  const extmaps = section.extmaps.filter((e) => router.headerExtensions?.some((h) => h.kind === kind && h.uri === e.uri));
  const encodings = encodingsOf(section, extmaps);
  const cname = firstCname(section) ?? crypto.randomUUID().slice(0, 16);
  const plans: ProducerPlan[] = [];
  for (const codec of section.codecs) {
    const mime = mimeOf(kind, codec);
    if (!PUBLISHABLE.has(mime)) continue;
    const routerCodec = router.codecs?.find(
      (rc) => rc.mimeType.toLowerCase() === mime && rc.clockRate === codec.clockRate && (kind !== 'audio' || (rc.channels ?? 1) === (codec.channels ?? 1)),
    );
    if (!routerCodec) continue;
    const supported = new Set((routerCodec.rtcpFeedback ?? []).map((f) => `${f.type}${f.parameter ? ' ' + f.parameter : ''}`));
    const feedback = codec.rtcpFeedback.filter((f) => {
      const key = `${f.type}${f.parameter ? ' ' + f.parameter : ''}`;
      return RECEIVER_FEEDBACK.has(key) && supported.has(key);
    });
    const main: types.RtpCodecParameters = {
      mimeType: `${kind}/${codec.name}`,
      payloadType: codec.payloadType,
      clockRate: codec.clockRate,
      ...(codec.channels ? { channels: codec.channels } : {}),
      parameters: { ...codec.parameters },
      rtcpFeedback: feedback.map((f) => ({ type: f.type, parameter: f.parameter ?? '' })),
    };
    const codecs: types.RtpCodecParameters[] = [main];
    const answerCodecs: AnswerCodec[] = [{ ...codec, rtcpFeedback: feedback }];
    const rtx = kind === 'video' ? section.codecs.find((c) => c.name.toLowerCase() === 'rtx' && Number(c.parameters.apt) === codec.payloadType) : undefined;
    if (rtx) {
      codecs.push({ mimeType: 'video/rtx', payloadType: rtx.payloadType, clockRate: rtx.clockRate, parameters: { apt: codec.payloadType }, rtcpFeedback: [] });
      answerCodecs.push({ payloadType: rtx.payloadType, name: rtx.name, clockRate: rtx.clockRate, parameters: { apt: codec.payloadType } });
    }
    plans.push({
      kind,
      rtpParameters: {
        mid: section.mid,
        codecs,
        headerExtensions: extmaps.map((e) => ({ uri: e.uri as types.RtpHeaderExtensionUri, id: e.id })),
        encodings: encodings.encodings.map(({ rtx: rtxEncoding, ...e }) => (rtx && rtxEncoding ? { ...e, rtx: rtxEncoding } : e)),
        rtcp: { cname, reducedSize: true },
      },
      answerCodecs,
      extmaps,
      recvRids: encodings.rids,
    });
  }
  return plans;
}

function firstCname(section: MediaSection): string | undefined {
  for (const attrs of section.ssrcs.values()) if (attrs.cname) return attrs.cname;
  return undefined;
}

/** Encodings from RIDs (simulcast), else SSRCs (+ FID group for RTX), else MID-only matching. */
function encodingsOf(section: MediaSection, extmaps: { uri: string }[]): { encodings: types.RtpEncodingParameters[]; rids?: string[] } {
  const sendRids = section.rids.filter((r) => r.direction === 'send');
  if (sendRids.length > 0) {
    if (!extmaps.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id')) {
      throw new BadRequestError(`m-section ${section.mid ?? '?'} offers RIDs without the rtp-stream-id header extension`);
    }
    const order = section.simulcastSend?.map((alts) => alts[0]!.replace(/^~/, '')) ?? sendRids.map((r) => r.id);
    const rids = order.filter((id) => sendRids.some((r) => r.id === id)).slice(0, 4);
    if (rids.length === 0) throw new BadRequestError(`m-section ${section.mid ?? '?'}: a=simulcast names no offered RID`);
    return { encodings: rids.map((rid) => ({ rid })), rids };
  }
  const ssrcs = [...section.ssrcs.keys()];
  if (ssrcs.length > 0) {
    const fid = section.ssrcGroups.find((g) => g.semantics === 'FID' && g.ssrcs.length === 2);
    const repair = new Set(section.ssrcGroups.filter((g) => g.semantics === 'FID').map((g) => g.ssrcs[1]));
    const main = ssrcs.find((s) => !repair.has(s))!;
    const rtxSsrc = fid && fid.ssrcs[0] === main ? fid.ssrcs[1] : undefined;
    return { encodings: [rtxSsrc ? { ssrc: main, rtx: { ssrc: rtxSsrc } } : { ssrc: main }] };
  }
  if (!section.mid || !extmaps.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid')) {
    throw new BadRequestError(`m-section ${section.mid ?? '?'} has no SSRC, no RID and no MID extension: cannot tell its RTP apart`);
  }
  return { encodings: [{}] };
}

/** RTP capabilities of a WHEP viewer for one recvonly section, with its payload types and extension ids. */
export function consumerCapabilities(section: MediaSection): types.RtpCapabilities {
  const kind = section.kind as types.MediaKind;
  return {
    codecs: section.codecs
      .filter((c) => c.name && c.clockRate > 0)
      .map((c) => ({
        kind,
        mimeType: `${kind}/${c.name}`,
        preferredPayloadType: c.payloadType,
        clockRate: c.clockRate,
        ...(kind === 'audio' ? { channels: c.channels ?? 1 } : {}),
        parameters: { ...c.parameters },
        rtcpFeedback: c.rtcpFeedback.map((f) => ({ type: f.type, parameter: f.parameter ?? '' })),
      })),
    headerExtensions: section.extmaps.map((e) => ({
      kind,
      uri: e.uri as types.RtpHeaderExtensionUri,
      preferredId: e.id,
      direction: 'sendrecv' as const,
    })),
  };
}

/** Answer codec lines for what a consumer sends. */
export function answerCodecsOf(rtp: types.RtpParameters): AnswerCodec[] {
  return rtp.codecs.map((c) => ({
    payloadType: c.payloadType,
    name: c.mimeType.split('/')[1]!,
    clockRate: c.clockRate,
    channels: c.channels,
    parameters: c.parameters,
    rtcpFeedback: c.rtcpFeedback?.map((f) => ({ type: f.type, parameter: f.parameter || undefined })),
  }));
}
