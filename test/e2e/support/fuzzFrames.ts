/**
 * Frame generators of the signaling fuzz test: junk bytes, binary, wrong JSON types, deep nesting,
 * frames over the 64 KiB limit, unknown methods, valid methods before `join`, bad joins, and —
 * on a socket that really joined — valid methods with garbage parameters (real ids mixed in, and
 * hostile `appData` on otherwise valid `produce` calls). All randomness comes from one {@link Rng}.
 */
import { MAX_SIGNALING_MESSAGE_BYTES, PROTOCOL_VERSION, requestSchemas } from '../../../src/protocol/signaling';
import type { Frame } from './FuzzSocket';
import type { Rng } from './Rng';

/** The signaling methods (src/protocol/signaling.ts). */
export const METHODS = Object.keys(requestSchemas);

/** What the generators may use from the running node and the joined socket. */
export interface FuzzContext {
  rng: Rng;
  /** A fresh request id that no garbage frame reuses. */
  nextId(): string;
  /** A token valid for the fuzz room. */
  validToken(): string;
  /** Tokens that must be refused. */
  badTokens: string[];
  /** The fuzz room, and a valid token for another room (refused for the fuzz room). */
  room: string;
  otherRoomToken: string;
  /** Ids that exist on the node (transports of the joined socket, producers in the room). */
  realIds: string[];
  /** The router's RTP capabilities (a plausible client capability set). */
  routerCaps: Record<string, unknown>;
}

const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '\u0000'];

/** A random JSON text (strings built by hand so keys like `__proto__` stay plain keys). */
export function randomJson(rng: Rng, depth = 3): string {
  const r = rng.next();
  if (depth <= 0 || r < 0.45) {
    return rng.pick([
      () => 'null',
      () => 'true',
      () => 'false',
      () => String(rng.int(-1e9, 1e9)),
      () => rng.pick(['-0', '1e308', '-1e308', '1.5', '0.0000001', '9007199254740993', '1e-400']),
      () => JSON.stringify(rng.string(40)),
      () => JSON.stringify(rng.pick(METHODS)),
    ])();
  }
  if (r < 0.7) {
    const n = rng.int(0, 5);
    return `[${Array.from({ length: n }, () => randomJson(rng, depth - 1)).join(',')}]`;
  }
  const n = rng.int(0, 5);
  const keys = Array.from({ length: n }, () =>
    rng.chance(0.3) ? rng.pick(NASTY_KEYS) : rng.pick(['id', 'method', 'params', 'token', 'protocol', 'transportId', 'kind', rng.string(12)]),
  );
  return `{${keys.map((k) => `${JSON.stringify(k)}:${randomJson(rng, depth - 1)}`).join(',')}}`;
}

