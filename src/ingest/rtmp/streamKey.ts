/**
 * RTMP addressing: encoders connect to `rtmp://host[:port]/<app>` and publish a stream key.
 * The key is `<room>/<stream>?token=<token>` (or `t=<token>`), so OBS users paste the server URL
 * `rtmp://host/live` and that key; ffmpeg users write the whole thing as
 * `rtmp://host/live/<room>/<stream>?token=<token>`. Clients split app and key differently
 * (ffmpeg may move path segments or the query into the app), so the node joins app and publish
 * name and reads them as one path. A stream with primary and backup inputs adds `&role=primary` or
 * `&role=backup` to the key (docs/backup-ingest.md).
 */
import { parseInputRole, type InputRole } from '../backup/inputRole';

/** What a publisher asks for. */
export interface RtmpTarget {
  room: string;
  stream: string;
  token: string;
  /** The input's role when the stream has primary and backup inputs. */
  role?: InputRole;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** The expected form, for refusal messages. */
export const KEY_FORM = '<room>/<stream>?token=<token>';

/** Parses the connect app and the publish name; returns a reason string when unusable. */
export function parseStreamKey(app: string, publishName: string, expectedApp: string): RtmpTarget | { error: string } {
  // Either part may carry a query (`rtmp://host/live?x=1` as the server, `room/stream?token=` as the key).
  const [appPath = '', appQuery = ''] = app.split(/\?(.*)/s);
  const [namePath = '', nameQuery = ''] = publishName.split(/\?(.*)/s);
  const path = `${appPath}/${namePath}`.replace(/^\/+/, '').replace(/\/+$/, '');
  const query = new URLSearchParams([appQuery, nameQuery].filter(Boolean).join('&').replace(/\?/g, '&'));
  const segments = path.split('/').filter(Boolean);
  if (segments[0] !== expectedApp) return { error: `unknown application "${(segments[0] ?? '').slice(0, 40)}" (use rtmp://host/${expectedApp})` };
  const rest = segments.slice(1);
  if (rest.length !== 2) return { error: `stream key must be ${KEY_FORM}` };
  const [room, stream] = rest as [string, string];
  if (!NAME.test(room) || !NAME.test(stream)) return { error: `room and stream names are A-Z a-z 0-9 _ . - (stream key ${KEY_FORM})` };
  const token = query.get('token') ?? query.get('t') ?? '';
  if (!token) return { error: `stream key has no token (${KEY_FORM})` };
  const role = parseInputRole(query.get('role'));
  if (typeof role === 'object') return { error: role.error };
  return { room, stream, token, ...(role ? { role } : {}) };
}
