/**
 * The browser SDK through its public API only (`import('/sdk/subsec.js')` in pages on the node's
 * origin, Debian Chromium, fake camera): publish without simulcast in H264, subscribe by peer,
 * pause/resume on both sides, data messages, and automatic reconnection after the room's
 * mediasoup worker is killed — the same Subscription decodes again on a new track.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import type { SubsecNode } from '../../src/SubsecNode';
import { call, ensureSdkBuilt, inject } from './support/pageScripts';

const ROOM = 'e2e-sdk';

interface SubStats {
  presented: number;
  width: number;
  height: number;
  framesDecoded: number;
  packetsReceived: number;
  codec: string;
  trackId?: string;
  consumerId?: string;
  producerId: string;
  paused: boolean;
  producerPaused: boolean;
  closed: boolean;
  listed: boolean;
}

interface PageEvent {
  name: string;
  at: number;
  data: any;
}

let node: SubsecNode;
let browser: TestBrowser;
let publisher: Page;
let viewer: Page;
const pageErrors: string[] = [];

async function openClient(identity: string, grants: { canPublish: boolean }): Promise<Page> {
  const page = await browser.browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${identity}: ${error.message}`));
  // Any page on the node's origin will do: the SDK is imported from /sdk/subsec.js.
  await page.goto(`${node.url}/healthz`);
  await inject(page, 'sdk-page');
  const token = node.tokens.issue({ room: ROOM, identity, canPublish: grants.canPublish, canSubscribe: true, canPublishData: true });
  const me = await call<{ state: string; identity: string }>(page, 'e2e.connect', token, { reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 } });
  expect(me).toMatchObject({ state: 'connected', identity });
  return page;
}

const stats = (page: Page, kind: 'video' | 'audio') => call<SubStats>(page, 'e2e.stats', kind);
const events = (page: Page) => call<PageEvent[]>(page, 'e2e.events');

/** Waits until the viewer's video has presented `more` frames beyond the count at the call. */
async function framesAdvance(more: number, timeoutMs = 15_000): Promise<SubStats> {
  const start = (await stats(viewer, 'video')).presented;
  return waitFor(
    async () => {
      const s = await stats(viewer, 'video');
      return s.presented >= start + more ? s : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${more} more presented frames (from ${start})` },
  );
}

async function waitForEvent(page: Page, name: string, after: number, timeoutMs = 10_000): Promise<PageEvent> {
  return waitFor(async () => (await events(page)).find((e) => e.name === name && e.at >= after), {
    timeoutMs,
    what: `event ${name}`,
  });
}

beforeAll(async () => {
  await ensureSdkBuilt();
  node = await startNode({});
  browser = await launchBrowser();
  publisher = await openClient('publisher', { canPublish: true });
  viewer = await openClient('viewer', { canPublish: false });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

describe('browser SDK public API', () => {
  it('publishes H264 without simulcast; a viewer subscribes by peer and decodes it', async () => {
    const published = await call<{ producerIds: string[] }>(publisher, 'e2e.publish', {
      simulcast: false,
      codec: 'H264',
      appData: { source: 'camera' },
    });
    expect(published.producerIds).toHaveLength(2);
    const producers = node.rooms.get(ROOM)!.producersOf('publisher');
    const video = producers.find((p) => p.kind === 'video')!;
    expect(video.type).toBe('simple');
    expect(video.rtpParameters.codecs[0]!.mimeType).toBe('video/H264');
    expect(video.rtpParameters.encodings).toHaveLength(1);

    await waitFor(() => call<boolean>(viewer, 'e2e.hasProducers', 'publisher', 2), { what: "the publisher's producers at the viewer" });
    const subs = await call<Array<{ kind: string; producerId: string; type: string }>>(viewer, 'e2e.subscribePeer', 'publisher');
    expect(subs.map((s) => s.kind).sort()).toEqual(['audio', 'video']);
    expect(subs.find((s) => s.kind === 'video')).toMatchObject({ producerId: video.id, type: 'simple' });

    const s = await framesAdvance(10, 20_000);
    expect(s.codec).toBe('video/H264');
    expect(s.framesDecoded).toBeGreaterThan(0);
    expect(s).toMatchObject({ width: 640, height: 360, paused: false, producerPaused: false });
    await waitFor(async () => (await stats(viewer, 'audio')).packetsReceived > 20, { what: 'audio packets at the viewer' });
  }, 60_000);

  it('pauses and resumes: the publisher its producer, the viewer its subscription', async () => {
    const t0 = Date.now();
    await call(publisher, 'e2e.pausePublication', 'video');
    await waitForEvent(viewer, 'video:producerPaused', t0);
    expect((await stats(viewer, 'video')).producerPaused).toBe(true);
    expect(
      node.rooms
        .get(ROOM)!
        .producersOf('publisher')
        .find((p) => p.kind === 'video')!.paused,
    ).toBe(true);

    const t1 = Date.now();
    await call(publisher, 'e2e.resumePublication', 'video');
    await waitForEvent(viewer, 'video:producerResumed', t1);
    await framesAdvance(10);

    await call(viewer, 'e2e.pauseSubscription', 'video');
    expect((await stats(viewer, 'video')).paused).toBe(true);
    // Paused on the node: no RTP arrives for a whole polling interval (30 fps video sends every ~33 ms).
    let last = -1;
    await waitFor(
      async () => {
        const packets = (await stats(viewer, 'video')).packetsReceived;
        const still = packets === last;
        last = packets;
        return still;
      },
      { intervalMs: 500, timeoutMs: 10_000, what: 'video packets to stop while the subscription is paused' },
    );
    await call(viewer, 'e2e.resumeSubscription', 'video');
    expect((await stats(viewer, 'video')).paused).toBe(false);
    await framesAdvance(10);
  }, 60_000);

  it('sends data messages both ways: text, JSON and binary; oversize ones reject', async () => {
    await call(viewer, 'e2e.sendData', 'hello publisher');
    await call(publisher, 'e2e.sendData', { type: 'chat', text: 'hi viewer' });
    await call(publisher, 'e2e.sendData', { binary: [1, 2, 3, 255] });
    const atPublisher = await waitFor(
      async () => {
        const d = await call<any[]>(publisher, 'e2e.data');
        return d.length >= 1 ? d : undefined;
      },
      { what: 'data at the publisher' },
    );
    expect(atPublisher[0]).toMatchObject({ identity: 'viewer', label: 'chat', data: 'hello publisher' });
    const atViewer = await waitFor(
      async () => {
        const d = await call<any[]>(viewer, 'e2e.data');
        return d.length >= 2 ? d : undefined;
      },
      { what: 'data at the viewer' },
    );
    expect(atViewer).toEqual([
      { identity: 'publisher', label: 'chat', data: { type: 'chat', text: 'hi viewer' } },
      { identity: 'publisher', label: 'chat', data: { binary: [1, 2, 3, 255] } },
    ]);
    expect(await call(viewer, 'e2e.expectError', 'sendHuge', { bytes: 300_000 })).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await call(viewer, 'e2e.expectError', 'subscribe', { producerId: 'no-such-producer' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await call(viewer, 'e2e.expectError', 'setLayers', { kind: 'video', spatialLayer: 7 })).toMatchObject({ name: 'TypeError' });
  }, 30_000);

  it('reconnects both clients after the room worker is SIGKILLed; the same Subscription decodes again', async () => {
    const before = await stats(viewer, 'video');
    const oldProducerIds = (await call<{ publicationIds: string[] }>(publisher, 'e2e.clientState')).publicationIds;
    const worker = node.rooms.get(ROOM)!.slots[0]!.worker.worker;
    const killedAt = Date.now();
    process.kill(worker.pid, 'SIGKILL');

    await waitForEvent(publisher, 'reconnected', killedAt, 20_000);
    await waitForEvent(viewer, 'reconnected', killedAt, 20_000);
    await waitForEvent(publisher, 'publication:producerChanged', killedAt, 20_000);
    await waitForEvent(viewer, 'video:trackChanged', killedAt, 20_000);
    const after = await waitFor(
      async () => {
        const s = await stats(viewer, 'video');
        return s.presented >= before.presented + 10 && s.framesDecoded > 0 && s.trackId !== before.trackId ? s : undefined;
      },
      { timeoutMs: 20_000 - (Date.now() - killedAt), intervalMs: 100, what: 'frames on the new track of the same subscription' },
    );
    const recoveredMs = Date.now() - killedAt;
    // The same Subscription object, still listed by the client, now on a new consumer of a new producer.
    expect(after).toMatchObject({ closed: false, listed: true, paused: false });
    expect(after.consumerId).not.toBe(before.consumerId);
    expect(after.producerId).not.toBe(before.producerId);
    const newProducerIds = await call<{ state: string; publicationIds: string[] }>(publisher, 'e2e.clientState');
    expect(newProducerIds.state).toBe('connected');
    expect(newProducerIds.publicationIds).not.toEqual(oldProducerIds);
    expect(after.producerId).toBe(
      node.rooms
        .get(ROOM)!
        .producersOf('publisher')
        .find((p) => p.kind === 'video')!.id,
    );
    expect(node.rooms.get(ROOM)!.slots[0]!.worker.worker.pid).not.toBe(worker.pid);
    expect(recoveredMs).toBeLessThan(20_000);
    console.log(`worker SIGKILL → frames on the new track after ${recoveredMs} ms`);
    expect((await events(viewer)).filter((e) => e.name === 'video:closed')).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
