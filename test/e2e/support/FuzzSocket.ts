/**
 * One signaling socket of the fuzz test: sends raw frames and checks every message the node sends
 * back — replies must be errors with a known code (or a success the fuzzer allowed), notifications
 * must have a known name — and tells when every frame sent has been answered or the socket closed.
 */
import WebSocket from 'ws';
import { ErrorCode } from '../../../src/protocol/errors';
import { requestEnvelope, requestSchemas } from '../../../src/protocol/signaling';

/** Error codes of src/protocol/errors.ts. */
export const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Notification names of src/protocol/signaling.ts (`Notifications`). */
export const KNOWN_NOTIFICATIONS: ReadonlySet<string> = new Set([
  'peerJoined',
  'peerLeft',
  'newProducer',
  'producerClosed',
  'producerPaused',
  'producerResumed',
  'consumerClosed',
  'consumerPaused',
  'consumerResumed',
  'consumerLayersChanged',
  'consumerScore',
  'newDataProducer',
  'dataProducerClosed',
  'reconnect',
  'draining',
  'roomClosed',
]);

/** Counters and findings shared by every socket of a run. */
export interface FuzzTally {
  framesSent: number;
  replies: number;
  notifications: number;
  /** Replies by error code (and 'ok'). */
  codes: Map<string, number>;
  /** Close codes seen by the client. */
  closeCodes: Map<number, number>;
  /** What broke the rules (kept short). */
  violations: string[];
}

/** A new, empty tally. */
export function newTally(): FuzzTally {
  return { framesSent: 0, replies: 0, notifications: 0, codes: new Map(), closeCodes: new Map(), violations: [] };
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The `{id, method}` of a frame the protocol's schemas accept (a BOM is allowed, as the node's decoder strips it). */
function validRequest(text: string): { id: string | number; method: string } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\ufeff/, ''));
  } catch {
    return undefined;
  }
  const envelope = requestEnvelope.safeParse(raw);
  if (!envelope.success || !Object.hasOwn(requestSchemas, envelope.data.method)) return undefined;
  const schema = requestSchemas[envelope.data.method as keyof typeof requestSchemas];
  return schema.safeParse(envelope.data.params).success ? { id: envelope.data.id, method: envelope.data.method } : undefined;
}

/** A frame and what the node may answer to it. */
export interface Frame {
  /** Text (string) or bytes; bytes go as a text frame unless `binary`. */
  payload: string | Buffer;
  binary?: boolean;
  /**
   * Request id whose reply may be a success although the socket has not joined (a real `join`).
   * Frames that pass the protocol's schemas may succeed anyway on a joined socket (and `ping`
   * on any): see {@link FuzzSocket.send}.
   */
  okId?: string;
  /** Short label for reports. */
  label: string;
}

/** A fuzzing client socket. */
export class FuzzSocket {
  readonly #ws: WebSocket;
  readonly #tally: FuzzTally;
  readonly #okIds = new Set<string>();
  readonly #sentLabels: string[] = [];
  readonly #replyWaiters = new Map<string, (reply: any) => void>();
  #pending = 0;
  #closed = false;
  #joined = false;
  #onChange: (() => void) | undefined;

  private constructor(ws: WebSocket, tally: FuzzTally) {
    this.#ws = ws;
    this.#tally = tally;
    ws.on('message', (raw, isBinary) => this.#onMessage(raw as Buffer, isBinary));
    ws.on('close', (code) => {
      this.#closed = true;
      bump(tally.closeCodes, code);
      for (const waiter of [...this.#replyWaiters.values()]) waiter(undefined);
      this.#onChange?.();
    });
    ws.on('error', () => undefined);
  }

  /** Opens a socket to `url` (ws://…/ws); rejects after `timeoutMs`. */
  static open(url: string, tally: FuzzTally, timeoutMs = 5_000): Promise<FuzzSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
      ws.once('open', () => resolve(new FuzzSocket(ws, tally)));
      ws.once('error', reject);
    });
  }

