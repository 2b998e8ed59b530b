/**
 * Rendered playlists with their ETag and gzip form, re-rendered only when what they show changed
 * (a new part in the rendition or a sibling, a new segment, the end), so thousands of viewers
 * and CDN revalidations of the same live edge cost one render, one hash and one gzip.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { HlsStream } from './HlsStream';
import type { LiveRendition } from './LadderTranscoder';

/** One rendered playlist. */
export interface CachedPlaylist {
  body: string;
  /** The body as UTF-8 bytes (what is written to sockets). */
  bytes: Buffer;
  etag: string;
  /** The gzip-encoded body (computed on first use). */
  gzip(): Buffer;
}

interface Entry extends CachedPlaylist {
  state: string;
}

function entry(state: string, body: string): Entry {
  let gz: Buffer | undefined;
  return {
    state,
    body,
    bytes: Buffer.from(body),
    etag: `"${crypto.createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`,
    gzip: () => (gz ??= zlib.gzipSync(body, { level: 4 })),
  };
}

/** Per-stream cache of media and multivariant playlists. */
export class PlaylistCache {
  readonly #media = new WeakMap<LiveRendition, Map<string, Entry>>();
  readonly #multivariant = new WeakMap<HlsStream, Map<string, Entry>>();

  /** The media playlist of `r` as `stream.mediaPlaylist(r, skip, uriSuffix)` renders it now. */
  media(stream: HlsStream, r: LiveRendition, skip: 'YES' | 'v2' | undefined, uriSuffix: string): CachedPlaylist {
    // Any new part anywhere in the stream (rendition reports) or the end changes the text.
    let state = `${r.packager.ended ? 1 : 0}`;
    for (const x of stream.renditions) state += `,${x.packager.nextPartSeq}`;
    let byVariant = this.#media.get(r);
    if (!byVariant) this.#media.set(r, (byVariant = new Map()));
    const variant = `${skip ?? ''}|${uriSuffix}`;
    const hit = byVariant.get(variant);
    if (hit && hit.state === state) return hit;
    if (byVariant.size > 64) byVariant.clear(); // bounded: suffixes carry per-viewer tokens
    const fresh = entry(state, stream.mediaPlaylist(r, skip, uriSuffix));
    byVariant.set(variant, fresh);
    return fresh;
  }

  /** The multivariant playlist of `stream`. */
  multivariant(stream: HlsStream, uriSuffix: string): CachedPlaylist {
    let state = '';
    for (const x of stream.listedRenditions)
      state += `${x.spec.name}:${x.packager.initInfo ? 1 : 0}:${x.packager.peakBitrate}:${x.packager.frameRate?.toFixed(1) ?? ''},`;
    let byVariant = this.#multivariant.get(stream);
    if (!byVariant) this.#multivariant.set(stream, (byVariant = new Map()));
    const hit = byVariant.get(uriSuffix);
    if (hit && hit.state === state) return hit;
    if (byVariant.size > 64) byVariant.clear();
    const fresh = entry(state, stream.multivariantPlaylist(uriSuffix));
    byVariant.set(uriSuffix, fresh);
    return fresh;
  }
}
