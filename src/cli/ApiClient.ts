/** The CLI's HTTP client for a node's REST API: admin bearer auth, `{code, message}` errors as {@link CliError}. */
import { CliError, ExitCode } from './CliError';

/** Calls one node's `/v1` API. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #adminKey: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, adminKey: string, timeoutMs = 10_000) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#adminKey = adminKey;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends a request; resolves with the parsed JSON body (undefined for 204). */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.#adminKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const cause = (err as Error).cause as { code?: string; message?: string; errors?: Array<{ code?: string }> } | undefined;
      const why =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${this.#timeoutMs} ms`
          : (cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message);
      throw new CliError(`cannot reach ${this.baseUrl}: ${why}`, ExitCode.UNREACHABLE);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = parsed as { code?: string; message?: string } | undefined;
      throw new CliError(
        `${method} ${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? text.slice(0, 200)}`.replace(/\s+/g, ' ').trim(),
        ExitCode.API_ERROR,
      );
    }
    return parsed as T;
  }
}
