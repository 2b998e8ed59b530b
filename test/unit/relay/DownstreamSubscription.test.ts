import { describe, expect, it } from 'vitest';
import { DownstreamSubscription, groupSendOrder } from '../../../relay/DownstreamSubscription';
import { StreamCode } from '../../../relay/errors';
import { Track } from '../../../relay/model/Track';
import { RelayStats } from '../../../relay/RelayStats';
import type { MoqTransport } from '../../../relay/transport/MoqTransport';
import { createLogger } from '../../../src/core/logger';
import { waitFor } from '../../../loadtest/core/waitFor';

interface FakeStream {
  sendOrder: number;
  chunks: Uint8Array[];
  finished: boolean;
  resetCode?: number;
}

/**
 * A transport whose unidirectional streams record what is written; while `stall` is set, new
 * streams' writes hang until `release()` (a congested link: the transport has no room).
 */
function fakeTransport() {
  const streams: FakeStream[] = [];
  let releases: Array<() => void> = [];
  const control = {
    stall: false,
    release: () => {
      for (const r of releases) r();
      releases = [];
    },
  };
  const transport = {
    async createUnidirectionalStream(o?: { sendOrder?: number }) {
      const s: FakeStream = { sendOrder: o?.sendOrder ?? 0, chunks: [], finished: false };
      streams.push(s);
      const stalled = control.stall;
      return new WritableStream<Uint8Array>({
        write: (chunk) => {
          s.chunks.push(chunk);
          return stalled ? new Promise<void>((resolve) => releases.push(resolve)) : undefined;
        },
        close: () => void (s.finished = true),
        abort: (reason: { code?: number }) => void (s.resetCode = reason?.code),
      });
    },
  } as unknown as MoqTransport;
  return { transport, streams, control };
}

const log = createLogger('test');

describe('DownstreamSubscription', () => {
  it('starts a late joiner at the latest cached group and follows new groups', async () => {
    const track = new Track('video');
    const g0 = track.appendGroup();
    g0.write(new Uint8Array([1]));
    g0.finish();
    const g1 = track.appendGroup();
    g1.write(new Uint8Array([2]));
    const { transport, streams } = fakeTransport();
    const sub = new DownstreamSubscription({ transport, id: 7n, track, priority: 60, staleGroupMs: 1000, stats: new RelayStats(), log });
    sub.start();
    g1.write(new Uint8Array([3]));
    g1.finish();
    const g2 = track.appendGroup();
    g2.write(new Uint8Array([4]));
    g2.finish();
    await waitFor(() => streams.length === 2 && streams.every((s) => s.finished), { what: 'two groups delivered' });
    // Group 1 (cached, in progress) then group 2; group 0 was never sent.
    expect(streams.map((s) => s.chunks.length)).toEqual([1 + 2 * 2, 1 + 2]);
    expect(streams[1]!.sendOrder).toBeGreaterThan(streams[0]!.sendOrder);
    sub.close();
  });

  it('fans every new group of a track out to every subscription, each on its own stream', async () => {
    const track = new Track('video');
    const subs = [1n, 2n, 3n].map((id) => {
      const { transport, streams } = fakeTransport();
      const sub = new DownstreamSubscription({ transport, id, track, priority: 60, staleGroupMs: 1000, stats: new RelayStats(), log });
      sub.start();
      return { sub, streams };
    });
    for (let i = 0; i < 5; i++) {
      const g = track.appendGroup();
      g.write(new Uint8Array([i]));
      g.finish();
      // Each group is complete before the next starts, so none is dropped as stale.
      await waitFor(() => subs.every(({ streams }) => streams.length === i + 1 && streams[i]!.finished), {
        what: `group ${i} at every subscription`,
        timeoutMs: 2_000,
      });
    }
    for (const { sub, streams } of subs) {
      expect(streams).toHaveLength(5);
      expect(streams.every((s) => s.finished && s.resetCode === undefined)).toBe(true);
      sub.close();
    }
  });

  it('drops a stalled older group once a newer group started, with OLD', async () => {
    const track = new Track('video');
    const { transport, streams, control } = fakeTransport();
    const stats = new RelayStats();
    const sub = new DownstreamSubscription({ transport, id: 1n, track, priority: 1, staleGroupMs: 20, stats, log });
    sub.start();
    control.stall = true;
    const g0 = track.appendGroup();
    g0.write(new Uint8Array(1000));
    g0.write(new Uint8Array(1000));
    g0.finish();
    await waitFor(() => streams.length === 1, { what: 'first stream' });
    control.stall = false;
    const g1 = track.appendGroup();
    g1.write(new Uint8Array([1]));
    g1.finish();
    await waitFor(() => stats.groupsDropped === 1 && streams[1]?.finished, { what: 'stale drop' });
    // The reset goes out once the transport takes the write in flight (WritableStream semantics).
    control.release();
    await waitFor(() => streams[0]!.resetCode !== undefined, { what: 'reset' });
    expect(streams[0]!.resetCode).toBe(StreamCode.OLD);
    // The stalled group never got past its header: no frame of it was written after the drop.
    expect(streams[0]!.chunks.length).toBe(1);
    sub.close();
  });

  it('ranks priority above recency and keeps media below control streams', () => {
    expect(groupSendOrder(100, 0)).toBeGreaterThan(groupSendOrder(60, 1_000_000));
    expect(groupSendOrder(60, 2)).toBeGreaterThan(groupSendOrder(60, 1));
    expect(groupSendOrder(255, 2 ** 40 - 1)).toBeLessThan(0);
  });
});
