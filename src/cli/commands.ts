/**
 * The `subsec` subcommands: each declares its options (node:util parseArgs) and help, and
 * prints a table or, with --json, the API's JSON.
 */
import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './ApiClient';
import { CliError, ExitCode } from './CliError';
import { age, bitrate, table } from './format';

/** What a command gets. */
export interface CommandContext {
  /** Positional arguments after the command words. */
  positionals: string[];
  /** Parsed options of the command. */
  values: Record<string, string | boolean | undefined>;
  json: boolean;
  /** The client for the node (created on first use, so config is read only when needed). */
  api: () => ApiClient;
  out: (text: string) => void;
}

/** A subcommand. */
export interface Command {
  /** Command words, e.g. `['rooms', 'list']`. */
  words: string[];
  summary: string;
  usage: string;
  /** Extra help lines (options). */
  help: string[];
  options: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments: exact count. */
  positionals: number;
  run: (ctx: CommandContext) => Promise<void>;
}

function intOption(ctx: CommandContext, name: string, min: number, max: number): number | undefined {
  const raw = ctx.values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be an integer ${min}-${max}`, ExitCode.USAGE);
  return n;
}

function requireString(ctx: CommandContext, name: string): string {
  const v = ctx.values[name];
  if (typeof v !== 'string' || v.length === 0) throw new CliError(`--${name} is required`, ExitCode.USAGE);
  return v;
}

/** Fetches every page of a list (or one page when `all` is false). */
async function pages<T>(ctx: CommandContext, path: string, key: string, all: boolean, limit: number | undefined): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams();
    if (limit !== undefined) q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const sep = path.includes('?') ? '&' : '?';
    const page: Record<string, unknown> = await ctx.api().request('GET', `${path}${q.size ? sep + q.toString() : ''}`);
    items.push(...(page[key] as T[]));
    cursor = (page.nextCursor as string | null) ?? null;
  } while (all && cursor);
  return items;
}

const pageOptions = {
  limit: { type: 'string' },
  all: { type: 'boolean' },
} as const;
const pageHelp = ['  --limit N     items per page (1-500, default 50)', '  --all         follow nextCursor and print every page'];

interface RoomSummary {
  name: string;
  createdAt: string;
  participantCount: number;
  trackCount: number;
  consumerCount: number;
  routerCount: number;
}
interface StreamView {
  id: string;
  tracks: Array<{ kind: string; paused: boolean }>;
  bitrateBps: number;
  consumers: number;
  outputs: Array<{ kind: string }>;
}
interface NodeView {
  id: string;
  region: string;
  url: string;
  rooms: number;
  participants: number;
  consumers: number;
  load: number;
  workers: unknown[];
  draining: boolean;
  uptimeSeconds: number;
}

/** Every subcommand except `start` (which main handles itself). */
export const commands: Command[] = [
  {
    words: ['token', 'create'],
    summary: 'issue an access token (and TURN credentials) for a client',
    usage: 'subsec token create --room <room|*> --identity <id> [--publish] [--data] [--no-subscribe] [--admin] [--ttl <s>]',
    help: [
      '  --room R        room the token is for (* = any room)',
      '  --identity ID   who the bearer is',
      '  --publish       may publish audio/video',
      '  --data          may publish data messages',
      '  --no-subscribe  may not subscribe',
      '  --admin         admin grant (REST API)',
      '  --ttl S         lifetime in seconds (default: auth.tokenTtlSeconds)',
      'Prints the token; with --json the whole response (grants, expiresAt, iceServers).',
    ],
    options: {
      room: { type: 'string' },
      identity: { type: 'string' },
      publish: { type: 'boolean' },
      data: { type: 'boolean' },
      'no-subscribe': { type: 'boolean' },
      admin: { type: 'boolean' },
      ttl: { type: 'string' },
    },
    positionals: 0,
    run: async (ctx) => {
      const ttl = intOption(ctx, 'ttl', 10, 7 * 24 * 3600);
      const body = {
        room: requireString(ctx, 'room'),
        identity: requireString(ctx, 'identity'),
        canPublish: ctx.values.publish === true,
        canPublishData: ctx.values.data === true,
        canSubscribe: ctx.values['no-subscribe'] !== true,
        admin: ctx.values.admin === true,
        ...(ttl !== undefined ? { ttlSeconds: ttl } : {}),
      };
      const res: { token: string } = await ctx.api().request('POST', '/v1/tokens', body);
      ctx.out(ctx.json ? JSON.stringify(res, null, 2) + '\n' : res.token + '\n');
    },
  },
  {
    words: ['rooms', 'list'],
    summary: 'list rooms',
    usage: 'subsec rooms list [--limit N] [--all]',
    help: pageHelp,
    options: pageOptions,
    positionals: 0,
    run: async (ctx) => {
      const rooms = await pages<RoomSummary>(ctx, '/v1/rooms', 'rooms', ctx.values.all === true, intOption(ctx, 'limit', 1, 500));
      if (ctx.json) return ctx.out(JSON.stringify(rooms, null, 2) + '\n');
      if (rooms.length === 0) return ctx.out('no rooms\n');
      ctx.out(
        table(
          ['ROOM', 'PARTICIPANTS', 'TRACKS', 'CONSUMERS', 'ROUTERS', 'AGE'],
          rooms.map((r) => [r.name, r.participantCount, r.trackCount, r.consumerCount, r.routerCount, age(r.createdAt)]),
        ),
      );
    },
  },
  {
    words: ['rooms', 'show'],
    summary: 'inspect a room (routers, participants, tracks)',
    usage: 'subsec rooms show <room>',
    help: [],
    options: {},
    positionals: 1,
    run: async (ctx) => {
      const room: RoomSummary & { participants: Array<{ id: string; identity: string; kind: string; tracks: Array<{ kind: string; paused: boolean }> }> } =
        await ctx.api().request('GET', `/v1/rooms/${encodeURIComponent(ctx.positionals[0]!)}`);
      if (ctx.json) return ctx.out(JSON.stringify(room, null, 2) + '\n');
      ctx.out(
        `room ${room.name}: ${room.participantCount} participants, ${room.trackCount} tracks, ${room.consumerCount} consumers, ${room.routerCount} routers, up ${age(room.createdAt)}\n`,
      );
      if (room.participants.length) {
        ctx.out(
          table(
            ['PARTICIPANT', 'IDENTITY', 'KIND', 'TRACKS'],
            room.participants.map((p) => [p.id, p.identity, p.kind, p.tracks.map((t) => t.kind + (t.paused ? '(muted)' : '')).join(',') || '-']),
          ),
        );
      }
    },
  },
  {
    words: ['rooms', 'close'],
    summary: 'close a room (everyone in it is told and disconnected from media)',
    usage: 'subsec rooms close <room>',
    help: [],
    options: {},
    positionals: 1,
    run: async (ctx) => {
      const name = ctx.positionals[0]!;
      await ctx.api().request('DELETE', `/v1/rooms/${encodeURIComponent(name)}`);
      ctx.out(ctx.json ? JSON.stringify({ closed: name }) + '\n' : `closed room ${name}\n`);
    },
  },
  {
    words: ['streams', 'list'],
    summary: 'list streams with bitrates, consumers and outputs',
    usage: 'subsec streams list [--room R] [--limit N] [--all]',
    help: ['  --room R      only streams of this room', ...pageHelp],
    options: { ...pageOptions, room: { type: 'string' } },
    positionals: 0,
    run: async (ctx) => {
      const room = ctx.values.room;
      const path = typeof room === 'string' ? `/v1/streams?room=${encodeURIComponent(room)}` : '/v1/streams';
      const streams = await pages<StreamView>(ctx, path, 'streams', ctx.values.all === true, intOption(ctx, 'limit', 1, 500));
      if (ctx.json) return ctx.out(JSON.stringify(streams, null, 2) + '\n');
      if (streams.length === 0) return ctx.out('no streams\n');
      ctx.out(
        table(
          ['STREAM', 'TRACKS', 'BITRATE', 'CONSUMERS', 'OUTPUTS'],
          streams.map((s) => [
            s.id,
            s.tracks.map((t) => t.kind + (t.paused ? '(muted)' : '')).join(','),
            bitrate(s.bitrateBps),
            s.consumers,
            s.outputs.map((o) => o.kind).join(',') || '-',
          ]),
        ),
      );
    },
  },
  {
    words: ['nodes', 'list'],
    summary: 'list nodes with their load',
    usage: 'subsec nodes list',
    help: [],
    options: {},
    positionals: 0,
    run: async (ctx) => {
      const { nodes }: { nodes: NodeView[] } = await ctx.api().request('GET', '/v1/nodes');
      if (ctx.json) return ctx.out(JSON.stringify(nodes, null, 2) + '\n');
      ctx.out(
        table(
          ['NODE', 'REGION', 'URL', 'ROOMS', 'PARTICIPANTS', 'CONSUMERS', 'LOAD', 'WORKERS', 'STATE'],
          nodes.map((n) => [
            n.id,
            n.region,
            n.url,
            n.rooms,
            n.participants,
            n.consumers,
            `${Math.round(n.load * 100)}%`,
            n.workers.length,
            n.draining ? 'draining' : 'up',
          ]),
        ),
      );
    },
  },
];
