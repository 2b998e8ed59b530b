import { afterEach, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { createRtpSink } from '../helpers/rtpSink';
import { FakeParticipant } from '../helpers/FakeParticipant';
import type { SubsecNode } from '../../src/SubsecNode';
import type { Room } from '../../src/sfu/Room';

let node: SubsecNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

/** Waits until the synthetic source has published its video producer in `room`. */
async function syntheticVideo(n: SubsecNode, roomName: string) {
  return waitFor(
    () => {
      const room = n.rooms.get(roomName);
      const video = room?.producersOf('synthetic').find((p) => p.kind === 'video');
      return room && video ? { room, video } : undefined;
    },
    { what: 'synthetic video producer', timeoutMs: 15_000 },
  );
}

describe('mediasoup worker pool', () => {
  it('starts the configured number of workers and spreads rooms across them', async () => {
    node = await startNode({ sfu: { workers: 2 } });
    expect(node.pool.workers).toHaveLength(2);
    const a = await node.rooms.getOrCreate('a');
    const b = await node.rooms.getOrCreate('b');
    expect(a.slots[0]!.worker.index).not.toBe(b.slots[0]!.worker.index);
  });

  it('replaces a worker killed with SIGKILL, re-creates its rooms on a healthy worker, and media flows again', async () => {
    node = await startNode({ sfu: { workers: 2 }, synthetic: { enabled: true, room: 'crash' } });
    const before = await syntheticVideo(node, 'crash');
    const watcher = new FakeParticipant('watcher');
    await before.room.join(watcher);
    const deadPid = before.room.slots[0]!.worker.worker.pid;

    process.kill(deadPid, 'SIGKILL');

    await waitFor(() => watcher.closedReason === 'worker-died', { what: 'room closed for worker death' });
    await waitFor(() => node!.pool.workers.length === 2 && node!.pool.workers.every((w) => w.worker.pid !== deadPid), {
      what: 'worker respawned',
    });
    // The synthetic source re-publishes into a new room; a receiver on it gets RTP again.
    const after = await waitFor(
      async () => {
        const s = await syntheticVideo(node!, 'crash');
        return s.room !== before.room ? s : undefined;
      },
      { what: 're-created room', timeoutMs: 15_000 },
    );
    const sink = await createRtpSink(after.room.slots[0]!.router, after.video.id);
    await waitFor(() => sink.packets() > 20, { what: 'RTP after respawn', timeoutMs: 15_000 });
    sink.close();
  });
});

describe('room spill-over', () => {
  it('places new participants on another worker when the router is at its consumer budget, piping media transparently', async () => {
    node = await startNode({ sfu: { workers: 2, consumersPerRouter: 1 }, synthetic: { enabled: true, room: 'spill' } });
    const { room, video } = await syntheticVideo(node, 'spill');
    const first = new FakeParticipant('first');
    const firstSlot = await room.join(first);
    await room.ensureOnRouter(video.id, firstSlot);
    // Through the hub: the first viewer's consumer fills the router's budget of 1.
    const firstSink = await createRtpSink(firstSlot.router, video.id, node.streams.get('spill', 'synthetic')!);
    expect(firstSlot.consumers).toBe(1);

    const second = new FakeParticipant('second');
    const secondSlot = await room.join(second);
    expect(room.slots).toHaveLength(2);
    expect(secondSlot.router).not.toBe(firstSlot.router);
    expect(secondSlot.worker.worker.pid).not.toBe(firstSlot.worker.worker.pid);

    await room.ensureOnRouter(video.id, secondSlot);
    await room.ensureOnRouter(video.id, secondSlot); // a second viewer reuses the same pipe
    const secondSink = await createRtpSink(secondSlot.router, video.id);
    await waitFor(() => secondSink.packets() > 20 && firstSink.packets() > 20, { what: 'RTP on both workers', timeoutMs: 15_000 });
    firstSink.close();
    expect(firstSlot.consumers).toBe(0);
    secondSink.close();
  });
});

describe('closing cascades', () => {
  async function roomWithSynthetic(): Promise<{ room: Room; videoId: string }> {
    node = await startNode({ synthetic: { enabled: true, room: 'cascade' } });
    const { room, video } = await syntheticVideo(node, 'cascade');
    return { room, videoId: video.id };
  }

  it('closing a room closes its routers, producers and consumers and tells every participant', async () => {
    const { room, videoId } = await roomWithSynthetic();
    const viewer = new FakeParticipant('viewer');
    const slot = await room.join(viewer);
    const sink = await createRtpSink(slot.router, videoId);
    const producer = room.getProducer(videoId)!.producer;

    room.close('admin');

    expect(viewer.closedReason).toBe('admin');
    expect(slot.router.closed).toBe(true);
    expect(producer.closed).toBe(true);
    expect(sink.consumer.closed).toBe(true);
    expect(node!.rooms.get('cascade')).toBeUndefined();
    sink.close();
  });

  it('a leaving publisher closes its producers and viewers are told', async () => {
    const { room, videoId } = await roomWithSynthetic();
    const viewer = new FakeParticipant('viewer');
    const slot = await room.join(viewer);
    const sink = await createRtpSink(slot.router, videoId);
    const publisher = room.participants.find((p) => p.identity === 'synthetic')!;

    room.leave(publisher.id);

    expect(room.getProducer(videoId)).toBeUndefined();
    await waitFor(() => sink.consumer.closed, { what: 'consumer closed after its producer' });
    expect(viewer.notifications.map((n) => n.name)).toEqual(expect.arrayContaining(['producerClosed', 'peerLeft']));
    sink.close();
  });
});
