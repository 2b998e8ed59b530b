/** Turns the URL an app passes to `connect()` into the node's signaling WebSocket URL. */

/**
 * `http(s)://host[:port][/base/]` → `ws(s)://host[:port][/base/]ws`; a `ws(s)://` URL with no path
 * gets `/ws`, one with a path is used as given (a proxy may mount the socket elsewhere). Relative
 * URLs resolve against the page's location.
 *
 * @throws {TypeError} for other schemes or unparsable URLs.
 */
export function toSignalingUrl(url: string, base: string | undefined = globalThis.location?.href): string {
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch (cause) {
    throw new TypeError(`invalid node URL: ${url}`, { cause });
  }
  parsed.hash = '';
  switch (parsed.protocol) {
    case 'http:':
    case 'https:':
      parsed.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:';
      parsed.pathname = parsed.pathname.endsWith('/') ? `${parsed.pathname}ws` : `${parsed.pathname}/ws`;
      break;
    case 'ws:':
    case 'wss:':
      if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/ws';
      break;
    default:
      throw new TypeError(`unsupported node URL scheme: ${parsed.protocol}`);
  }
  return parsed.toString();
}
