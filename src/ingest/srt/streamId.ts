/**
 * SRT stream ids in the SRT Access Control convention: `#!::r=<room>/<stream>,m=publish,t=<token>`
 * (keys in any order; `m` defaults to publish). `r` may also be given as `r=<room>` plus
 * `s=<stream>`. A stream with primary and backup inputs adds `role=primary` or `role=backup`
 * (docs/backup-ingest.md).
 */
import { parseInputRole, type InputRole } from '../backup/inputRole';

/** What a caller asks for. */
export interface SrtTarget {
  room: string;
  stream: string;
  mode: string;
  token: string;
  /** The input's role when the stream has primary and backup inputs. */
  role?: InputRole;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Parses a stream id; returns a reason string when it cannot be used. */
export function parseStreamId(streamId: string | undefined): SrtTarget | { error: string } {
  if (!streamId) return { error: 'no stream id (expected #!::r=<room>/<stream>,m=publish,t=<token>)' };
  if (!streamId.startsWith('#!::')) return { error: 'stream id must use the #!:: access control syntax' };
  const fields = new Map<string, string>();
  for (const part of streamId.slice(4).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { error: `malformed stream id field "${part.slice(0, 40)}"` };
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  let room = fields.get('r') ?? '';
  let stream = fields.get('s') ?? '';
  if (!stream && room.includes('/')) [room, stream] = room.split('/', 2) as [string, string];
  if (!NAME.test(room)) return { error: 'stream id needs r=<room>/<stream> with names of A-Z a-z 0-9 _ . -' };
  if (!NAME.test(stream)) return { error: 'stream id needs a stream name: r=<room>/<stream>' };
  const token = fields.get('t') ?? '';
  if (!token) return { error: 'stream id has no token (t=<token>)' };
  const role = parseInputRole(fields.get('role'));
  if (typeof role === 'object') return { error: role.error };
  return { room, stream, mode: fields.get('m') ?? 'publish', token, ...(role ? { role } : {}) };
}
