/**
 * moq-lite versions at the relay, with moq-dev's @moq/net on both ends over WebSocket (QMux):
 * each version the relay speaks (lite-03, -04, -05 and lite-06's work-in-progress ALPN) carries a
 * publisher's frames to a subscriber of the same version and across versions, the relay reports
 * the negotiated version per session, lite-05 subscribers get the publisher's own frame
 * timestamps and track properties (TRACK_INFO) and can FETCH a cached group, and a client
 * offering several versions gets lite-05.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMoq, Moq, publishTestBroadcast, readGroups, testFrame, within, type TestPublisher } from '../../loadtest/core/moqClient';
import { startRelay, token } from '../helpers/relay';
import { waitFor } from '../../loadtest/core/waitFor';
import type { RelayServer } from '../../relay/RelayServer';

const VERSIONS = ['moq-lite-03', 'moq-lite-04', 'moq-lite-05', 'moq-lite-06-wip'] as const;

let relay: RelayServer;
const publishers: Array<{ conn: Moq.Connection.Established; pub: TestPublisher }> = [];

/** Versions the relay's open sessions negotiated, by session id. */
function sessionVersions(): string[] {
  return relay.sessionList().map((s) => s.version);
}

beforeAll(async () => {
  relay = await startRelay();
  // One publisher per version, each on its own path.
  for (const v of VERSIONS) {
    const conn = await connectMoq(relay.addresses, token('v', { canPublish: true }), { versions: [v] });
    expect(conn.version).toBe(v);
    publishers.push({ conn, pub: publishTestBroadcast(conn, `v/${v}`, { intervalMs: 40, framesPerGroup: 3 }) });
  }
  for (const v of VERSIONS) await waitFor(() => relay.origin.get(`v/${v}`), { what: `announce over ${v}` });
}, 30_000);

afterAll(async () => {
  for (const p of publishers) {
    p.pub.stop();
    p.conn.close();
  }
  await relay?.close();
});

