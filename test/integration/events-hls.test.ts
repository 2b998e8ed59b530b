/**
 * Room events in LL-HLS: an event sent while the synthetic source is packaged appears in the media
 * playlist as EXT-X-DATERANGE whose START-DATE is its media time, and that time falls within one
 * part of the live edge the playlist had when the event was accepted (the frame it belongs to).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';

let node: SubsecNode;
const ROOM = 'ev-hls';
const PART_MS = 200;

beforeAll(async () => {
  node = await startNode({
    synthetic: { enabled: true, room: ROOM },
    hls: { renditions: [{ name: 'source', copySource: true, videoKbps: 1500 }], partTargetMs: PART_MS, segmentTargetMs: 1000 },
  });
  await waitFor(
    () =>
      node.rooms
        .get(ROOM)
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
}, 60_000);
afterAll(() => node?.close());

interface Part {
  start: number;
  end: number;
}

/** Parts of a media playlist with their program-date-time span (ms). */
function parts(playlist: string): Part[] {
  const out: Part[] = [];
  let t: number | undefined;
  for (const line of playlist.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) t = Date.parse(line.slice(25));
    else if (line.startsWith('#EXT-X-PART:') && t !== undefined) {
      const d = Number(/DURATION=([\d.]+)/.exec(line)![1]) * 1000;
      out.push({ start: t, end: t + d });
      t += d;
    }
  }
  return out;
}

describe('room events as EXT-X-DATERANGE', () => {
  it('lists each event at its media time, within one part of the live edge at acceptance', async () => {
    const url = `${node.url}/hls/${ROOM}/synthetic/source/index.m3u8`;
    await waitFor(async () => (await fetch(url)).ok, { timeoutMs: 30_000, what: 'media playlist' });
    const edges: number[] = [];
    const events = [];
    for (let i = 0; i < 5; i++) {
      const before = parts(await (await fetch(url)).text()).at(-1)!.end;
      const event = await node.events!.log.publish(ROOM, 'cue', { i });
      const after = parts(await (await fetch(url)).text()).at(-1)!.end;
      edges.push(event.mediaTime - before, after - event.mediaTime);
      events.push(event);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(events.every((e) => e.mainStream === 'synthetic')).toBe(true);
    const playlist = await (await fetch(url)).text();
    for (const e of events) {
      const line = playlist.split('\n').find((l) => l.startsWith(`#EXT-X-DATERANGE:ID="ev-${e.seq}"`));
      expect(line, `DATERANGE of event ${e.seq}`).toBeDefined();
      expect(line).toContain(`START-DATE="${new Date(e.mediaTime).toISOString()}"`);
      expect(line).toContain('CLASS="io.subsec.event"');
      expect(line).toContain(`X-TYPE="cue"`);
      const body = JSON.parse(Buffer.from(/X-EVENT="([^"]+)"/.exec(line!)![1]!, 'base64').toString());
      expect(body).toEqual(e);
    }
    // The media time sits at the live edge of the moment: never more than one part away from it.
    const worst = Math.max(...edges.map((d) => Math.abs(d)));
    process.stderr.write(`daterange: media time vs live edge at acceptance: worst ${worst.toFixed(0)} ms (part target ${PART_MS} ms)\n`);
    for (const d of edges) expect(d).toBeGreaterThan(-PART_MS * 1.5);
    expect(worst).toBeLessThan(PART_MS * 1.5 + 100);
    // Blocking playlist reloads carry them too.
    const blocking = await (await fetch(`${url}?_HLS_msn=0`)).text();
    expect(blocking).toContain('#EXT-X-DATERANGE');
  });
});
