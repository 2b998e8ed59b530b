/**
 * The part of moq-dev's `@moq/net` (the moq-lite client) that the SDK's MoQ player uses. The
 * library is not in the SDK bundle: the node serves it at `/sdk/vendor/moq-net.mjs` and the
 * player imports it only when it plays MoQ, as the LL-HLS path does with hls.js.
 */

/** A frame as read from a group. */
export interface MoqFrame {
  payload: Uint8Array;
}

/** One group of a track: a key frame and what depends on it, or one audio frame, or a catalog. */
export interface MoqGroup {
  readonly sequence: number;
  /** The next frame; undefined once the group is over. */
  readFrame(): Promise<MoqFrame | undefined>;
  close(): void;
}

/** A subscription to one track. */
export interface MoqTrackSubscription {
  /** The next group; undefined once the track ended. */
  recvGroup(): Promise<MoqGroup | undefined>;
  close(): void;
}

/** A broadcast being consumed. */
export interface MoqBroadcast {
  track(name: string): { subscribe(options?: { priority?: number }): MoqTrackSubscription };
  close(): void;
}

/** An established session with a relay. */
export interface MoqSession {
  /** What the session runs over: native WebTransport (HTTP/3) or the WebSocket fallback. */
  readonly transport?: 'webtransport' | 'websocket';
  consume(path: unknown): MoqBroadcast;
  close(): void;
  readonly closed: Promise<void>;
}

/** The module's exports the player calls. */
export interface MoqNetModule {
  Connection: {
    connect(
      url: URL,
      props?: {
        websocket?: { delay?: number; url?: URL; enabled?: boolean };
        webtransport?: { serverCertificateHashes?: Array<{ algorithm?: string; value: string }> };
      },
    ): Promise<MoqSession>;
  };
  Path: { from(...parts: string[]): unknown };
}

const loaded = new Map<string, Promise<MoqNetModule>>();

/** Imports `@moq/net` from `url` once per page. */
export function loadMoqNet(url: string): Promise<MoqNetModule> {
  let module = loaded.get(url);
  if (!module) {
    module = import(/* webpackIgnore: true */ url) as Promise<MoqNetModule>;
    module.catch(() => loaded.delete(url));
    loaded.set(url, module);
  }
  return module;
}
