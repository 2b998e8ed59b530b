/**
 * The SDK's room events and clock in Chromium against a real node: ordered delivery identical for
 * every client, sends retried across forced disconnects applied exactly once, resume after a
 * reconnect with nothing missed, typed errors, and a clock that corrects a skewed browser clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SubsecNode } from '../../src/SubsecNode';
import type { RoomEvent } from '../../src/protocol/signaling';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import { ensureSdkBuilt } from './support/pageScripts';

const PAGE = fs.readFileSync(path.join(projectRoot, 'test/e2e/pages/events-page.js'), 'utf8');

let node: SubsecNode;
let browser: TestBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({ events: { rateLimit: { perSecond: 500, burst: 500 } } });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

async function open(identity: string, room: string, options: Record<string, unknown> = {}, skewMs = 0): Promise<Page> {
  const page = await browser.browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${identity}: ${e.message}`));
  await page.goto(`${node.url}/healthz`);
  await page.addScriptTag({ content: PAGE });
  if (skewMs) await page.evaluate(`ev.skewClock(${skewMs})`);
  const token = node.tokens.issue({ room, identity, canPublish: false, canSubscribe: true, canPublishData: true });
  await page.evaluate(`ev.connect(${JSON.stringify(node.url)}, ${JSON.stringify(token)}, ${JSON.stringify(options)})`);
  return page;
}

const received = (page: Page) => page.evaluate('ev.received()') as Promise<RoomEvent[]>;

describe('SDK room events (Chromium)', () => {
  it('delivers the same events in the same order to every client, across forced disconnects, each send applied once', async () => {
    const room = 'sdk-ev-order';
    const [a, b, c] = [await open('a', room), await open('b', room), await open('c', room)];
    const sending = Promise.all([
      a.evaluate(`ev.sendMany(25, 'a-')`) as Promise<Array<{ i: number; seq?: number; error?: string }>>,
      b.evaluate(`ev.sendMany(25, 'b-')`) as Promise<Array<{ i: number; seq?: number; error?: string }>>,
    ]);
    // Cut every socket three times while the sends are under way.
    for (let k = 0; k < 3; k++) {
      await waitFor(async () => (await received(c)).length >= (k + 1) * 10, { what: `progress before cut ${k}`, timeoutMs: 20_000 });
      node.signaling.closeAll();
    }
    const [ra, rb] = await sending;
    expect([...ra, ...rb].filter((r) => r.error)).toEqual([]);
    await waitFor(async () => (await received(c)).length === 50 && (await received(a)).length === 50 && (await received(b)).length === 50, {
      what: '50 events everywhere',
      timeoutMs: 20_000,
    });
    const ec = await received(c);
    expect(ec.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await received(a)).toEqual(ec);
    expect(await received(b)).toEqual(ec);
    // Every key once, and each call resolved with the event that holds its key.
    const keys = ec.map((e) => e.idempotencyKey);
    expect(new Set(keys).size).toBe(50);
    for (const r of ra) expect(ec.find((e) => e.seq === r.seq)?.idempotencyKey).toBe(`a-${r.i}`);
    // Each sender's events are in the order it sent them.
    const aOrder = ec.filter((e) => e.identity === 'a').map((e) => (e.payload as { i: number }).i);
    expect(aOrder).toEqual([...aOrder].sort((x, y) => x - y));
    expect(await c.evaluate('ev.states()')).toContain('reconnecting');
    for (const p of [a, b, c]) await p.close();
  }, 90_000);

  it('replays the retained history to a late joiner, or only new events when asked', async () => {
    const room = 'sdk-ev-late';
    const a = await open('a', room);
    await a.evaluate(`ev.sendMany(5, 'h-', 'chat')`);
    const late = await open('late', room);
    const fresh = await open('fresh', room, { eventsReplay: 'new' });
    await waitFor(async () => (await received(late)).length === 5, { what: 'history replayed' });
    await a.evaluate(`ev.sendOne('chat', 'new one')`);
    await waitFor(async () => (await received(fresh)).length === 1 && (await received(late)).length === 6, { what: 'new event' });
    expect((await received(fresh))[0]).toMatchObject({ seq: 6, payload: 'new one' });
    for (const p of [a, late, fresh]) await p.close();
  });

  it('rejects with typed errors: hook reasons, size, rate, and a bad type as TypeError', async () => {
    const room = 'auction-sdk-err';
    const p = await open('bob', room);
    expect(await p.evaluate(`ev.sendOne('bid', { lotId: 'none', amount: 1 })`)).toMatchObject({ error: 'EVENT_REJECTED', message: 'no lot none' });
    expect(await p.evaluate(`ev.sendOne('chat', 'x'.repeat(5000))`)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    expect(await p.evaluate(`ev.sendOne('9bad', null)`)).toMatchObject({ name: 'TypeError' });
    // The client is still fine.
    expect(await p.evaluate(`ev.sendOne('chat', 'ok')`)).toMatchObject({ seq: expect.any(Number) });
    await p.close();
  });

  it("syncs the node's clock: a browser clock skewed by +5 s still reads the node's time within a few ms", async () => {
    const p = await open('clock', 'sdk-ev-clock', {}, 5000);
    const c = (await p.evaluate('ev.clock()')) as { now: number; real: number; offsetMs: number; rttMs: number; synced: boolean };
    expect(c.synced).toBe(true);
    expect(c.offsetMs).toBeGreaterThan(-5010);
    expect(c.offsetMs).toBeLessThan(-4990);
    // Date.now() in the page is the machine's true clock, which is also the node's.
    expect(Math.abs(c.now - c.real)).toBeLessThan(5);
    expect(c.rttMs).toBeLessThan(50);
    await p.close();
    expect(pageErrors).toEqual([]);
  });
});
