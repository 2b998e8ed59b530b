/**
 * A small SDP (RFC 8866) parser for the offers WHIP and WHEP clients send: session and media
 * sections with the attributes WebRTC uses (rtpmap, fmtp, rtcp-fb, extmap, ssrc, rid,
 * simulcast, ICE, DTLS). Unknown attributes are kept raw. Malformed input throws a
 * BadRequestError that names the offending line, so HTTP clients get a useful 400.
 */
import { BadRequestError } from '../core/errors';

/** Media direction of an m-section. */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** One `a=rtpmap` entry with its fmtp and rtcp-fb lines. */
export interface SdpCodec {
  payloadType: number;
  /** Encoding name as written (e.g. 'opus', 'H264', 'rtx'). */
  name: string;
  clockRate: number;
  channels?: number;
  /** Parsed `a=fmtp` parameters (numbers where they look like numbers). */
  parameters: Record<string, string | number>;
  rtcpFeedback: { type: string; parameter?: string }[];
}

/** One `a=rid` line. */
export interface SdpRid {
  id: string;
  direction: 'send' | 'recv';
  /** Restrictions after the direction, e.g. `max-width=1280`. */
  params: string;
}

/** One m-section. */
export interface MediaSection {
  /** 'audio' | 'video' | 'application' | anything else written. */
  kind: string;
  port: number;
  protocol: string;
  /** Format list of the m-line in preference order. */
  formats: string[];
  mid?: string;
  direction: Direction;
  iceUfrag?: string;
  icePwd?: string;
  fingerprint?: { algorithm: string; value: string };
  setup?: string;
  /** Codecs in m-line preference order (formats without rtpmap are left out). */
  codecs: SdpCodec[];
  extmaps: { id: number; uri: string }[];
  /** `a=ssrc` attributes by SSRC, in order of appearance. */
  ssrcs: Map<number, Record<string, string>>;
  ssrcGroups: { semantics: string; ssrcs: number[] }[];
  rids: SdpRid[];
  /** `a=simulcast:send` alternatives (each inner list are alternatives; '~' prefix = paused). */
  simulcastSend?: string[][];
  rtcpMux: boolean;
  rtcpRsize: boolean;
  bundleOnly: boolean;
  candidates: string[];
}

/** A parsed session description. */
export interface SessionDescription {
  iceUfrag?: string;
  icePwd?: string;
  iceLite: boolean;
  fingerprint?: { algorithm: string; value: string };
  setup?: string;
  groups: { semantics: string; mids: string[] }[];
  media: MediaSection[];
}

/** Limits that keep a hostile offer cheap to reject. */
const MAX_LINES = 4000;
const MAX_SECTIONS = 16;

const DIRECTIONS = new Set<Direction>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Parses an SDP document; throws BadRequestError on malformed input. */
export function parseSdp(text: string): SessionDescription {
  if (typeof text !== 'string' || text.trim() === '') throw new BadRequestError('empty SDP');
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length > MAX_LINES) throw new BadRequestError(`SDP has more than ${MAX_LINES} lines`);
  if (lines[0] !== 'v=0') throw new BadRequestError('SDP must start with "v=0"');
  const sd: SessionDescription = { iceLite: false, groups: [], media: [] };
  let section: MediaSection | undefined;
  lines.forEach((line, index) => {
    const bad = (why: string): never => {
      throw new BadRequestError(`SDP line ${index + 1} (${line.slice(0, 60)}): ${why}`);
    };
    if (line.length < 2 || line[1] !== '=' || !/^[a-z]$/.test(line[0]!)) bad('not a "<type>=<value>" line');
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      const m = /^(\S+) (\d+)(?:\/\d+)? (\S+)(?: (.*))?$/.exec(value);
      if (!m) bad('malformed m-line');
      if (sd.media.length >= MAX_SECTIONS) bad(`more than ${MAX_SECTIONS} m-sections`);
      section = {
        kind: m![1]!,
        port: Number(m![2]),
        protocol: m![3]!,
        formats: (m![4] ?? '').split(' ').filter(Boolean),
        direction: 'sendrecv',
        codecs: [],
        extmaps: [],
        ssrcs: new Map(),
        ssrcGroups: [],
        rids: [],
        rtcpMux: false,
        rtcpRsize: false,
        bundleOnly: false,
        candidates: [],
      };
      sd.media.push(section);
      return;
    }
    if (type !== 'a') return;
    const colon = value.indexOf(':');
    const name = colon < 0 ? value : value.slice(0, colon);
    const arg = colon < 0 ? '' : value.slice(colon + 1);
    if (!section) {
      parseSessionAttribute(sd, name, arg, bad);
      return;
    }
    parseMediaAttribute(section, name, arg, bad);
  });
  for (const m of sd.media) {
    // rtpmap lines may precede or follow fmtp/rtcp-fb: order codecs by the m-line afterwards.
    const byPt = new Map(m.codecs.map((c) => [c.payloadType, c]));
    m.codecs = m.formats.map((f) => byPt.get(Number(f))).filter((c): c is SdpCodec => c !== undefined);
  }
  return sd;
}

type Bad = (why: string) => never;

function parseFingerprint(arg: string, bad: Bad): { algorithm: string; value: string } {
  const [algorithm, value] = arg.split(' ');
  if (!algorithm || !value || !/^[0-9A-Fa-f:]+$/.test(value)) bad('malformed fingerprint');
  return { algorithm: algorithm!.toLowerCase(), value: value!.toUpperCase() };
}

