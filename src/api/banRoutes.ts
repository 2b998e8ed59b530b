/** Bans: list them, ban an identity from a room, lift a ban (`/v1/bans`, `/v1/rooms/{room}/bans`). */
import { z } from 'zod';
import { NotFoundError } from '../core/errors';
import type { Ban } from '../moderation/BanStore';
import type { ApiRouter } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { banListSchema, banSchema, pageQuery, roomName } from './schemas';
import { paginate } from './pagination';

/** An identity as tokens carry it. */
export const identityName = z.string().min(1).max(128);
/** The reason stored with a ban and shown to the banned client. */
export const banReason = z.string().min(1).max(200).describe('Stored with the ban and shown in the refusal message');

/** A ban as the API shows it. */
export function banView(ban: Ban): z.infer<typeof banSchema> {
  return {
    room: ban.room,
    identity: ban.identity,
    reason: ban.reason,
    createdAt: new Date(ban.createdAt).toISOString(),
    expiresAt: new Date(ban.expiresAt).toISOString(),
    expiresInSeconds: Math.max(0, Math.ceil((ban.expiresAt - Date.now()) / 1000)),
  };
}

const banKey = (b: Ban) => `${b.room}\n${b.identity}`;

/** Registers the ban routes. */
export function registerBanRoutes(api: ApiRouter, deps: ApiDeps): void {
  const { moderation } = deps;
  const maxSeconds = moderation.config.maxSeconds;

  api.add({
    method: 'GET',
    path: '/v1/bans',
    operationId: 'listBans',
    tag: 'rooms',
    auth: 'admin',
    summary: 'List the bans of every room (of every node of a cascade)',
    query: pageQuery.extend({ room: roomName.optional().describe('Only the bans of this room') }),
    responses: { 200: { description: 'A page of bans, sorted by room then identity', schema: banListSchema } },
    handler: async ({ query }) => {
      const { page, nextCursor } = paginate(await moderation.store.list(query.room), banKey, query.limit, query.cursor);
      return { status: 200, body: { bans: page.map(banView), nextCursor } };
    },
  });

  api.add({
    method: 'GET',
    path: '/v1/rooms/{room}/bans',
    operationId: 'listRoomBans',
    tag: 'rooms',
    auth: 'admin',
    summary: 'List the bans of a room',
    description: 'The room need not exist: bans outlive it.',
    params: z.strictObject({ room: roomName }),
    query: pageQuery,
    responses: { 200: { description: 'A page of bans, sorted by identity', schema: banListSchema } },
    handler: async ({ params, query }) => {
      const { page, nextCursor } = paginate(await moderation.store.list(params.room), banKey, query.limit, query.cursor);
      return { status: 200, body: { bans: page.map(banView), nextCursor } };
    },
  });

  const banParams = z.strictObject({ room: roomName, identity: identityName });

  api.add({
    method: 'PUT',
    path: '/v1/rooms/{room}/bans/{identity}',
    operationId: 'banIdentity',
    tag: 'rooms',
    auth: 'admin',
    summary: 'Ban an identity from a room (and remove its sessions)',
    description:
      `Sets (or replaces) the ban. Every session of the identity in the room is removed (\`roomClosed\` with reason \`kicked\`) on every node, ` +
      `and its joins, WHIP/WHEP requests, SRT calls and MoQ sessions for the room are refused with FORBIDDEN (403) until the ban ends or is lifted. ` +
      `\`seconds\` defaults to the expiry of the latest token the identity used in the room on this node (else \`bans.defaultSeconds\`), at most \`bans.maxSeconds\` (${maxSeconds}).`,
    params: banParams,
    body: z.strictObject({
      seconds: z.number().int().min(1).max(maxSeconds).optional().describe(`Ban length (1-${maxSeconds} s)`),
      reason: banReason.optional(),
    }),
    responses: { 200: { description: 'The ban', schema: banSchema } },
    handler: async ({ params, body }) => {
      const ban = await moderation.ban({ room: params.room, identity: params.identity, seconds: body.seconds, reason: body.reason ?? 'banned' });
      return { status: 200, body: banView(ban) };
    },
  });

  api.add({
    method: 'DELETE',
    path: '/v1/rooms/{room}/bans/{identity}',
    operationId: 'liftBan',
    tag: 'rooms',
    auth: 'admin',
    summary: 'Lift a ban',
    description: 'The identity may enter the room again at once, on every node.',
    params: banParams,
    responses: { 204: { description: 'Lifted' }, 404: { description: 'The identity is not banned from the room' } },
    handler: async ({ params }) => {
      if (!(await moderation.store.lift(params.room, params.identity))) throw new NotFoundError(`${params.identity} is not banned from room ${params.room}`);
      return { status: 204 };
    },
  });
}
