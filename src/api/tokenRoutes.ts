/** `POST /v1/tokens` (admin) and `GET /demo/token` (embedded demo only). */
import { z } from 'zod';
import type { HttpServer } from '../http/HttpServer';
import { json } from '../http/HttpServer';
import { BadRequestError } from '../core/errors';
import { grantsSchema, type TokenService } from '../auth/tokens';
import { requireAdmin } from './adminAuth';

/** Body of `POST /v1/tokens`. */
export const tokenRequestSchema = grantsSchema.extend({
  /** Lifetime in seconds (default: auth.tokenTtlSeconds). */
  ttlSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
});

const roomName = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.-]+$/);

/** Registers the token routes. */
export function registerTokenRoutes(
  http: HttpServer,
  deps: { tokens: TokenService; adminKey: string; demoTokens: boolean },
): void {
  http.route('POST', '/v1/tokens', (req) => {
    requireAdmin(req, deps.adminKey, deps.tokens);
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw new BadRequestError('body must be JSON');
    }
    const parsed = tokenRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new BadRequestError(`${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const { ttlSeconds, ...grants } = parsed.data;
    const token = deps.tokens.issue(grants, ttlSeconds);
    return json(201, { token, grants });
  });

  if (deps.demoTokens) {
    // Only for the embedded default: anyone on the page may publish and chat in any room.
    http.route('GET', '/demo/token', (req) => {
      const room = roomName.safeParse(req.query.get('room') ?? 'demo');
      if (!room.success) throw new BadRequestError('room: letters, digits, "_", "-", "." (1-128)');
      const identity = (req.query.get('identity') ?? `guest-${Math.random().toString(36).slice(2, 8)}`).slice(0, 64);
      const token = deps.tokens.issue({ room: room.data, identity, canPublish: true, canSubscribe: true, canPublishData: true }, 3600);
      return json(200, { token, room: room.data, identity }, { 'cache-control': 'no-store' });
    });
  }
}
