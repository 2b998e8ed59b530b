/**
 * Room events on the MoQ path: a MoQ viewer (@moq/net over WebSocket) of a bridged stream reads
 * the broadcast's `events.json` track and gets each room event as one group, sequence = seq.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { RoomEvent } from '../../src/protocol/signaling';
import { connectMoq, Moq, readGroups } from '../../loadtest/core/moqClient';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';

const ROOM = 'ev-moq';
let node: SubsecNode;
beforeAll(async () => {
  node = await startNode({
    synthetic: { enabled: true, room: ROOM },
    hls: { enabled: false },
    moq: { enabled: true, relay: { port: 0, webtransport: { enabled: false, port: 0 } } },
  });
  await waitFor(() => node.rooms.get(ROOM)?.producersOf('synthetic').length === 2, { what: 'synthetic producers', timeoutMs: 20_000 });
}, 60_000);
afterAll(() => node?.close());

describe('room events on MoQ', () => {
  it("carries every new room event in the stream broadcast's events.json track", async () => {
    const token = node.tokens.issue({ room: ROOM, identity: 'moq-viewer', canSubscribe: true });
    const conn = await connectMoq(node.moqRelay!.addresses, token);
    try {
      const broadcast = conn.consume(Moq.Path.from(`${ROOM}/synthetic`));
      const sub = broadcast.track('events.json').subscribe({ priority: 90 });
      const sent: RoomEvent[] = [];
      const reading = readGroups(sub, (groups) => groups.length >= 5, 20_000);
      // Give the subscription a moment to be in place, then publish while reading.
      await waitFor(
        async () => {
          sent.push(await node.events!.log.publish(ROOM, 'cue', { n: sent.length }));
          return sent.length >= 5;
        },
        { intervalMs: 200, what: 'five events', timeoutMs: 20_000 },
      );
      const groups = await reading;
      const got = groups.map((g) => JSON.parse(new TextDecoder().decode(g.frames[0])));
      for (const [i, g] of groups.entries()) expect(g.sequence).toBe(got[i].seq);
      // Whatever the viewer got is exactly the log's events, in order.
      for (const e of got) expect(e).toEqual(sent.find((s) => s.seq === e.seq));
      expect(got.map((e) => e.seq)).toEqual([...got.map((e) => e.seq)].sort((a, b) => a - b));
      sub.close();
    } finally {
      conn.close();
    }
  });
});
