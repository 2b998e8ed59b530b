/**
 * The one shape of an output of a stream — SDK subscribe and WHEP (WebRTC consumers), LL-HLS,
 * the MoQ bridge, recording, restreams: it starts once, closes once (idempotent, awaited by its
 * owner), and reports cheap live numbers for `/v1/streams`. Outputs get their stream from
 * {@link StreamHub.acquire} and list themselves with {@link Stream.attach}.
 */

/** Live numbers of an output (viewers, segments, bitrate…), read on each listing: must be cheap. */
export type OutputStats = Record<string, number | string | boolean>;

/** An output of one stream. */
export interface Output {
  /** Output type: `hls`, `moq`, `whep`, `recording`, … (lower case). */
  readonly kind: string;
  /** Where a client reaches it (a path on this node or an absolute URL), if anywhere. */
  readonly url?: string;
  /** Starts delivering; rejects when it cannot (the owner then closes it). */
  start(): Promise<void>;
  /** Stops delivering and releases what it holds. Idempotent. */
  close(): void | Promise<void>;
  /** Live numbers for the listing. */
  stats(): OutputStats;
}