  /** Whether the socket is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one frame (nothing once closed). */
  send(frame: Frame): void {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) return;
    if (frame.okId !== undefined) this.#okIds.add(frame.okId);
    const valid = typeof frame.payload === 'string' && !frame.binary ? validRequest(frame.payload) : undefined;
    // Frames that follow a real join may be handled after it completed, before its reply is read.
    if (frame.okId !== undefined && valid?.method === 'join') this.#joined = true;
    // A request the schemas accept may succeed once joined (the node decides on the state); before
    // joining only `ping` may.
    if (valid && (this.#joined || valid.method === 'ping')) this.#okIds.add(String(valid.id));
    this.#pending++;
    this.#tally.framesSent++;
    if (this.#sentLabels.length < 64) this.#sentLabels.push(frame.label);
    this.#ws.send(frame.payload, { binary: frame.binary ?? false });
  }

  /** Sends a well-formed request and resolves with its reply (undefined if the socket closes first). */
  request(method: string, params: unknown, id: string, timeoutMs = 20_000): Promise<any> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve(undefined);
      const timer = setTimeout(() => {
        this.#replyWaiters.delete(id);
        this.#tally.violations.push(`no reply to ${method} within ${timeoutMs} ms`);
        resolve(undefined);
      }, timeoutMs);
      const done = (reply: any) => {
        clearTimeout(timer);
        this.#replyWaiters.delete(id);
        resolve(reply);
      };
      this.#replyWaiters.set(id, done);
      this.send({ payload: JSON.stringify({ id, method, params }), okId: id, label: method });
    });
  }

  /**
   * Resolves once every frame sent has a reply or the socket is closed; a node that leaves frames
   * unanswered on an open socket for `timeoutMs` is a violation.
   */
  settle(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (this.#pending > 0 && !this.#closed) return false;
        clearTimeout(timer);
        this.#onChange = undefined;
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.#tally.violations.push(`${this.#pending} frame(s) unanswered on an open socket after ${timeoutMs} ms (sent: ${this.#sentLabels.join(',')})`);
        this.#onChange = undefined;
        resolve();
      }, timeoutMs);
      this.#onChange = check;
      check();
    });
  }

  /** Closes the socket: a clean close, or a TCP reset when `abrupt`. */
  close(abrupt = false): void {
    if (abrupt) this.#ws.terminate();
    else this.#ws.close();
  }

  #violation(text: string): void {
    if (this.#tally.violations.length < 50) this.#tally.violations.push(text);
  }

  #onMessage(raw: Buffer, isBinary: boolean): void {
    let msg: any;
    try {
      if (isBinary) throw new Error('binary');
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      this.#violation(`non-JSON message from the node: ${raw.subarray(0, 80).toString('hex')}`);
      return;
    }
    if (msg && typeof msg === 'object' && 'notification' in msg) {
      this.#tally.notifications++;
      if (!KNOWN_NOTIFICATIONS.has(msg.notification)) this.#violation(`unknown notification ${String(msg.notification).slice(0, 40)}`);
      return;
    }
    this.#tally.replies++;
    this.#pending = Math.max(0, this.#pending - 1);
    if (!msg || typeof msg !== 'object' || typeof msg.ok !== 'boolean') {
      this.#violation(`malformed reply ${JSON.stringify(msg).slice(0, 120)}`);
    } else if (msg.ok) {
      bump(this.#tally.codes, 'ok');
      if (!this.#okIds.has(String(msg.id))) this.#violation(`success reply to a bad frame: ${JSON.stringify(msg).slice(0, 160)}`);
    } else {
      const code = msg.error?.code;
      bump(this.#tally.codes, String(code));
      if (!KNOWN_CODES.has(code) || typeof msg.error?.message !== 'string') {
        this.#violation(`error reply without a known code: ${JSON.stringify(msg).slice(0, 160)}`);
      }
    }
    if (typeof msg?.id === 'string') this.#replyWaiters.get(msg.id)?.(msg);
    this.#onChange?.();
  }
}
