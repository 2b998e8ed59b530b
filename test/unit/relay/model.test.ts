import { describe, expect, it, vi } from 'vitest';
import { StreamCode, StreamError } from '../../../relay/errors';
import { Broadcast, type BroadcastSource } from '../../../relay/model/Broadcast';
import { Group } from '../../../relay/model/Group';
import { Track } from '../../../relay/model/Track';
import { Origin } from '../../../relay/Origin';
import { InMemoryRelayDirectory } from '../../../relay/RelayDirectory';
import { hasPrefix, joinPath, stripPrefix } from '../../../relay/Path';

const frame = (n: number) => new Uint8Array([n]);

describe('Group', () => {
  it('lets readers wait for frames and see the end', async () => {
    const g = new Group(0);
    const waited = g.wait(0);
    g.write(frame(1));
    await waited;
    expect(g.frame(0)).toEqual(frame(1));
    g.finish();
    await g.wait(5);
    expect(g.closed).toBe(true);
    expect(g.error).toBeUndefined();
  });

  it('aborts with GROUP_TOO_LARGE past its byte budget', () => {
    const g = new Group(0, { maxBytes: 2, maxFrames: 10 });
    g.write(frame(1));
    g.write(frame(2));
    g.write(frame(3));
    expect((g.error as StreamError).code).toBe(StreamCode.GROUP_TOO_LARGE);
    expect(g.frameCount).toBe(2);
  });
});

describe('Track', () => {
  it('keeps the latest groups for late joiners and announces new ones', () => {
    const t = new Track('video', { cacheGroups: 2 });
    const seen: number[] = [];
    t.on('group', (g) => seen.push(g.sequence));
    for (let i = 0; i < 4; i++) t.appendGroup();
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(t.latest()!.sequence).toBe(3);
    expect(t.cached(1)).toBeUndefined();
    expect(t.cached(2)!.sequence).toBe(2);
  });

  it('forgets its cached groups on clearCache, keeping its numbering and its readers', () => {
    const t = new Track('video');
    const g = t.appendGroup();
    g.write(new Uint8Array([1]));
    t.clearCache();
    expect(t.latest()).toBeUndefined();
    g.write(new Uint8Array([2])); // a reader holding the group still gets what follows
    g.finish();
    expect(g.frame(1)).toEqual(new Uint8Array([2]));
    expect(t.appendGroup().sequence).toBe(1);
  });

  it('orders groups arriving out of order and replaces a duplicate sequence', () => {
    const t = new Track('v', { cacheGroups: 3 });
    t.appendGroup(5);
    t.appendGroup(3);
    expect(t.latest()!.sequence).toBe(5);
    const old = t.cached(3)!;
    t.appendGroup(3);
    expect((old.error as StreamError).code).toBe(StreamCode.OLD);
    expect(t.appendGroup().sequence).toBe(6);
  });

  it('finishes open groups on a clean close and aborts them on a failure', () => {
    const t = new Track('v');
    const g = t.appendGroup();
    t.close();
    expect(g.closed && !g.error).toBe(true);
    const u = new Track('u');
    const h = u.appendGroup();
    u.close(new StreamError(StreamCode.SESSION_CLOSED, 'gone'));
    expect((h.error as StreamError).code).toBe(StreamCode.SESSION_CLOSED);
  });
});

