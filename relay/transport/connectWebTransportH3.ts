/**
 * Client side of WebTransport over HTTP/3, for relay-to-relay chaining and Node clients: dials
 * `https://host:port/<root>?jwt=…` over QUIC with the server's certificate pinned by SHA-256,
 * opens one WebTransport session offering the moq-lite versions we speak, and returns it as a
 * {@link MoqTransport}. For an `http://` relay URL the HTTP/3 address and certificate hash come
 * from the relay's `GET /info` (its UDP port may differ from the TCP one; the host stays).
 */
import { ALPNS } from '../wire/messages';
import type { DialledTransport } from './connectWebSocket';
import { Http3Connection } from './h3/Http3Connection';
import type { MoqTransport } from './MoqTransport';
import { dialQuic } from './quic/QuicDialer';

/** Connects to the relay at `url`; `certificateSha256` is fetched from an http:// relay when not given. */
export async function connectWebTransportH3(url: URL, timeoutMs: number, certificateSha256?: string): Promise<DialledTransport> {
  const target = new URL(url);
  let hash = certificateSha256;
  if (target.protocol === 'http:') {
    const res = await fetch(new URL('/info', target), { signal: AbortSignal.timeout(timeoutMs) });
    const info = res.ok ? ((await res.json()) as { webtransport?: { url?: string; certificateSha256?: string } }) : {};
    const wt = info.webtransport;
    if (!wt?.url || !wt.certificateSha256) throw new Error(`relay ${target.host} offers no WebTransport over HTTP/3 (GET /info: HTTP ${res.status})`);
    // The host we were given (the relay may name itself by a bind address); its UDP port from /info.
    target.protocol = 'https:';
    target.port = new URL(wt.url).port;
    hash ??= wt.certificateSha256;
  }
  if (!hash) throw new Error('connectWebTransportH3: a certificate hash is required');
  let h3!: Http3Connection;
  const conn = await dialQuic({
    host: target.hostname.replace(/^\[|\]$/g, ''),
    port: Number(target.port || 443),
    alpn: ['h3'],
    certificateSha256: hash,
    timeoutMs,
    attach: (c) => {
      h3 = new Http3Connection(c, { role: 'client' });
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const { session, protocol } = await Promise.race([
      h3.openSession(
        target,
        ALPNS.map((a) => a.alpn),
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`relay ${target.host} did not answer the WebTransport CONNECT in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { transport: session as MoqTransport, protocol };
  } catch (err) {
    conn.close(0x100, 'connect failed');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