/** A nested array/object text `depth` levels deep. */
function deep(rng: Rng, depth: number): string {
  if (rng.chance(0.5)) return '['.repeat(depth) + ']'.repeat(depth);
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A deep value that still fits well under the frame limit. */
function deepValue(rng: Rng): string {
  return deep(rng, rng.int(1_000, 9_000));
}

function garbageId(rng: Rng, ctx: FuzzContext): unknown {
  return rng.pick<() => unknown>([
    () => (ctx.realIds.length ? rng.pick(ctx.realIds) : crypto.randomUUID()),
    () => crypto.randomUUID(),
    () => '',
    () => 'x'.repeat(rng.int(129, 400)),
    () => rng.string(20),
    () => rng.int(-5, 5),
    () => null,
    () => ({ id: 'nested' }),
    () => [crypto.randomUUID()],
  ])();
}

function envelope(id: unknown, method: unknown, params?: unknown): string {
  return JSON.stringify(params === undefined ? { id, method } : { id, method, params });
}

/** Junk before any join: bytes, binary, wrong types, deep nesting, unknown methods, bad ids. */
export function junkFrame(ctx: FuzzContext): Frame {
  const { rng } = ctx;
  switch (rng.int(0, 9)) {
    case 0:
      return { payload: rng.bytes(rng.int(1, 512)), label: 'junk-bytes-as-text' };
    case 1:
      return { payload: rng.bytes(rng.int(0, 2048)), binary: true, label: 'binary' };
    case 2:
      return { payload: rng.string(300), label: 'junk-text' };
    case 3:
      return { payload: randomJson(rng, 4), label: 'random-json' };
    case 4: {
      // The envelope with wrong types in each field.
      const id = rng.pick<unknown>([{}, [], true, -1, 1.5, '', 'i'.repeat(65), null, ctx.nextId()]);
      const method = rng.pick<unknown>([5, null, {}, [], '', 'm'.repeat(65), rng.pick(METHODS)]);
      const extra = rng.chance(0.3) ? { [rng.pick(['extra', 'jsonrpc', '__proto__'])]: 1 } : {};
      return { payload: JSON.stringify({ id, method, params: JSON.parse(randomJson(rng, 2)), ...extra }), label: 'wrong-types' };
    }
    case 5: {
      const where = rng.int(0, 2);
      const nest = deepValue(rng);
      const payload =
        where === 0
          ? nest
          : where === 1
            ? `{"id":"${ctx.nextId()}","method":"ping","params":${nest}}`
            : `{"id":"${ctx.nextId()}","method":"join","params":{"protocol":1,"token":"t","rtpCapabilities":${nest}}}`;
      return { payload, label: 'deep-nesting' };
    }
    case 6: {
      const method = rng.pick([
        ...NASTY_KEYS.filter(Boolean),
        'Join',
        'JOIN',
        ' join',
        'join\u0000',
        'createtransport',
        'admin',
        'kill',
        'eval',
        'dump',
        rng.string(30),
      ]);
      return { payload: envelope(ctx.nextId(), method, JSON.parse(randomJson(rng, 2))), label: 'unknown-method' };
    }
    case 7:
      return validBeforeJoin(ctx);
    case 8:
      return badJoin(ctx);
    default: {
      // Almost-JSON: truncated, trailing garbage, comments, single quotes.
      const good = envelope(ctx.nextId(), 'ping', {});
      const payload = rng.pick([good.slice(0, rng.int(1, good.length - 1)), `${good}}`, `${good} //`, good.replace(/"/g, "'"), `\ufeff${good}`]);
      return { payload, label: 'almost-json' };
    }
  }
}

/** Valid methods with plausible parameters on a socket that has not joined (UNAUTHENTICATED; ping works). */
export function validBeforeJoin(ctx: FuzzContext): Frame {
  const { rng } = ctx;
  const id = ctx.nextId();
  const method = rng.pick(METHODS.filter((m) => m !== 'join'));
  const params = plausibleParams(ctx, method);
  return { payload: envelope(id, method, params), label: `pre-join-${method}` };
}

/** A `join` that must fail: bad tokens, wrong protocol, bad room names, extra keys. */
export function badJoin(ctx: FuzzContext): Frame {
  const { rng } = ctx;
  const id = ctx.nextId();
  const params: Record<string, unknown> = { protocol: PROTOCOL_VERSION, token: rng.pick(ctx.badTokens) };
  switch (rng.int(0, 6)) {
    case 4:
      params.token = ctx.otherRoomToken;
      params.room = ctx.room;
      break;
    case 0:
      params.protocol = rng.pick([0, 2, -1, 1.5, '1', null, 1e9]);
      params.token = ctx.validToken();
      break;
    case 1:
      params.room = rng.pick(['', 'bad room', '../etc', 'r'.repeat(129), 'é', 5]);
      params.token = ctx.validToken();
      break;
    case 2:
      params[rng.pick(['admin', 'grants', 'identity'])] = true;
      params.token = ctx.validToken();
      break;
    case 3:
      params.displayName = 'n'.repeat(rng.int(129, 1_000));
      params.token = ctx.validToken();
      break;
    default:
      break;
  }
  return { payload: envelope(id, 'join', params), label: 'bad-join' };
}

/** Parameters shaped like the method's, with random ids. */
function plausibleParams(ctx: FuzzContext, method: string): unknown {
  const id = () => (ctx.realIds.length && ctx.rng.chance(0.5) ? ctx.rng.pick(ctx.realIds) : crypto.randomUUID());
  switch (method) {
    case 'setRtpCapabilities':
      return { rtpCapabilities: ctx.routerCaps };
    case 'createTransport':
      return { direction: ctx.rng.pick(['send', 'recv']), sctp: ctx.rng.chance(0.5) };
    case 'connectTransport':
      return { transportId: id(), dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] } };
    case 'restartIce':
      return { transportId: id() };
    case 'produce':
      return { transportId: id(), kind: 'audio', rtpParameters: opusParameters(ctx.rng) };
    case 'consume':
      return { transportId: id(), producerId: id() };
    case 'produceData':
      return { transportId: id(), sctpStreamParameters: { streamId: ctx.rng.int(0, 1023) }, label: 'fuzz' };
    case 'consumeData':
      return { transportId: id(), dataProducerId: id() };
    case 'setPreferredLayers':
      return { consumerId: id(), spatialLayer: ctx.rng.int(0, 3) };
    case 'setConsumerPriority':
      return { consumerId: id(), priority: ctx.rng.int(1, 255) };
    case 'getStats':
      return { id: id() };
    case 'ping':
      return { clientTime: Date.now() };
    case 'leave':
      return {};
    default:
      return { [method.endsWith('Consumer') ? 'consumerId' : 'producerId']: id() };
  }
}

/** Minimal valid RTP parameters of an Opus stream (what mediasoup accepts from a client). */
function opusParameters(rng: Rng): Record<string, unknown> {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
    encodings: [{ ssrc: rng.int(1, 2 ** 31) }],
    headerExtensions: [],
    rtcp: { cname: 'fuzz' },
  };
}

/** A frame for a socket that joined for real: valid methods with garbage (or hostile) parameters. */
export function joinedFrame(ctx: FuzzContext): Frame {
  const { rng } = ctx;
  const id = ctx.nextId();
  const method = rng.pick(METHODS.filter((m) => m !== 'join' && (m !== 'leave' || rng.chance(0.1))));
  const r = rng.next();
  if (r < 0.15 && (method === 'produce' || method === 'produceData')) {
    // Otherwise valid, with hostile appData: deep nesting, huge strings, many keys, prototype keys.
    const base = plausibleParams(ctx, method) as Record<string, unknown>;
    const appData = rng.pick([
      () => `{"nest":${deep(rng, rng.int(2_000, 8_000))}}`,
      () => `{"big":${JSON.stringify('b'.repeat(rng.int(20_000, 60_000)))}}`,
      () => `{${Array.from({ length: rng.int(1_000, 4_000) }, (_, i) => `"k${i}":${i}`).join(',')}}`,
      () => '{"__proto__":{"admin":true,"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    ])();
    return {
      payload: `{"id":"${id}","method":"${method}","params":${JSON.stringify(base).slice(0, -1)},"appData":${appData}}}`,
      label: `${method}-hostile-appData`,
    };
  }
  if (r < 0.45) {
    // The method's own shape, with plausible values (real ids half of the time).
    return { payload: envelope(id, method, plausibleParams(ctx, method)), label: `joined-${method}` };
  }
  if (r < 0.8) {
    // The method's shape with one field replaced by garbage.
    const params = plausibleParams(ctx, method) as Record<string, unknown> | undefined;
    const keys = Object.keys(params ?? {});
    const mutated: Record<string, unknown> = { ...(params ?? {}) };
    const key = keys.length && rng.chance(0.8) ? rng.pick(keys) : rng.pick(['extra', ...NASTY_KEYS]);
    mutated[key] = rng.chance(0.5) ? garbageId(rng, ctx) : JSON.parse(randomJson(rng, 3));
    const garbage = JSON.stringify(mutated);
    return { payload: envelope(id, method, JSON.parse(garbage)), label: `joined-${method}-mutated` };
  }
  if (r < 0.9) {
    return {
      payload: `{"id":"${id}","method":"${method}","params":${rng.chance(0.5) ? deepValue(rng) : randomJson(rng, 4)}}`,
      label: `joined-${method}-garbage`,
    };
  }
  return junkFrame(ctx);
}

/** A frame over the node's 64 KiB limit (the node closes the socket). */
export function hugeFrame(ctx: FuzzContext): Frame {
  const { rng } = ctx;
  const size = rng.int(MAX_SIGNALING_MESSAGE_BYTES + 1, 4 * MAX_SIGNALING_MESSAGE_BYTES);
  if (rng.chance(0.3)) return { payload: rng.bytes(size), binary: rng.chance(0.5), label: 'huge-bytes' };
  return { payload: envelope(ctx.nextId(), rng.pick(METHODS), { blob: 'x'.repeat(size) }), label: 'huge-json' };
}
