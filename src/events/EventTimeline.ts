/**
 * Room events placed on the media timeline, for outputs that render them with the media: the
 * LL-HLS playlist writer asks for EXT-X-DATERANGE tags of the window it lists, so a player sees
 * each event at the frame it belongs to (START-DATE = the event's media time, on the same
 * program-date-time clock as EXT-X-PROGRAM-DATE-TIME).
 *
 * The hook the HLS packager calls is {@link DateRangeSource}; it is synchronous (playlists are
 * rendered on every blocking reload) and reads the node's recent events of the room.
 */
import type { RoomEvent } from '../protocol/signaling';
import type { RoomEventLog } from './RoomEventLog';

/** What the LL-HLS playlist writer needs: DATERANGE lines of a room's events in a time window. */
export interface DateRangeSource {
  /** `#EXT-X-DATERANGE:…` lines for events of `room` with media time ≥ `fromMs` (oldest first). */
  dateRangeTags(room: string, fromMs: number): string[];
}

/** Options of {@link EventTimeline}. */
export interface EventTimelineOptions {
  /** Most tags in one playlist (the newest are kept). Default 64. */
  maxTags?: number;
  /** Events whose JSON is larger are listed without their body (X-EVENT). Default 1024 bytes. */
  maxInlineBytes?: number;
}

/** Value of the DATERANGE CLASS attribute of room events. */
export const DATERANGE_CLASS = 'io.subsec.event';

/**
 * One EXT-X-DATERANGE line: ID `ev-<seq>`, START-DATE = media time, DURATION 0, and client
 * attributes X-SEQ, X-TYPE and X-EVENT (the event as base64 JSON, when small enough).
 */
export function renderDateRange(event: RoomEvent, maxInlineBytes = 1024): string {
  const attrs = [
    `ID="ev-${event.seq}"`,
    `CLASS="${DATERANGE_CLASS}"`,
    `START-DATE="${new Date(event.mediaTime).toISOString()}"`,
    'DURATION=0.000',
    `X-SEQ=${event.seq}`,
    // Event types are restricted to quoted-string-safe characters.
    `X-TYPE="${event.type}"`,
  ];
  const json = JSON.stringify(event);
  if (Buffer.byteLength(json) <= maxInlineBytes) attrs.push(`X-EVENT="${Buffer.from(json).toString('base64')}"`);
  return `#EXT-X-DATERANGE:${attrs.join(',')}`;
}

/** Room events by media time. */
export class EventTimeline implements DateRangeSource {
  readonly #log: RoomEventLog;
  readonly #maxTags: number;
  readonly #maxInlineBytes: number;

  constructor(log: RoomEventLog, options: EventTimelineOptions = {}) {
    this.#log = log;
    this.#maxTags = options.maxTags ?? 64;
    this.#maxInlineBytes = options.maxInlineBytes ?? 1024;
  }

  /** Recent events of `room` with media time in [fromMs, toMs], oldest first (the newest `maxTags`). */
  events(room: string, fromMs: number, toMs = Number.POSITIVE_INFINITY): RoomEvent[] {
    const out: RoomEvent[] = [];
    const recent = this.#log.recent(room);
    for (let i = recent.length - 1; i >= 0 && out.length < this.#maxTags; i--) {
      const e = recent[i]!;
      if (e.mediaTime >= fromMs && e.mediaTime <= toMs) out.push(e);
    }
    // Media time is not monotonic in seq (clients may stamp what they watched): order by it.
    return out.sort((a, b) => a.mediaTime - b.mediaTime || a.seq - b.seq);
  }

  dateRangeTags(room: string, fromMs: number): string[] {
    return this.events(room, fromMs).map((e) => renderDateRange(e, this.#maxInlineBytes));
  }
}
