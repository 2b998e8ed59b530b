/** Broadcast path helpers: slash-separated, no leading/trailing slash, prefix matching on whole segments. */

/** Joins segments and normalises slashes ('a/', '/b' → 'a/b'). */
export function joinPath(...parts: string[]): string {
  return parts.join('/').replace(/\/+/g, '/').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** True when `path` equals `prefix` or lies under it ('a' covers 'a/b', not 'ab'); '' covers all. */
export function hasPrefix(prefix: string, path: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path[prefix.length] === '/';
}

/** `path` relative to `prefix`, or undefined when it is not under it. */
export function stripPrefix(prefix: string, path: string): string | undefined {
  if (!hasPrefix(prefix, path)) return undefined;
  if (prefix === '') return path;
  return path.slice(prefix.length).replace(/^\//, '');
}
