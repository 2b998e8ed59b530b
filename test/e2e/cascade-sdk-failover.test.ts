/**
 * SDK failover across cascade nodes with real processes: a real redis-server, the origin node A as
 * a node process (`spawnNode`, killed with SIGKILL), B and C in-process, Debian Chromium. The
 * publisher's page (on A's origin) connects to A with `nodes: [B]` and publishes the fake camera;
 * the viewer's page on C subscribes. A is killed: the publisher's SDK reconnects to B and
 * republishes, C tells the viewer `originLost`, and the viewer's same Subscription re-binds to the
 * republished source (`trackChanged`) and decodes again. Prints `CASCADE_FIGURE {...}`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startNode } from '../helpers/startNode';
import { startRedis, type TestRedis } from '../../loadtest/core/redisServer';
import { spawnNode, type NodeProcess } from '../../loadtest/core/nodeProcess';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import type { SubsecNode } from '../../src/SubsecNode';
import { call, ensureSdkBuilt, inject } from './support/pageScripts';

const ROOM = 'e2e-sdk-failover';
const PREFIX = 'sdkfailover:';
const TUNING = { coordinator: 'redis' as const, lingerMs: 300, reconcileMs: 1000, redirect: 'never' as const };
const RECONNECT = { initialDelayMs: 200, maxDelayMs: 2_000 };

interface SubStats {
  presented: number;
  framesDecoded: number;
  producerId: string;
  trackId?: string;
  closed: boolean;
}

interface PageEvent {
  name: string;
  at: number;
  data: any;
}

let redis: TestRedis;
let a: NodeProcess;
let b: SubsecNode;
let c: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];

async function openClient(url: string, identity: string, canPublish: boolean, options: Record<string, unknown>): Promise<Page> {
  const page = await browser.browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${identity}: ${error.message}`));
  await page.goto(`${url}/healthz`);
  await inject(page, 'sdk-page');
  const token = c.tokens.issue({ room: ROOM, identity, canPublish, canSubscribe: true, canPublishData: true });
  const me = await call<{ state: string }>(page, 'e2e.connect', token, { reconnect: RECONNECT, ...options });
  expect(me).toMatchObject({ state: 'connected' });
  return page;
}

describe('SDK failover when the origin node dies', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    await ensureSdkBuilt();
    redis = await startRedis();
    const common = { redis: { url: redis.url, keyPrefix: PREFIX }, cascade: TUNING, logLevel: 'warn' as const };
    a = await spawnNode({
      ...common,
      node: { id: 'a', region: 'r1' },
      http: { host: '127.0.0.1', port: 0, demo: true },
      sfu: { workers: 1 },
      drainTimeoutMs: 0,
    });
    b = await startNode({ ...common, node: { id: 'b', region: 'r1' } });
    c = await startNode({ ...common, node: { id: 'c', region: 'r1' } });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    a?.kill('SIGKILL');
    await a?.exited;
    await Promise.allSettled([b?.close(), c?.close()]);
    await redis?.stop();
  });

  it('publisher reconnects to B and republishes; the viewer on C decodes again on the same Subscription', async () => {
    const publisher = await openClient(a.url, 'publisher', true, { nodes: [b.url] });
    const viewer = await openClient(c.url, 'viewer', false, {});
    await call(publisher, 'e2e.publish', { appData: { source: 'camera' } });
    // The video producer reaches C through a cascade pull from A (subscribeProducer throws until then).
    const sub = await waitFor(() => call<{ producerId: string }>(viewer, 'e2e.subscribeProducer', 'publisher', 'video'), {
      what: "the publisher's video at the viewer on C",
      timeoutMs: 15_000,
    });
    const stats = () => call<SubStats>(viewer, 'e2e.stats', 'video');
    await waitFor(async () => ((await stats()).framesDecoded > 20 ? true : undefined), { what: 'frames at C before the kill', timeoutMs: 20_000 });

    const before = await stats();
    const killedAt = Date.now();
    a.kill('SIGKILL');
    await a.exited;
    // Frames again: decoded by the same Subscription from a new producer (the republished one).
    const again = await waitFor(
      async () => {
        const s = await stats().catch(() => undefined);
        return s && !s.closed && s.producerId !== sub.producerId && s.framesDecoded > 5 ? s : undefined;
      },
      { what: 'frames again at C', timeoutMs: 20_000, intervalMs: 50 },
    ).catch(async (e) => {
      process.stdout.write(
        `DEBUG viewer ${JSON.stringify(await call(viewer, 'e2e.events'))}\npub ${JSON.stringify(await call(publisher, 'e2e.events'))}\nstats ${JSON.stringify(await stats().catch(String))}\nPULLS C ${JSON.stringify(c.cascade.manager.pulls())}\nB producers ${b.rooms.get(ROOM)?.producersOf('publisher').length}\n`,
      );
      throw e;
    });
    const framesAgainAt = Date.now();
    const events = await call<PageEvent[]>(viewer, 'e2e.events');
    const pubEvents = await call<PageEvent[]>(publisher, 'e2e.events');
    const changed = events.find((e) => e.name === 'video:trackChanged' && e.at >= killedAt);
    const reconnected = pubEvents.find((e) => e.name === 'reconnected' && e.at >= killedAt);
    const figures = {
      killToPublisherReconnectedMs: reconnected ? reconnected.at - killedAt : -1,
      killToTrackChangedMs: changed ? changed.at - killedAt : -1,
      killToFramesAgainMs: framesAgainAt - killedAt,
    };
    process.stdout.write(`CASCADE_FIGURE ${JSON.stringify({ name: 'sdk-failover', ...figures })}\n`);

    expect(before.framesDecoded).toBeGreaterThan(20);
    expect(reconnected).toBeDefined();
    expect(changed).toBeDefined();
    expect(events.some((e) => e.name === 'video:closed')).toBe(false);
    expect(again.trackId).not.toBe(before.trackId);
    expect(b.rooms.get(ROOM)!.producersOf('publisher')).toHaveLength(2);
    // Presented frames keep advancing on the swapped track.
    const presented = again.presented;
    await waitFor(async () => ((await stats()).presented > presented + 10 ? true : undefined), { what: 'presented frames after failover' });
    expect(figures.killToFramesAgainMs).toBeLessThanOrEqual(5_000);
    expect(pageErrors).toEqual([]);
  });
});
