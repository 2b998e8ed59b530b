/**
 * `POST /v1/tokens` (admin), `GET /v1/ice-servers` (any client token) and `GET /demo/token`
 * (embedded demo only). Token responses carry the ICE servers the client should use, with
 * time-limited TURN credentials when TURN is configured.
 */
import { z } from 'zod';
import { BadRequestError } from '../core/errors';
import { grantsSchema } from '../auth/tokens';
import type { IceServer } from '../turn/TurnCredentials';
import type { ApiRouter } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { apiSchemas, iceServerSchema, iceServersResponseSchema, roomName } from './schemas';

/** Body of `POST /v1/tokens`. */
export const tokenRequestSchema = grantsSchema.extend({
  /** Lifetime in seconds (default: auth.tokenTtlSeconds). */
  ttlSeconds: z
    .number()
    .int()
    .min(10)
    .max(7 * 24 * 3600)
    .optional(),
});

/** Response of `POST /v1/tokens`. */
export const tokenResponseSchema = z.object({
  token: z.string().describe('HS256 JWT to pass to the SDK / signaling `join`'),
  grants: grantsSchema,
  expiresAt: z.string().describe('ISO 8601 expiry of the token'),
  iceServers: z.array(iceServerSchema).describe('ICE servers for RTCPeerConnection (TURN with a time-limited credential); empty without TURN'),
});
apiSchemas.add(tokenResponseSchema, { id: 'TokenResponse', description: 'An access token and the ICE servers to use with it.' });

/** ICE servers for an identity and their expiry (null without TURN). */
function iceServersFor(deps: ApiDeps, identity: string): { iceServers: IceServer[]; expiresAt: string | null } {
  if (!deps.turn) return { iceServers: [], expiresAt: null };
  const iceServers = deps.turn.iceServers(identity);
  const turn = iceServers.find((s) => s.username);
  const expiresAt = turn?.username ? new Date(Number(turn.username.split(':')[0]) * 1000).toISOString() : null;
  return { iceServers, expiresAt };
}

/** Registers the token routes. */
export function registerTokenRoutes(api: ApiRouter, deps: ApiDeps): void {
  api.add({
    method: 'POST',
    path: '/v1/tokens',
    operationId: 'createToken',
    tag: 'tokens',
    auth: 'admin',
    summary: 'Issue an access token',
    description:
      'Grants: room (or `*`), identity, canPublish, canSubscribe, canPublishData, admin. The response includes ICE servers (TURN credentials) for the identity.',
    body: tokenRequestSchema,
    responses: { 201: { description: 'The token', schema: tokenResponseSchema } },
    handler: ({ body }) => {
      const { ttlSeconds, ...input } = body;
      const grants = input;
      const token = deps.tokens.issue(grants, ttlSeconds);
      const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).exp as number;
      return {
        status: 201,
        body: { token, grants, expiresAt: new Date(exp * 1000).toISOString(), iceServers: iceServersFor(deps, grants.identity).iceServers },
      };
    },
  });

  api.add({
    method: 'GET',
    path: '/v1/ice-servers',
    operationId: 'getIceServers',
    tag: 'tokens',
    auth: 'token',
    summary: 'Fresh ICE servers (TURN credentials) for the bearer of a client token',
    description: "For clients whose TURN credential is about to expire: any valid token works; the credential names the token's identity.",
    responses: { 200: { description: 'ICE servers', schema: iceServersResponseSchema } },
    handler: ({ token }) => ({ status: 200, body: iceServersFor(deps, token!.identity) }),
  });

  if (deps.demoTokens) {
    // Only for the embedded default: anyone on the page may publish and chat in any room.
    api.add({
      method: 'GET',
      path: '/demo/token',
      operationId: 'demoToken',
      tag: 'demo',
      auth: 'none',
      summary: 'A publish+subscribe token for the demo page (only when auth.demoTokens is on)',
      query: z.object({ room: z.string().optional(), identity: z.string().optional() }),
      responses: {
        200: {
          description: 'A one-hour token',
          schema: z.object({ token: z.string(), room: z.string(), identity: z.string(), iceServers: z.array(iceServerSchema) }),
        },
      },
      handler: ({ query }) => {
        const room = roomName.safeParse(query.room ?? 'demo');
        if (!room.success) throw new BadRequestError('room: letters, digits, "_", "-", "." (1-128)');
        const identity = (query.identity || `guest-${Math.random().toString(36).slice(2, 8)}`).slice(0, 64);
        const token = deps.tokens.issue({ room: room.data, identity, canPublish: true, canSubscribe: true, canPublishData: true }, 3600);
        return { status: 200, body: { token, room: room.data, identity, iceServers: iceServersFor(deps, identity).iceServers } };
      },
    });
  }
}
