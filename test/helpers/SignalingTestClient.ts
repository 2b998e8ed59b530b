/** A raw signaling client over `ws` for integration tests: requests, responses, notifications. */
import WebSocket from 'ws';

/** A response as the node sends it. */
export type Reply = { id: string | number | null; ok: boolean; data?: any; error?: { code: string; message: string } };

/** Minimal protocol client for tests. */
export class SignalingTestClient {
  readonly ws: WebSocket;
  readonly notifications: Array<{ notification: string; data: any }> = [];
  readonly replies: Reply[] = [];
  #next = 1;
  #pending = new Map<string | number, (r: Reply) => void>();
  closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      if ('notification' in msg) this.notifications.push(msg);
      else {
        this.replies.push(msg);
        const cb = msg.id !== null ? this.#pending.get(msg.id) : undefined;
        if (cb) {
          this.#pending.delete(msg.id);
          cb(msg);
        }
      }
    });
  }

  /** Opens a socket to `${baseUrl}/ws`. */
  static async connect(baseUrl: string): Promise<SignalingTestClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/ws');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new SignalingTestClient(ws);
  }

  /** Sends a request and resolves with the raw reply (ok or error). */
  request(method: string, params?: unknown, timeoutMs = 10_000): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to ${method}`)), timeoutMs);
      this.#pending.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Sends a request and returns `data`, throwing on an error reply. */
  async call(method: string, params?: unknown): Promise<any> {
    const r = await this.request(method, params);
    if (!r.ok) throw Object.assign(new Error(`${method}: ${r.error!.code} ${r.error!.message}`), { code: r.error!.code });
    return r.data;
  }

  close(): void {
    this.ws.close();
  }
}
