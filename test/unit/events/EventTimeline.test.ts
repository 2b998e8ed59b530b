import { afterEach, describe, expect, it } from 'vitest';
import { RoomEventLog } from '../../../src/events/RoomEventLog';
import { InMemoryEventStore } from '../../../src/events/InMemoryEventStore';
import { eventsConfigSchema } from '../../../src/events/eventsConfig';
import { DATERANGE_CLASS, EventTimeline, renderDateRange } from '../../../src/events/EventTimeline';
import { renderMediaPlaylist } from '../../../src/hls/Playlist';
import { createLogger } from '../../../src/core/logger';
import type { RoomEvent } from '../../../src/protocol/signaling';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

const event: RoomEvent = {
  seq: 7,
  room: 'r',
  type: 'bid',
  payload: { amount: 12, note: 'a "quoted", \n line' },
  identity: 'bob',
  serverTime: 1_700_000_000_500,
  mediaTime: 1_700_000_000_250,
};

describe('EventTimeline', () => {
  it('renders an EXT-X-DATERANGE at the media time with the event inline as base64 JSON', () => {
    const line = renderDateRange(event);
    expect(line).toBe(
      `#EXT-X-DATERANGE:ID="ev-7",CLASS="${DATERANGE_CLASS}",START-DATE="2023-11-14T22:13:20.250Z",DURATION=0.000,X-SEQ=7,X-TYPE="bid",X-EVENT="${Buffer.from(JSON.stringify(event)).toString('base64')}"`,
    );
    // Quoted-string values must not contain quotes or line breaks.
    const quoted = [...line.matchAll(/="([^"]*)"/g)].map((m) => m[1]!);
    for (const v of quoted) expect(v).not.toMatch(/[\r\n"]/);
    expect(JSON.parse(Buffer.from(/X-EVENT="([^"]+)"/.exec(line)![1]!, 'base64').toString())).toEqual(event);
    expect(renderDateRange({ ...event, payload: 'x'.repeat(2000) })).not.toContain('X-EVENT');
  });

  it('lists the recent events of a room whose media time is in the window, ordered by media time', async () => {
    const store = new InMemoryEventStore();
    const log = new RoomEventLog({ store, config: eventsConfigSchema.parse({}), log: createLogger('test') });
    cleanup.push(
      () => log.close(),
      () => store.close(),
    );
    const timeline = new EventTimeline(log, { maxTags: 3 });
    const now = Date.now();
    const g = { canPublish: false, canSubscribe: true, canPublishData: true };
    for (const lag of [4000, 0, 2000, 1000, 3000]) await log.send({ room: 'r', type: 'x', identity: `u${lag}`, grants: g, mediaTime: now - lag });
    const listed = timeline.events('r', now - 3500);
    // The newest three by sequence (u0 is older in the log), in media-time order.
    expect(listed.map((e) => e.identity)).toEqual(['u3000', 'u2000', 'u1000']);
    expect(timeline.events('other', 0)).toEqual([]);
    expect(timeline.dateRangeTags('r', now - 3500)).toHaveLength(3);
  });

  it('is placed in a media playlist by the HLS writer (only when there is a program date)', () => {
    const tags = [renderDateRange(event)];
    const segment = {
      msn: 0,
      parts: [{ seq: 0, msn: 0, index: 0, duration: 0.2, independent: true, publishedAt: 0, mediaEndWallMs: 0, data: Buffer.alloc(0) }],
      startTime: 0,
      programDateTime: event.mediaTime,
      independent: true,
      duration: 0.2,
      complete: false,
    };
    const text = renderMediaPlaylist({ targetDuration: 3, partTarget: 0.2, segments: [segment], nextPartSeq: 1, ended: false, dateRanges: tags });
    const lines = text.split('\n');
    expect(lines).toContain(tags[0]);
    expect(lines.indexOf(tags[0]!)).toBeLessThan(lines.findIndex((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME')));
    expect(renderMediaPlaylist({ targetDuration: 3, partTarget: 0.2, segments: [], nextPartSeq: 0, ended: false, dateRanges: tags })).not.toContain(
      'DATERANGE',
    );
  });
});
