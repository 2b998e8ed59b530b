/**
 * The watch party's demo sample on a real node: the first person in the room gets the sample
 * playing from 0 (a `playback` room event from the node), it starts over each time it ends while
 * it is the shared video, and a visitor's own choice (a pause) is left alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import type { RoomEvent } from '../../src/protocol/signaling';
import { DemoWatchParty } from '../../src/demo/DemoWatchParty';
import { createLogger } from '../../src/core/logger';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { SignalingTestClient } from '../helpers/SignalingTestClient';

const ROOM = 'party-it';
const SAMPLE = { src: '/apps/media/sample.webm', durationSec: 1.5 };
let node: SubsecNode;
let party: DemoWatchParty;
const clients: SignalingTestClient[] = [];

beforeAll(async () => {
  node = await startNode({});
  party = new DemoWatchParty({ room: ROOM, rooms: node.rooms, events: node.events!.log, sample: SAMPLE, log: createLogger('party-test') });
  party.start();
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  party?.close();
  await node?.close();
});

async function playbacks(): Promise<RoomEvent[]> {
  return (await node.events!.log.read(ROOM, 0, 1000)).events.filter((e) => e.type === 'playback');
}

describe('watch-party demo sample', () => {
  it('plays the sample for the first visitor, loops it, and leaves a visitor’s pause alone', async () => {
    expect(await playbacks()).toEqual([]);
    const client = await SignalingTestClient.connect(node.url);
    clients.push(client);
    const joinedAt = Date.now();
    await client.call('join', {
      protocol: 1,
      token: node.tokens.issue({ room: ROOM, identity: 'first', canPublish: false, canSubscribe: true, canPublishData: true }),
    });

    const [first] = await waitFor(
      async () => {
        const p = await playbacks();
        return p.length > 0 ? p : undefined;
      },
      { what: 'the sample started' },
    );
    expect(first!.payload).toMatchObject({ src: SAMPLE.src, playing: true, position: 0, rate: 1 });
    expect((first!.payload as { at: number }).at).toBeGreaterThanOrEqual(joinedAt - 5);

    // It runs out after 1.5 s and starts over.
    const looped = await waitFor(
      async () => {
        const p = await playbacks();
        return p.length >= 2 ? p[1] : undefined;
      },
      { timeoutMs: 10_000, what: 'the sample started over' },
    );
    const gap = (looped.payload as { at: number }).at - (first!.payload as { at: number }).at;
    expect(gap).toBeGreaterThanOrEqual(SAMPLE.durationSec * 1000 - 50);
    expect(looped.payload).toMatchObject({ src: SAMPLE.src, playing: true, position: 0 });

    // The visitor pauses: the node does not restart it when the sample's time would be up.
    await client.call('sendEvent', { type: 'playback', payload: { src: SAMPLE.src, playing: false, position: 0.7, rate: 1, at: Date.now() } });
    const count = (await playbacks()).length;
    const pausedAt = Date.now();
    // Absence can only be checked after a while: two sample lengths later, nothing new came.
    await waitFor(() => Date.now() - pausedAt > 2 * SAMPLE.durationSec * 1000, { timeoutMs: 10_000, intervalMs: 100, what: 'two sample lengths' });
    expect(await playbacks()).toHaveLength(count);
  }, 30_000);
});
