/**
 * Destination URLs of pushes carry the platform's stream key (in the path, the query or the
 * userinfo): they are secrets. This is the only form in which they are logged, shown by the API
 * or sent in webhooks: scheme, host, port and the first path segment (the RTMP application), the
 * rest masked.
 */

/** `rtmp://live.example.com/app/***` for `rtmp://live.example.com/app/sk_123?x=y`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const app = u.pathname.split('/').filter(Boolean)[0];
    const masked = u.pathname.split('/').filter(Boolean).length > 1 || u.search || u.username || u.password;
    return `${u.protocol}//${u.host}/${app ? encodeURIComponent(decodeURIComponent(app)) : ''}${masked ? (app ? '/***' : '***') : ''}`;
  } catch {
    return '***';
  }
}

/** Replaces every occurrence of `url` (and of its secret parts) in `text` by its redacted form. */
export function scrubUrl(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  try {
    const u = new URL(url);
    const secrets = [...u.pathname.split('/').filter(Boolean).slice(1), u.search.slice(1), u.username, u.password].filter((s) => s.length >= 4);
    for (const s of secrets) out = out.split(s).join('***');
  } catch {
    // not a URL: nothing more to hide
  }
  return out;
}