describe('Broadcast', () => {
  function source(): BroadcastSource & { calls: number; closes: number; fail?: boolean } {
    const s = {
      label: 'test',
      calls: 0,
      closes: 0,
      fail: false,
      async subscribe(_path: string, _track: Track) {
        s.calls++;
        if (s.fail) throw new StreamError(StreamCode.NOT_FOUND, 'no such track');
        return { close: () => void s.closes++ };
      },
    };
    return s;
  }

  it('shares one upstream subscription between subscribers and lingers after the last leaves', async () => {
    vi.useFakeTimers();
    try {
      const src = source();
      const b = new Broadcast({ path: 'r/a', source: src, lingerMs: 1000 });
      const [x, y] = await Promise.all([b.acquire('video', 1), b.acquire('video', 1)]);
      expect(x.track).toBe(y.track);
      expect(src.calls).toBe(1);
      x.release();
      y.release();
      vi.advanceTimersByTime(999);
      const z = await b.acquire('video', 1);
      expect(z.track).toBe(x.track);
      z.release();
      vi.advanceTimersByTime(1000);
      expect(x.track.closed).toBe(true);
      expect(src.closes).toBe(1);
      expect((await b.acquire('video', 1)).track).not.toBe(x.track);
      expect(src.calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('propagates NOT_FOUND from the source and serves static tracks without one', async () => {
    const src = source();
    src.fail = true;
    const b = new Broadcast({ path: 'r/a', source: src });
    await expect(b.acquire('nope', 1)).rejects.toMatchObject({ code: StreamCode.NOT_FOUND });
    const local = new Broadcast({ path: 'r/b' });
    const t = local.createTrack('catalog.json');
    expect((await local.acquire('catalog.json', 1)).track).toBe(t);
    await expect(local.acquire('video', 1)).rejects.toMatchObject({ code: StreamCode.NOT_FOUND });
    local.close();
    expect(t.closed).toBe(true);
  });

  it('announces demand for its static tracks on the first lease and its end a linger after the last', async () => {
    vi.useFakeTimers();
    try {
      const b = new Broadcast({ path: 'r/c', lingerMs: 1000 });
      b.createTrack('video');
      b.createTrack('catalog.json');
      const events: boolean[] = [];
      b.on('demand', (wanted) => events.push(wanted));
      expect(b.wanted).toBe(false);
      const [v, c] = [await b.acquire('video', 1), await b.acquire('catalog.json', 1)];
      expect(events).toEqual([true]);
      v.release();
      v.release(); // a second release of the same lease counts once
      vi.advanceTimersByTime(5000);
      expect(events).toEqual([true]); // the catalog is still held
      c.release();
      vi.advanceTimersByTime(999);
      const again = await b.acquire('video', 1); // back within the linger: no gap
      vi.advanceTimersByTime(5000);
      expect(events).toEqual([true]);
      again.release();
      vi.advanceTimersByTime(1000);
      expect(events).toEqual([true, false]);
      expect(b.wanted).toBe(false);
      (await b.acquire('video', 1)).release();
      expect(events).toEqual([true, false, true]);
      b.close();
      vi.advanceTimersByTime(5000);
      expect(events).toEqual([true, false, true]); // no idle event after the end
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Origin', () => {
  it('announces, replaces and withdraws broadcasts by path', () => {
    const o = new Origin();
    const events: string[] = [];
    o.on('announced', (b) => events.push(`+${b.path}`));
    o.on('unannounced', (b) => events.push(`-${b.path}`));
    const a = new Broadcast({ path: 'r/a' });
    o.publish(a);
    const a2 = new Broadcast({ path: 'r/a' });
    o.publish(a2);
    expect(a.closed).toBe(true);
    expect(o.get('r/a')).toBe(a2);
    o.publish(new Broadcast({ path: 's/b' }));
    expect(o.list('r').map((b) => b.path)).toEqual(['r/a']);
    a2.close();
    expect(o.get('r/a')).toBeUndefined();
    expect(events).toEqual(['+r/a', '-r/a', '+r/a', '+s/b', '-r/a']);
  });
});

describe('paths and the directory', () => {
  it('matches prefixes on whole segments', () => {
    expect(hasPrefix('a', 'a/b')).toBe(true);
    expect(hasPrefix('a', 'ab')).toBe(false);
    expect(hasPrefix('', 'x')).toBe(true);
    expect(stripPrefix('a', 'a/b/c')).toBe('b/c');
    expect(stripPrefix('a', 'b')).toBeUndefined();
    expect(joinPath('/a/', '', 'b/')).toBe('a/b');
  });

  it('returns registered relays first, then the most specific static route', async () => {
    const d = new InMemoryRelayDirectory([
      { prefix: '', url: 'http://root' },
      { prefix: 'live', url: 'http://live' },
    ]);
    await d.register('live/cam', 'http://a');
    expect(await d.lookup('live/cam')).toEqual(['http://a', 'http://live', 'http://root']);
    await d.unregister('live/cam', 'http://a');
    expect(await d.lookup('live/cam')).toEqual(['http://live', 'http://root']);
    expect(await d.lookup('vod/x')).toEqual(['http://root']);
  });
});

describe('frame timestamps and track properties (moq-lite-05)', () => {
  it('keeps a given timestamp and stamps a missing one with the wall clock in microseconds', () => {
    const g = new Group(0);
    g.write(frame(1), 90_000);
    const before = Date.now() * 1000;
    g.write(frame(2));
    const after = Date.now() * 1000;
    expect(g.timestamp(0)).toBe(90_000);
    expect(g.timestamp(1)).toBeGreaterThanOrEqual(before - 1000);
    expect(g.timestamp(1)).toBeLessThanOrEqual(after + 1000);
    expect(g.timestamp(2)).toBeUndefined();
  });

  it("defaults a track's properties to a microsecond timescale and takes a publisher's before its first group only", () => {
    const t = new Track('video');
    expect(t.properties).toEqual({ priority: 0, ordered: false, latencyMax: 0, timescale: 1_000_000 });
    t.setProperties({ priority: 2, ordered: true, latencyMax: 500, timescale: 1000 });
    expect(t.properties.timescale).toBe(1000);
    t.appendGroup();
    expect(() => t.setProperties({ priority: 0, ordered: false, latencyMax: 0, timescale: 90_000 })).toThrow(/already has groups/);
  });
});