describe('moq-lite versions', () => {
  it('negotiates lite-05 for a client offering every version (@moq/net default list)', async () => {
    const conn = await connectMoq(relay.addresses, token('v'));
    try {
      expect(conn.version).toBe('moq-lite-05');
      await waitFor(() => relay.stats.sessionsByVersion['moq-lite-05']! >= 2, { what: 'the default session counted as lite-05' });
    } finally {
      conn.close();
    }
  });

  it('offers lite-06 only to a client that offers it without lite-05', async () => {
    const both = await connectMoq(relay.addresses, token('v'), { versions: ['moq-lite-06-wip', 'moq-lite-05'] });
    expect(both.version).toBe('moq-lite-05');
    both.close();
  });

  for (const pubVersion of VERSIONS) {
    for (const subVersion of VERSIONS) {
      it(`delivers a ${pubVersion} publisher's groups to a ${subVersion} subscriber`, async () => {
        const conn = await connectMoq(relay.addresses, token('v'), { versions: [subVersion] });
        try {
          expect(conn.version).toBe(subVersion);
          expect(sessionVersions()).toContain(subVersion);
          const sub = conn
            .consume(Moq.Path.from(`v/${pubVersion}`))
            .track('video')
            .subscribe({ priority: 1 });
          const groups = await readGroups(sub, (g) => g.length >= 3, 10_000);
          for (const g of groups.slice(0, -1)) {
            expect(g.frames.map((f) => testFrame(f).index)).toEqual([0, 1, 2]);
            expect(g.frames.every((f) => testFrame(f).group === g.sequence)).toBe(true);
          }
          sub.close();
        } finally {
          conn.close();
        }
      }, 20_000);
    }
  }

  it("gives a lite-05 subscriber the lite-05 publisher's timestamps and track properties", async () => {
    const conn = await connectMoq(relay.addresses, token('v'), { versions: ['moq-lite-05'] });
    try {
      const broadcast = conn.consume(Moq.Path.from('v/moq-lite-05'));
      const sub = broadcast.track('video').subscribe({ priority: 1 });
      // The test publisher accepts with @moq/net's defaults: millisecond timescale.
      expect((await within(sub.info(), 5_000, 'track info')).timescale).toBe(1000);
      const g = await within(sub.recvGroup(), 5_000, 'group');
      const f = await within(g!.readFrame(), 5_000, 'frame');
      // The publisher stamps Date.now() as microseconds; at a millisecond timescale it arrives whole.
      expect(Math.abs(f!.timestamp.as(Moq.Time.Timescale.MILLI) - testFrame(f!.payload).sentAt)).toBeLessThanOrEqual(1);
      sub.close();
    } finally {
      conn.close();
    }
  });

  it('stamps frames from a lite-04 publisher with the relay clock (microseconds) for a lite-05 subscriber', async () => {
    const conn = await connectMoq(relay.addresses, token('v'), { versions: ['moq-lite-05'] });
    try {
      const sub = conn.consume(Moq.Path.from('v/moq-lite-04')).track('video').subscribe({ priority: 1 });
      expect((await within(sub.info(), 5_000, 'track info')).timescale).toBe(1_000_000);
      const g = await within(sub.recvGroup(), 5_000, 'group');
      const f = await within(g!.readFrame(), 5_000, 'frame');
      const ms = f!.timestamp.as(Moq.Time.Timescale.MILLI);
      expect(ms).toBeGreaterThanOrEqual(testFrame(f!.payload).sentAt - 1);
      expect(ms).toBeLessThan(Date.now() + 1);
      sub.close();
    } finally {
      conn.close();
    }
  });

  it('serves a cached group to a lite-05 FETCH and refuses one that is not cached', async () => {
    const conn = await connectMoq(relay.addresses, token('v'), { versions: ['moq-lite-05'] });
    try {
      const broadcast = conn.consume(Moq.Path.from('v/moq-lite-04'));
      const sub = broadcast.track('video').subscribe({ priority: 1 });
      const live = await within(sub.recvGroup(), 5_000, 'group');
      const fetched = await within(broadcast.fetchGroup('video', live!.sequence), 5_000, 'fetch');
      const frames: Uint8Array[] = [];
      for (;;) {
        const f = await within(fetched.readFrame(), 5_000, 'fetched frame');
        if (!f) break;
        frames.push(f.payload);
      }
      expect(frames.map((p) => testFrame(p))).toMatchObject([
        { group: live!.sequence, index: 0 },
        { group: live!.sequence, index: 1 },
        { group: live!.sequence, index: 2 },
      ]);
      const missing = await within(broadcast.fetchGroup('video', 1_000_000), 5_000, 'missing fetch');
      await expect(within(missing.readFrame(), 5_000, 'refused fetch')).rejects.toThrow();
      sub.close();
    } finally {
      conn.close();
    }
  });

  for (const v of VERSIONS) {
    it(`announces broadcasts going live and away to a ${v} session`, async () => {
      const conn = await connectMoq(relay.addresses, token('v'), { versions: [v] });
      const extra = await connectMoq(relay.addresses, token('v', { canPublish: true }), { versions: [v] });
      const announced = conn.announced(Moq.Path.from('v'));
      try {
        const seen = new Map<string, boolean[]>();
        void (async () => {
          for (;;) {
            const e = await announced.next();
            if (!e) return;
            seen.set(e.path, [...(seen.get(e.path) ?? []), e.active]);
          }
        })();
        await waitFor(() => VERSIONS.every((p) => seen.get(p)?.[0] === true), { what: `initial announcements over ${v}` });
        const pub = publishTestBroadcast(extra, `v/extra-${v}`);
        await waitFor(() => seen.get(`extra-${v}`)?.[0] === true, { what: 'live announcement' });
        pub.stop();
        extra.close();
        await waitFor(() => seen.get(`extra-${v}`)?.[1] === false, { what: 'ended announcement' });
        // Nothing announced twice.
        for (const events of seen.values()) expect(events.slice(0, 2)).toEqual(events.length > 1 ? [true, false] : [true]);
      } finally {
        announced.close();
        extra.close();
        conn.close();
      }
    }, 20_000);
  }

  it('counts sessions by negotiated version in stats and /info', async () => {
    const info = (await (await fetch(`${relay.addresses.url}/info`)).json()) as Record<string, unknown>;
    expect(info.protocols).toEqual(['moq-lite-05', 'moq-lite-06-wip', 'moq-lite-04', 'moq-lite-03', 'moqt-16', 'moql']);
    for (const v of VERSIONS) expect((info.sessionsByVersion as Record<string, number>)[v]).toBeGreaterThanOrEqual(1);
    expect(relay.sessionList().length).toBe(relay.sessionCount);
    expect(info.sessionList).toBeUndefined(); // identities stay off the public endpoint
  });
});
