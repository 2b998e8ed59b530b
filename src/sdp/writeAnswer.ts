/**
 * Writes SDP answers (and ICE sdpfrags) for WHIP/WHEP from a mediasoup WebRtcTransport:
 * ICE-lite, one BUNDLE group, the transport's candidates in every accepted m-section, and per
 * section the codecs, header extensions, simulcast RIDs or sending SSRCs chosen by the caller.
 */
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { Direction } from './SessionDescription';

/** The local (server) side of the transport as written into the answer. */
export interface LocalTransport {
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  /** DTLS fingerprints of the transport; sha-256 is written. */
  fingerprints: types.DtlsFingerprint[];
  /** Our DTLS setup role in the answer. */
  setup: 'passive' | 'active';
}

/** A codec line group in an answer section. */
export interface AnswerCodec {
  payloadType: number;
  /** Encoding name without the kind, e.g. 'opus', 'VP8', 'rtx'. */
  name: string;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, unknown>;
  rtcpFeedback?: { type: string; parameter?: string }[];
}

/** One m-section of the answer. */
export interface AnswerSection {
  kind: string;
  mid: string;
  protocol: string;
  /** Rejected sections get port 0, keep their offered formats and leave the BUNDLE group. */
  rejected?: { formats: string[] };
  direction: Direction;
  codecs: AnswerCodec[];
  extmaps: { id: number; uri: string }[];
  /** RIDs we receive (WHIP simulcast), in `a=simulcast:recv` order. */
  recvRids?: string[];
  /** What we send (WHEP): SSRCs with cname and msid. */
  send?: { ssrc: number; rtxSsrc?: number; cname: string; streamId: string; trackId: string };
}

/** Builds the SDP answer text. */
export function writeAnswer(local: LocalTransport, sections: AnswerSection[]): string {
  const fingerprint = local.fingerprints.find((f) => f.algorithm === 'sha-256') ?? local.fingerprints[0]!;
  const bundled = sections.filter((s) => !s.rejected).map((s) => s.mid);
  const lines = ['v=0', `o=subsec ${crypto.randomInt(1, 2 ** 47)} 1 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=ice-lite'];
  if (bundled.length > 0) lines.push(`a=group:BUNDLE ${bundled.join(' ')}`);
  lines.push('a=msid-semantic: WMS *');
  for (const s of sections) {
    if (s.rejected) {
      lines.push(`m=${s.kind} 0 ${s.protocol} ${s.rejected.formats.join(' ') || '0'}`, 'c=IN IP4 0.0.0.0', `a=mid:${s.mid}`, 'a=inactive');
      continue;
    }
    lines.push(
      `m=${s.kind} 9 ${s.protocol} ${s.codecs.map((c) => c.payloadType).join(' ')}`,
      'c=IN IP4 0.0.0.0',
      'a=rtcp:9 IN IP4 0.0.0.0',
      `a=ice-ufrag:${local.iceParameters.usernameFragment}`,
      `a=ice-pwd:${local.iceParameters.password}`,
      `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value.toUpperCase()}`,
      `a=setup:${local.setup}`,
      `a=mid:${s.mid}`,
      `a=${s.direction}`,
      'a=rtcp-mux',
      'a=rtcp-rsize',
    );
    for (const e of s.extmaps) lines.push(`a=extmap:${e.id} ${e.uri}`);
    for (const c of s.codecs) {
      lines.push(`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels && c.channels > 1 ? `/${c.channels}` : ''}`);
      const fmtp = Object.entries(c.parameters ?? {}).map(([k, v]) => `${k}=${String(v)}`);
      if (fmtp.length > 0) lines.push(`a=fmtp:${c.payloadType} ${fmtp.join(';')}`);
      for (const fb of c.rtcpFeedback ?? []) lines.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    }
    if (s.recvRids && s.recvRids.length > 0) {
      for (const rid of s.recvRids) lines.push(`a=rid:${rid} recv`);
      lines.push(`a=simulcast:recv ${s.recvRids.join(';')}`);
    }
    if (s.send) {
      const { ssrc, rtxSsrc, cname, streamId, trackId } = s.send;
      lines.push(`a=msid:${streamId} ${trackId}`);
      if (rtxSsrc) lines.push(`a=ssrc-group:FID ${ssrc} ${rtxSsrc}`);
      for (const x of rtxSsrc ? [ssrc, rtxSsrc] : [ssrc]) {
        lines.push(`a=ssrc:${x} cname:${cname}`, `a=ssrc:${x} msid:${streamId} ${trackId}`);
      }
    }
    for (const c of local.iceCandidates) lines.push(`a=${candidateLine(c)}`);
    lines.push('a=end-of-candidates');
  }
  return lines.join('\r\n') + '\r\n';
}

/** `candidate:...` attribute value for a mediasoup ICE candidate. */
export function candidateLine(c: types.IceCandidate): string {
  const address = c.address ?? c.ip;
  const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
  return `candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${address} ${c.port} typ ${c.type}${tcp}`;
}

/** An `application/trickle-ice-sdpfrag` body with our ICE credentials and candidates (ICE restart answer). */
export function writeIceFragment(local: Pick<LocalTransport, 'iceParameters' | 'iceCandidates'>, mid: string): string {
  const lines = [
    `a=ice-ufrag:${local.iceParameters.usernameFragment}`,
    `a=ice-pwd:${local.iceParameters.password}`,
    'm=audio 9 UDP/TLS/RTP/SAVPF 0',
    `a=mid:${mid}`,
    ...local.iceCandidates.map((c) => `a=${candidateLine(c)}`),
    'a=end-of-candidates',
  ];
  return lines.join('\r\n') + '\r\n';
}

/** ICE credentials and candidate count of a client's sdpfrag (RFC 8840). */
export function parseIceFragment(text: string): { iceUfrag?: string; icePwd?: string; candidates: number } {
  const out: { iceUfrag?: string; icePwd?: string; candidates: number } = { candidates: 0 };
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('a=ice-ufrag:')) out.iceUfrag = line.slice(12).trim();
    else if (line.startsWith('a=ice-pwd:')) out.icePwd = line.slice(10).trim();
    else if (line.startsWith('a=candidate:')) out.candidates++;
  }
  return out;
}