function parseSessionAttribute(sd: SessionDescription, name: string, arg: string, bad: Bad): void {
  switch (name) {
    case 'ice-ufrag':
      sd.iceUfrag = arg;
      break;
    case 'ice-pwd':
      sd.icePwd = arg;
      break;
    case 'ice-lite':
      sd.iceLite = true;
      break;
    case 'fingerprint':
      sd.fingerprint = parseFingerprint(arg, bad);
      break;
    case 'setup':
      sd.setup = arg;
      break;
    case 'group': {
      const [semantics, ...mids] = arg.split(' ').filter(Boolean);
      if (!semantics) bad('malformed group');
      sd.groups.push({ semantics: semantics!, mids });
      break;
    }
    default:
  }
}

function codecOf(section: MediaSection, pt: number): SdpCodec {
  let codec = section.codecs.find((c) => c.payloadType === pt);
  if (!codec) {
    codec = { payloadType: pt, name: '', clockRate: 0, parameters: {}, rtcpFeedback: [] };
    section.codecs.push(codec);
  }
  return codec;
}

function parsePt(text: string | undefined, bad: Bad): number {
  const pt = Number(text);
  if (!Number.isInteger(pt) || pt < 0 || pt > 127) bad('bad payload type');
  return pt;
}

function parseMediaAttribute(m: MediaSection, name: string, arg: string, bad: Bad): void {
  if (DIRECTIONS.has(name as Direction)) {
    m.direction = name as Direction;
    return;
  }
  switch (name) {
    case 'mid':
      m.mid = arg;
      break;
    case 'ice-ufrag':
      m.iceUfrag = arg;
      break;
    case 'ice-pwd':
      m.icePwd = arg;
      break;
    case 'fingerprint':
      m.fingerprint = parseFingerprint(arg, bad);
      break;
    case 'setup':
      m.setup = arg;
      break;
    case 'rtcp-mux':
      m.rtcpMux = true;
      break;
    case 'rtcp-rsize':
      m.rtcpRsize = true;
      break;
    case 'bundle-only':
      m.bundleOnly = true;
      break;
    case 'candidate':
      m.candidates.push(arg);
      break;
    case 'rtpmap': {
      const r = /^(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(arg);
      if (!r) bad('malformed rtpmap');
      const codec = codecOf(m, parsePt(r![1], bad));
      codec.name = r![2]!;
      codec.clockRate = Number(r![3]);
      if (r![4]) codec.channels = Number(r![4]);
      break;
    }
    case 'fmtp': {
      const sp = arg.indexOf(' ');
      if (sp < 0) bad('malformed fmtp');
      const codec = codecOf(m, parsePt(arg.slice(0, sp), bad));
      for (const kv of arg.slice(sp + 1).split(';')) {
        const eq = kv.indexOf('=');
        if (eq < 0) continue;
        const key = kv.slice(0, eq).trim();
        const val = kv.slice(eq + 1).trim();
        if (key) codec.parameters[key] = /^\d{1,9}$/.test(val) ? Number(val) : val;
      }
      break;
    }
    case 'rtcp-fb': {
      const [pt, type, parameter] = arg.split(' ');
      if (!pt || !type) bad('malformed rtcp-fb');
      // '*' applies to every format of the m-line.
      const targets = pt === '*' ? m.formats.map((f) => codecOf(m, parsePt(f, bad))) : [codecOf(m, parsePt(pt, bad))];
      for (const c of targets) c.rtcpFeedback.push(parameter ? { type: type!, parameter } : { type: type! });
      break;
    }
    case 'extmap': {
      const e = /^(\d+)(?:\/\w+)? (\S+)/.exec(arg);
      if (!e) bad('malformed extmap');
      const id = Number(e![1]);
      if (id < 1 || id > 255) bad('extmap id out of range');
      m.extmaps.push({ id, uri: e![2]! });
      break;
    }
    case 'ssrc': {
      const s = /^(\d+) ([^:]+)(?::(.*))?$/.exec(arg);
      if (!s) bad('malformed ssrc');
      const ssrc = Number(s![1]);
      if (ssrc > 0xffffffff) bad('ssrc out of range');
      const attrs = m.ssrcs.get(ssrc) ?? {};
      attrs[s![2]!] = s![3] ?? '';
      m.ssrcs.set(ssrc, attrs);
      break;
    }
    case 'ssrc-group': {
      const [semantics, ...ssrcs] = arg.split(' ').filter(Boolean);
      if (!semantics || ssrcs.some((x) => !/^\d+$/.test(x))) bad('malformed ssrc-group');
      m.ssrcGroups.push({ semantics: semantics!, ssrcs: ssrcs.map(Number) });
      break;
    }
    case 'rid': {
      const r = /^([A-Za-z0-9_-]{1,32}) (send|recv)(?: (.*))?$/.exec(arg);
      if (!r) bad('malformed rid');
      m.rids.push({ id: r![1]!, direction: r![2] as 'send' | 'recv', params: r![3] ?? '' });
      break;
    }
    case 'simulcast': {
      const s = /^send (\S+)/.exec(arg);
      if (s) m.simulcastSend = s[1]!.split(';').map((alt) => alt.split(',').filter(Boolean));
      break;
    }
    default:
  }
}
