/**
 * How outputs that do not publish (WHEP, LL-HLS) get a stream that may live on another node: the
 * cascade implements it (src/cascade/Cascade.ts `pullStream`); a node without a cascade has none.
 */

/** Options of a {@link StreamPuller} call. */
export interface StreamPullOptions {
  /** Gives up (rejects) when aborted, e.g. when the HTTP client left. */
  signal?: AbortSignal;
}

/**
 * Makes the producers of `identity` in `room` available in this node's room — at once when it is
 * published here or already pulled, else by pulling it from the node that has it — and keeps them
 * until the returned release function is called. Rejects with a NotFoundError when no node has the
 * stream, and with a 503 error when it could not be brought here within a bounded wait.
 */
export type StreamPuller = (room: string, identity: string, options?: StreamPullOptions) => Promise<() => void>;
