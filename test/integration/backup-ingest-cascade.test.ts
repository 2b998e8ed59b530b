/**
 * Primary and backup contribution seen from a cascade edge (docs/backup-ingest.md): the inputs
 * publish to node A, a WHEP viewer (Chromium) and hls.js watch on node B, which pulls the stream
 * from A through Redis and a PipeTransport. When A's primary is killed the edge's viewer carries
 * on from the backup on the same PeerConnection, with no new pull, and follows the return.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { measureBackupSwitch } from '../../loadtest/ingest/backupSwitch';
import { expectSeamlessKillAndReturn } from '../helpers/backupSwitchExpectations';
import type { ConfigInput } from '../../src/config/schema';
import type { SubsecNode } from '../../src/SubsecNode';

let redis: TestRedis;
let origin: SubsecNode;
let edge: SubsecNode;
let browser: Chromium;

function cascadeNode(id: string, region: string, extra: ConfigInput = {}): ConfigInput {
  return {
    node: { id, region },
    redis: { url: redis.url, keyPrefix: 'backup-cascade:' },
    cascade: { coordinator: 'redis', lingerMs: 300, reconcileMs: 1000 },
    hls: { segmentTargetMs: 1000, renditions: [{ name: 'src', copySource: true, videoKbps: 1000 }] },
    logLevel: 'warn',
    ...extra,
  };
}

beforeAll(async () => {
  redis = await startRedis();
  origin = await startNode(
    cascadeNode('bk-origin', 'r1', {
      rtmp: { enabled: true, port: 0, idleTimeoutMs: 15_000 },
      srt: { enabled: true, port: 0, idleTimeoutMs: 15_000 },
      ingest: { backup: { stallMs: 1000, returnAfterMs: 2000 } },
    }),
  );
  edge = await startNode(cascadeNode('bk-edge', 'r2'));
  await waitFor(() => [origin, edge].every((n) => n.cascade.coordinator.liveNodes().length === 2), { what: 'both nodes registered', timeoutMs: 10_000 });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.allSettled([origin?.close(), edge?.close()]);
  await redis?.stop();
}, 30_000);

describe('primary and backup contribution on a cascade edge', () => {
  it('RTMP primary killed on the origin: the edge’s WHEP viewer and hls.js carry on from the SRT backup through the same pull, then return', async () => {
    const stream = `edge-${Date.now().toString(36)}`;
    const pulls: string[] = [];
    const result = await measureBackupSwitch(origin, browser, {
      room: 'bk-edge',
      stream,
      primary: 'rtmp',
      backup: 'srt',
      failure: 'kill',
      viewerNode: edge,
      whileOnBackup: async () => {
        pulls.push(...edge.cascade.manager.pulls().map((p) => `${p.room}/${p.identity}<-${p.origin} ${p.pipeId}`));
      },
    });
    console.log(`backup switch seen on a cascade edge: ${JSON.stringify(result)}`);
    // The edge pulled the stream from the origin, and that one pull carried both switches.
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatch(new RegExp(`^bk-edge/${stream}<-bk-origin `));
    expect(edge.cascade.manager.pulls().map((p) => `${p.room}/${p.identity}<-${p.origin} ${p.pipeId}`)).toEqual(pulls);
    // As on the origin.
    expectSeamlessKillAndReturn(result);
  }, 180_000);
});
