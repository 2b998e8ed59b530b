/**
 * Where a stream goes besides WebRTC consumers: LL-HLS playlists, MoQ broadcasts, WHEP sessions,
 * recordings, pipes to other nodes. Each output feature registers what it serves and removes it
 * when it stops; the admin API (`GET /v1/streams`) lists them next to the stream's producers.
 *
 *     const handle = node.outputs.register({ kind: 'hls', room, identity, url: '/hls/room/alice/index.m3u8',
 *       stats: () => ({ viewers: packager.viewers, segments: packager.segmentCount }) });
 *     …
 *     handle.close();
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';

/** What an output feature registers. */
export interface OutputRegistration {
  /** Output type: `hls`, `moq`, `whep`, `recording`, `pipe`, … (free text, lower case). */
  kind: string;
  /** Room of the stream. */
  room: string;
  /** Identity of the stream's publisher (a stream = one identity's producers in a room). */
  identity: string;
  /** Where a client reaches it (a path on this node or an absolute URL), if anywhere. */
  url?: string;
  /** Live numbers shown in the listing (viewers, bitrate, segments…); called on each listing, must be cheap. */
  stats?: () => Record<string, number | string | boolean>;
}

/** A registered output as listed. */
export interface OutputInfo {
  id: string;
  kind: string;
  room: string;
  identity: string;
  url?: string;
  /** When it was registered, ms since the epoch. */
  startedAt: number;
  stats: Record<string, number | string | boolean>;
}

/** Returned by {@link OutputRegistry.register}; `close()` removes the output (idempotent). */
export interface OutputHandle {
  readonly id: string;
  close(): void;
}

/** Events of {@link OutputRegistry}. */
export interface OutputRegistryEvents {
  added: [info: OutputInfo];
  removed: [info: OutputInfo];
}

interface Entry {
  registration: OutputRegistration;
  id: string;
  startedAt: number;
}

/** The node's outputs, by stream. */
export class OutputRegistry extends EventEmitter<OutputRegistryEvents> {
  readonly #entries = new Map<string, Entry>();

  /** Adds an output; keep the handle and close it when the output stops. */
  register(registration: OutputRegistration): OutputHandle {
    if (!registration.kind || !registration.room || !registration.identity) throw new TypeError('output needs kind, room and identity');
    const entry: Entry = { registration: { ...registration }, id: crypto.randomUUID(), startedAt: Date.now() };
    this.#entries.set(entry.id, entry);
    this.emit('added', this.#info(entry));
    return {
      id: entry.id,
      close: () => {
        if (this.#entries.get(entry.id) !== entry) return;
        this.#entries.delete(entry.id);
        this.emit('removed', this.#info(entry));
      },
    };
  }

  /** Outputs, optionally of one room and/or identity. */
  list(filter: { room?: string; identity?: string } = {}): OutputInfo[] {
    const out: OutputInfo[] = [];
    for (const e of this.#entries.values()) {
      if (filter.room !== undefined && e.registration.room !== filter.room) continue;
      if (filter.identity !== undefined && e.registration.identity !== filter.identity) continue;
      out.push(this.#info(e));
    }
    return out;
  }

  #info(e: Entry): OutputInfo {
    let stats: OutputInfo['stats'] = {};
    try {
      stats = e.registration.stats?.() ?? {};
    } catch {
      stats = { error: 'stats unavailable' };
    }
    const { kind, room, identity, url } = e.registration;
    return { id: e.id, kind, room, identity, ...(url ? { url } : {}), startedAt: e.startedAt, stats };
  }
}

/** A recording as the recording feature reports it. */
export interface RecordingInfo {
  id: string;
  room: string;
  identity: string;
  state: 'recording' | 'finished' | 'failed';
  /** ms since the epoch. */
  startedAt: number;
  endedAt?: number;
  /** Where the files are (path or URL) once known. */
  location?: string;
}

/**
 * What the recording feature (LL-HLS) implements so `POST/DELETE /v1/recordings` can drive it:
 * set `node.recorder` to an object of this shape. Until one is set, those routes answer 501.
 */
export interface RecordingController {
  /** Starts recording a stream; rejects with NotFoundError when the stream does not exist. */
  start(room: string, identity: string): Promise<RecordingInfo>;
  /** Stops a recording; rejects with NotFoundError for an unknown id. */
  stop(id: string): Promise<RecordingInfo>;
  /** Recordings known to this node (running and recent). */
  list(): RecordingInfo[];
}
