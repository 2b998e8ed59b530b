/**
 * The MoQ session URL of a room for this client: the relay the join response named, the room's
 * broadcast root as the path, the client's token as `?jwt=`. A relay bound to a wildcard address
 * is reached at the host the client signals to.
 */
export function moqSessionUrl(moq: { url: string; root: string }, signalingUrl: string, token: string): URL {
  const url = new URL(moq.url);
  if (['0.0.0.0', '[::]'].includes(url.hostname)) url.hostname = new URL(signalingUrl).hostname;
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${moq.root.split('/').map(encodeURIComponent).join('/')}`;
  url.searchParams.set('jwt', token);
  return url;
}
