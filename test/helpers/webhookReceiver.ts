/** A real webhook receiver for tests: records every delivery and answers as the test decides. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One delivery the receiver got and how it answered. */
export interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  event: { id: string; type: string; room?: string; node: string; createdAt: number; data: any };
  status: number | 'hang';
}

/** A webhook receiver on 127.0.0.1:0; `respond` decides each answer (a status, or 'hang'). */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  respond: (event: Received['event'], attempt: number) => number | 'hang' = () => 200;
  readonly #server: http.Server;
  readonly #hanging = new Set<http.ServerResponse>();

  private constructor(server: http.Server) {
    this.#server = server;
  }

  /** Listens on a free loopback port. */
  static async start(): Promise<WebhookReceiver> {
    const server = http.createServer();
    const r = new WebhookReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const event = JSON.parse(raw);
        const status = r.respond(event, Number(req.headers['subsec-delivery-attempt']));
        r.requests.push({ headers: req.headers, raw, event, status });
        if (status === 'hang') {
          r.#hanging.add(res);
          res.on('close', () => r.#hanging.delete(res));
          return;
        }
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  /** The URL to configure as a webhook endpoint. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  /** Events acknowledged with 2xx, in arrival order, optionally of one room. */
  delivered(room?: string): Received['event'][] {
    return this.requests.filter((r) => typeof r.status === 'number' && r.status < 300 && (room === undefined || r.event.room === room)).map((r) => r.event);
  }

  /** Closes the server, dropping hanging requests. */
  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
