/**
 * A WHEP viewer's RTP numbering: the RTX payload types and header extension ids of its offer.
 *
 * The viewer makes the offer, so it decodes RTP by its own numbering and the answer must repeat
 * it. Media payload types are the easy part: a WHEP router is created with the viewer's
 * (`preferredPayloadType`, see WhepRouters). RTX payload types and header extension ids cannot be
 * chosen through mediasoup's API: a router picks its RTX payload types itself, and the worker
 * writes every forwarded packet's extensions under fixed ids (the preferred ids of mediasoup's
 * supported capabilities). So consumers are created in the router's numbering, and the viewer's
 * numbering travels to the worker as one codec parameter of the producer the consumers read
 * ({@link VIEWER_NUMBERING_PARAMETER}; mediasoup keeps a producer's codec parameters in its
 * consumers' parameters). The worker, patched at build time (scripts/build-mediasoup-worker.mjs),
 * sends each packet of such a consumer with the viewer's RTX payload type and extension ids. The
 * answer is written in the viewer's numbering with {@link answerInViewerNumbering}.
 */
import type { types } from 'mediasoup';
import type { MediaSection } from '../../sdp/SessionDescription';
import { answerCodecsOf } from '../../sdp/rtpMapping';
import type { AnswerCodec } from '../../sdp/writeAnswer';

/** The codec parameter that carries a viewer's numbering to the worker's send path. */
export const VIEWER_NUMBERING_PARAMETER = 'subsec-viewer-numbering';

/** Router numbering → viewer numbering, for one WHEP router. */
export interface ViewerNumbering {
  /** Router RTX payload type → the viewer's RTX payload type for the same media codec. */
  rtx: Map<number, number>;
  /** Worker (router) header extension id → the viewer's id for the same URI. */
  extensionIds: Map<number, number>;
}

/** The offer's RTX payload types (video), keyed by the payload type each repairs (`apt`). */
export function offeredRtx(sections: MediaSection[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of sections) {
    if (m.kind !== 'video' || m.port === 0) continue;
    for (const c of m.codecs) {
      const apt = Number(c.parameters.apt);
      if (c.name.toLowerCase() === 'rtx' && Number.isInteger(apt) && !out.has(apt)) out.set(apt, c.payloadType);
    }
  }
  return out;
}

/** The offer's header extension ids by URI (audio and video sections share them in a BUNDLE). */
export function offeredExtensionIds(sections: MediaSection[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of sections) {
    if ((m.kind !== 'audio' && m.kind !== 'video') || m.port === 0) continue;
    for (const e of m.extmaps) if (!out.has(e.uri)) out.set(e.uri, e.id);
  }
  return out;
}

/**
 * The viewer numbering of a router whose media codecs already carry the viewer's payload types:
 * each router RTX codec maps to the RTX the viewer offered for the same media payload type, each
 * router header extension to the viewer's id for its URI. What the viewer did not offer is absent
 * (the worker then never sends it under a viewer's id; see the patch).
 */
export function viewerNumbering(router: types.RtpCapabilities, sections: MediaSection[]): ViewerNumbering {
  const rtxOffered = offeredRtx(sections);
  const idsOffered = offeredExtensionIds(sections);
  const rtx = new Map<number, number>();
  for (const c of router.codecs ?? []) {
    if (!c.mimeType.toLowerCase().endsWith('/rtx') || c.preferredPayloadType === undefined) continue;
    const viewer = rtxOffered.get(Number(c.parameters?.apt));
    if (viewer !== undefined) rtx.set(c.preferredPayloadType, viewer);
  }
  const extensionIds = new Map<number, number>();
  for (const h of router.headerExtensions ?? []) {
    const viewer = idsOffered.get(h.uri);
    if (viewer !== undefined && viewer >= 1 && viewer <= 255) extensionIds.set(h.preferredId, viewer);
  }
  return { rtx, extensionIds };
}

/** The parameter's value: `r<routerPt>=<viewerPt>` and `e<workerId>=<viewerId>` tokens. */
export function encodeViewerNumbering(n: ViewerNumbering): string {
  return [...[...n.rtx].map(([from, to]) => `r${from}=${to}`), ...[...n.extensionIds].map(([from, to]) => `e${from}=${to}`)].join(' ');
}

/** Producer RTP parameters whose media codecs carry the numbering (for a WHEP router's copy). */
export function withViewerNumbering(rtp: types.RtpParameters, n: ViewerNumbering): types.RtpParameters {
  const value = encodeViewerNumbering(n);
  return {
    ...rtp,
    codecs: rtp.codecs.map((c) =>
      c.mimeType.toLowerCase().endsWith('/rtx') ? c : { ...c, parameters: { ...c.parameters, [VIEWER_NUMBERING_PARAMETER]: value } },
    ),
  };
}

/**
 * A viewer's capabilities (in its numbering) as the router sees them: header extensions under
 * the router's ids for the same URI and kind; extensions the router lacks are dropped. Codecs keep
 * the viewer's payload types (the router's media codecs have them; RTX is matched by `apt`).
 */
export function inRouterNumbering(viewer: types.RtpCapabilities, router: types.RtpCapabilities): types.RtpCapabilities {
  const headerExtensions: types.RtpHeaderExtension[] = [];
  for (const h of viewer.headerExtensions ?? []) {
    const r = router.headerExtensions?.find((x) => x.kind === h.kind && x.uri === h.uri);
    if (r) headerExtensions.push({ ...h, preferredId: r.preferredId });
  }
  return { codecs: viewer.codecs, headerExtensions };
}

/** The answer's codecs and extmaps for a consumer, in the viewer's numbering, without the parameter. */
export function answerInViewerNumbering(rtp: types.RtpParameters, n: ViewerNumbering): { codecs: AnswerCodec[]; extmaps: { id: number; uri: string }[] } {
  const codecs = answerCodecsOf(rtp).map((c) => {
    const { [VIEWER_NUMBERING_PARAMETER]: _numbering, ...parameters } = c.parameters ?? {};
    return { ...c, payloadType: n.rtx.get(c.payloadType) ?? c.payloadType, parameters };
  });
  const extmaps = (rtp.headerExtensions ?? []).map((h) => ({ id: n.extensionIds.get(h.id) ?? h.id, uri: h.uri }));
  return { codecs, extmaps };
}
