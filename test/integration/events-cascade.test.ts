/**
 * Room events on Redis Streams shared by several nodes: one order for every client whichever node
 * it is on, the auction rules holding across nodes, and no acknowledged bid lost when a node is
 * killed (SIGKILL) in the middle of an auction.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { startNode } from '../helpers/startNode';
import { SignalingTestClient } from '../helpers/SignalingTestClient';
import { startEventsRedis, type EventsRedis } from '../../loadtest/core/redisForEvents';
import { waitFor } from '../../loadtest/core/waitFor';

let redis: EventsRedis;
let a: SubsecNode;
let b: SubsecNode;
const children: ChildProcess[] = [];

const eventsConfig = (url: string) => ({ redis: { url }, events: { store: 'redis' as const, rateLimit: { perSecond: 500, burst: 500 } } });

beforeAll(async () => {
  redis = await startEventsRedis();
  a = await startNode({ node: { id: 'node-a' }, ...eventsConfig(redis.url) });
  b = await startNode({ node: { id: 'node-b' }, ...eventsConfig(redis.url) });
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await a?.close();
  await b?.close();
  await redis?.stop();
});

async function joined(url: string, token: string): Promise<SignalingTestClient> {
  const c = await SignalingTestClient.connect(url);
  await c.call('join', { protocol: 1, token });
  return c;
}

const token = (node: SubsecNode, identity: string, room: string, canPublish = false) =>
  node.tokens.issue({ room, identity, canPublish, canSubscribe: true, canPublishData: true });
const pushed = (c: SignalingTestClient) => c.notifications.filter((n) => n.notification === 'roomEvent').map((n) => n.data);

describe('room events across nodes (Redis Streams)', () => {
  it('uses the Redis store and gives clients on both nodes one order', async () => {
    expect(a.events!.storeKind).toBe('redis');
    const room = 'x-order';
    const onA = await joined(a.url, token(a, 'ua', room));
    const onB = await joined(b.url, token(b, 'ub', room));
    await onA.call('subscribeEvents', {});
    await onB.call('subscribeEvents', {});
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? onA : onB).call('sendEvent', { type: 'n', payload: i, idempotencyKey: `k${i}` })));
    await waitFor(() => pushed(onA).length === 30 && pushed(onB).length === 30, { what: 'pushes on both nodes' });
    expect(pushed(onA).map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(pushed(onB)).toEqual(pushed(onA));
    // A retry on the other node is recognised.
    const retry = await onB.call('sendEvent', { type: 'n', payload: 'again', idempotencyKey: 'k1' });
    expect(retry.duplicate).toBe(false); // k1 was sent by ua, not ub: keys are per identity
    const onA2 = await joined(b.url, token(b, 'ua', room));
    const dup = await onA2.call('sendEvent', { type: 'n', payload: 'again', idempotencyKey: 'k1' });
    expect(dup).toMatchObject({ duplicate: true, event: { payload: 1, identity: 'ua' } });
    for (const c of [onA, onB, onA2]) c.close();
  });

  it('keeps the auction rules across nodes: concurrent bids on both nodes only ever go up', async () => {
    const room = 'auction-x';
    const ann = await joined(a.url, token(a, 'ann', room, true));
    await ann.call('sendEvent', { type: 'lot.open', payload: { lotId: 'l1', startPrice: 1, increment: 1, durationSec: 600 } });
    const bidders = await Promise.all(Array.from({ length: 6 }, (_, i) => joined((i % 2 ? a : b).url, token(i % 2 ? a : b, `bidder${i}`, room))));
    const amounts = Array.from({ length: 60 }, (_, i) => 1 + ((i * 7) % 40));
    const results = await Promise.all(amounts.map((amount, i) => bidders[i % 6]!.request('sendEvent', { type: 'bid', payload: { lotId: 'l1', amount } })));
    for (const r of results) if (!r.ok) expect(r.error?.code).toMatch(/EVENT_REJECTED|CONFLICT/);
    const log = (await ann.call('getEvents', { afterSeq: 0, limit: 1000 })).events.filter((e: { type: string }) => e.type === 'bid');
    expect(log.length).toBe(results.filter((r) => r.ok).length);
    for (let i = 1; i < log.length; i++) expect(log[i].payload.amount).toBeGreaterThan(log[i - 1].payload.amount);
    for (const c of [ann, ...bidders]) c.close();
  }, 60_000);

  it('loses no acknowledged bid when the node taking them is killed mid-auction; retries elsewhere apply once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-events-kill-'));
    const file = path.join(dir, 'node.yaml');
    fs.writeFileSync(
      file,
      `node:\n  id: doomed\nhttp:\n  port: 0\nsfu:\n  workers: 1\nsynthetic:\n  enabled: false\nmoq:\n  enabled: false\nsrt:\n  enabled: false\nredis:\n  url: ${redis.url}\nevents:\n  store: redis\n  rateLimit:\n    perSecond: 1000\n    burst: 1000\nlogLevel: warn\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src/main.ts'), '--config', file], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const doomedUrl = (await waitFor(() => /Start page:\s+(http:\/\/\S+?)\/\s/.exec(out)?.[1], { what: 'doomed node URL', timeoutMs: 30_000 }))!;
    const room = 'auction-kill';
    // Same secret (defaults), so B's tokens work on the doomed node too.
    const ann = await joined(b.url, token(b, 'ann', room, true));
    await ann.call('sendEvent', { type: 'lot.open', payload: { lotId: 'big', startPrice: 1, increment: 1, durationSec: 600 } });
    const bidder = await joined(doomedUrl, token(b, 'bidder', room));
    const acked = new Map<string, number>();
    const sent: string[] = [];
    let amount = 1;
    // Bid continuously; kill the node after a while, with requests in flight.
    const bidding = (async () => {
      for (;;) {
        const key = `bid-${amount}`;
        sent.push(key);
        const r = await bidder.request('sendEvent', { type: 'bid', payload: { lotId: 'big', amount }, idempotencyKey: key }, 2000).catch(() => undefined);
        if (!r?.ok) return;
        acked.set(key, r.data.event.seq);
        amount++;
      }
    })();
    await waitFor(() => acked.size >= 25, { what: '25 acknowledged bids' });
    child.kill('SIGKILL');
    await bidding;
    expect(acked.size).toBeGreaterThanOrEqual(25);
    // The bidder reconnects to B and retries every bid it sent (it cannot know which landed).
    const again = await joined(b.url, token(b, 'bidder', room));
    for (let i = 0; i < sent.length; i++) {
      const r = await again.request('sendEvent', { type: 'bid', payload: { lotId: 'big', amount: i + 1 }, idempotencyKey: sent[i] });
      if (acked.has(sent[i]!)) expect(r).toMatchObject({ ok: true, data: { duplicate: true, event: { seq: acked.get(sent[i]!) } } });
      else expect(r.ok).toBe(true); // the in-flight one: applied now, or found as applied before the kill
    }
    const bids = (await again.call('getEvents', { afterSeq: 0, limit: 1000 })).events.filter((e: { type: string }) => e.type === 'bid');
    expect(bids.map((e: { idempotencyKey: string }) => e.idempotencyKey)).toEqual(sent);
    for (const [key, seq] of acked) expect(bids.find((e: { idempotencyKey: string }) => e.idempotencyKey === key).seq).toBe(seq);
    for (const c of [ann, bidder, again]) c.close();
  }, 90_000);
});
