/** Admin authentication for REST routes: the configured admin key or a token with `admin`. */
import crypto from 'node:crypto';
import { UnauthorizedError, ForbiddenError } from '../core/errors';
import type { TokenService } from '../auth/tokens';
import type { HttpRequest } from '../http/HttpServer';

/** Extracts the bearer credential of a request, or undefined. */
export function bearerOf(req: HttpRequest): string | undefined {
  const header = req.headers['authorization'];
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}

/** Throws unless the request carries the admin key or an admin token. */
export async function requireAdmin(req: HttpRequest, adminKey: string, tokens: TokenService): Promise<void> {
  const credential = bearerOf(req);
  if (!credential) throw new UnauthorizedError('Authorization: Bearer <admin key> required');
  const a = Buffer.from(credential);
  const b = Buffer.from(adminKey);
  if (a.length === b.length && crypto.timingSafeEqual(a, b)) return;
  const token = await tokens.verify(credential);
  if (!token.admin) throw new ForbiddenError('admin grant required');
}
