/**
 * Bad input at the signaling socket: several sockets send ≥ 10,000 random and malformed frames
 * (junk bytes, binary, wrong types, deep nesting, frames over 64 KiB, unknown methods, valid methods
 * before `join`, bad joins, garbage parameters after a real join, hostile appData) and connect and
 * disconnect rapidly. Every reply must be an error with a known code (or a success the fuzzer
 * meant), or the socket is closed; the node keeps answering /healthz, its workers stay up, and a
 * healthy Chromium client in the same room keeps decoding the synthetic source throughout.
 *
 * Seeded: the seed is printed; rerun a failure with SUBSEC_FUZZ_SEED=<seed>.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchBrowser, type TestBrowser } from '../../loadtest/core/browser';
import type { SubsecNode } from '../../src/SubsecNode';
import { PROTOCOL_VERSION } from '../../src/protocol/signaling';
import { call, ensureSdkBuilt, inject } from './support/pageScripts';
import { FuzzSocket, newTally, type FuzzTally } from './support/FuzzSocket';
import { Rng } from './support/Rng';
import { hugeFrame, joinedFrame, junkFrame, type FuzzContext } from './support/fuzzFrames';

const ROOM = 'e2e-fuzz';
/** Frames to send in all. */
const TARGET_FRAMES = 10_000;
/** Concurrent fuzzing loops (each opens socket after socket). */
const LOOPS = 6;
/** Health checks the run must include (one per ~1,000 frames). */
const MIN_CHECKS = 6;
const SEED = Number(process.env.SUBSEC_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

let node: SubsecNode;
let browser: TestBrowser;
let healthy: Page;
const pageErrors: string[] = [];

interface HealthyStats {
  presented: number;
  framesDecoded: number;
  closed: boolean;
}

beforeAll(async () => {
  await ensureSdkBuilt();
  // Keep real limits (rate limit, invalid-message budget, 64 KiB frames): they are part of what is tested.
  node = await startNode({ synthetic: { enabled: true, room: ROOM } });
  browser = await launchBrowser();
  healthy = await browser.browser.newPage();
  healthy.on('pageerror', (error) => pageErrors.push(error.message));
  await healthy.goto(`${node.url}/healthz`);
  await inject(healthy, 'sdk-page');
  const token = node.tokens.issue({ room: ROOM, identity: 'healthy-viewer', canSubscribe: true, canPublishData: true });
  await call(healthy, 'e2e.connect', token);
  await waitFor(() => call<boolean>(healthy, 'e2e.hasProducers', 'synthetic', 2), { what: 'the synthetic source in the room', timeoutMs: 20_000 });
  await call(healthy, 'e2e.subscribeProducer', 'synthetic', 'video');
  await waitFor(async () => (await call<HealthyStats>(healthy, 'e2e.stats', 'video')).presented > 10, {
    what: 'the healthy client decoding the synthetic source',
    timeoutMs: 20_000,
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await node?.close();
});

function contextFor(rng: Rng, realIds: string[] = []): FuzzContext {
  let n = 0;
  const valid = node.tokens.issue({ room: ROOM, identity: 'fuzzer', canPublish: true, canSubscribe: true, canPublishData: true });
  const [header, payload, signature] = valid.split('.');
  return {
    rng,
    nextId: () => `f${++n}`,
    validToken: () => valid,
    badTokens: [
      'garbage',
      'a.b.c',
      `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`,
      `${header}.${Buffer.from('{"room":"e2e-fuzz","identity":"x","admin":true,"exp":9999999999}').toString('base64url')}.${signature}`,
      node.tokens.issue({ room: ROOM, identity: 'late' }, -60),
      node.tokens.issue({ room: '*', identity: 'anywhere' }),
      'x'.repeat(4096),
    ],
    room: ROOM,
    otherRoomToken: node.tokens.issue({ room: 'another-room', identity: 'elsewhere' }),
    realIds,
    routerCaps: node.rooms.get(ROOM)!.rtpCapabilities as unknown as Record<string, unknown>,
  };
}

/** Sends `count` frames from `make` in random bursts, waiting for the answers (or close) after each. */
async function burst(socket: FuzzSocket, rng: Rng, count: number, make: () => ReturnType<typeof junkFrame>): Promise<void> {
  let sent = 0;
  while (sent < count && !socket.closed) {
    const n = Math.min(count - sent, rng.int(1, 25));
    for (let i = 0; i < n; i++) socket.send(make());
    sent += n;
    await socket.settle();
  }
}

/** Junk on a socket that never joins. */
async function junkScenario(url: string, tally: FuzzTally, rng: Rng): Promise<void> {
  const socket = await FuzzSocket.open(url, tally);
  const ctx = contextFor(rng);
  await burst(socket, rng, rng.int(20, 150), () => junkFrame(ctx));
  socket.close(rng.chance(0.3));
}

/** A real join and transports, then valid methods with garbage parameters. */
async function joinedScenario(url: string, tally: FuzzTally, rng: Rng, index: number): Promise<void> {
  const socket = await FuzzSocket.open(url, tally);
  const ctx = contextFor(rng);
  const token = node.tokens.issue({ room: ROOM, identity: `fuzz-${index}`, canPublish: true, canSubscribe: true, canPublishData: true });
  const joined = await socket.request(
    'join',
    { protocol: PROTOCOL_VERSION, token, ...(rng.chance(0.5) ? { rtpCapabilities: ctx.routerCaps } : {}) },
    ctx.nextId(),
  );
  if (!joined?.ok) {
    tally.violations.push(`a valid join failed: ${JSON.stringify(joined)}`);
    socket.close();
    return;
  }
  for (const direction of ['send', 'recv']) {
    const created = await socket.request('createTransport', { direction, sctp: true }, ctx.nextId());
    if (created?.ok) ctx.realIds.push(created.data.transportId);
  }
  ctx.realIds.push(
    ...node.rooms
      .get(ROOM)!
      .producerInfos()
      .map((p) => p.producerId),
  );
  await burst(socket, rng, rng.int(50, 250), () => joinedFrame(ctx));
  socket.close(rng.chance(0.3));
}

/** Frames over the size limit (each closes its socket). */
async function hugeScenario(url: string, tally: FuzzTally, rng: Rng): Promise<void> {
  const socket = await FuzzSocket.open(url, tally);
  const ctx = contextFor(rng);
  if (rng.chance(0.5)) await burst(socket, rng, rng.int(1, 10), () => junkFrame(ctx));
  socket.send(hugeFrame(ctx));
  await socket.settle();
  if (!socket.closed) tally.violations.push('a frame over 64 KiB did not close the socket');
  socket.close();
}

/** Sockets opened and dropped at once: before anything, right after a join, mid-request. */
async function churnScenario(url: string, tally: FuzzTally, rng: Rng, counters: { connections: number }): Promise<void> {
  const ctx = contextFor(rng);
  await Promise.all(
    Array.from({ length: rng.int(5, 20) }, async () => {
      const socket = await FuzzSocket.open(url, tally);
      counters.connections++;
      const what = rng.int(0, 3);
      const id = ctx.nextId();
      if (what >= 1)
        socket.send({ payload: JSON.stringify({ id, method: 'join', params: { protocol: 1, token: ctx.validToken() } }), okId: id, label: 'join-then-drop' });
      if (what === 3) socket.send(junkFrame(ctx));
      socket.close(rng.chance(0.5));
    }),
  );
}

describe('signaling fuzz', () => {
  it('refuses deeply nested appData and a second connectTransport with clear codes; a socket gone mid-createTransport leaks nothing', async () => {
    const tally = newTally();
    const socket = await FuzzSocket.open(`${node.url.replace(/^http/, 'ws')}/ws`, tally);
    try {
      const token = node.tokens.issue({ room: ROOM, identity: 'regression', canPublish: true, canSubscribe: true });
      expect((await socket.request('join', { protocol: PROTOCOL_VERSION, token }, 'j1')).ok).toBe(true);
      const send = await socket.request('createTransport', { direction: 'send' }, 't1');
      const transportId = send.data.transportId as string;
      const rtpParameters = {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
        encodings: [{ ssrc: 1111 }],
      };
      // JSON.parse takes 5,000 levels; JSON.stringify of them (every peer's newProducer and join
      // reply) overflowed the stack: an unhandled rejection that ends the node process.
      const nested = `{"id":"p1","method":"produce","params":{"transportId":"${transportId}","kind":"audio","rtpParameters":${JSON.stringify(rtpParameters)},"appData":{"x":${'['.repeat(5_000)}${']'.repeat(5_000)}}}}`;
      socket.send({ payload: nested, label: 'deep appData' });
      const tooBig = await socket.request('produce', { transportId, kind: 'audio', rtpParameters, appData: { big: 'b'.repeat(5_000) } }, 'p2');
      expect(tooBig.error).toMatchObject({ code: 'INVALID_MESSAGE' });
      expect(tally.codes.get('INVALID_MESSAGE')).toBe(2);
      const fine = await socket.request('produce', { transportId, kind: 'audio', rtpParameters, appData: { source: 'mic', nested: { a: [1, 2] } } }, 'p3');
      expect(fine.ok).toBe(true);

      // mediasoup answers a second connect() with a plain Error, which became INTERNAL.
      const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] };
      expect((await socket.request('connectTransport', { transportId, dtlsParameters }, 'c1')).ok).toBe(true);
      const again = await socket.request('connectTransport', { transportId, dtlsParameters }, 'c2');
      expect(again.error).toMatchObject({ code: 'INVALID_STATE' });
      expect(tally.violations).toEqual([]);
    } finally {
      socket.close();
    }
    // The room is still usable: a later join gets the producer list (with the accepted appData).
    const later = await FuzzSocket.open(`${node.url.replace(/^http/, 'ws')}/ws`, tally);
    try {
      const joined = await later.request('join', { protocol: PROTOCOL_VERSION, token: node.tokens.issue({ room: ROOM, identity: 'later' }) }, 'j2');
      expect(joined.ok).toBe(true);
    } finally {
      later.close();
    }

    // A socket that goes while its createTransport is in flight left the transport on the router.
    const room = node.rooms.get(ROOM)!;
    const transports = async () => (await Promise.all(room.slots.map((s) => s.router.dump()))).reduce((n, d) => n + d.transportIds.length, 0);
    await waitFor(() => room.participants.length === 2, { what: 'only the healthy viewer and the synthetic source left' });
    const before = await transports();
    for (let i = 0; i < 5; i++) {
      const quitter = await FuzzSocket.open(`${node.url.replace(/^http/, 'ws')}/ws`, tally);
      await quitter.request('join', { protocol: PROTOCOL_VERSION, token: node.tokens.issue({ room: ROOM, identity: `quitter-${i}`, canPublish: true }) }, 'j');
      quitter.send({ payload: JSON.stringify({ id: 't', method: 'createTransport', params: { direction: 'send' } }), label: 'createTransport' });
      quitter.close(i % 2 === 0);
    }
    await waitFor(
      async () => {
        const now = await transports();
        if (now === before) return true;
        throw new Error(`now ${now}`);
      },
      { timeoutMs: 10_000, what: `router transports back to ${before}` },
    );
  }, 30_000);

  it(`answers ≥ ${TARGET_FRAMES} malformed frames with error codes or closes, and keeps serving media (seed ${SEED})`, async () => {
    console.log(`signaling fuzz seed ${SEED} (rerun with SUBSEC_FUZZ_SEED=${SEED})`);
    const url = `${node.url.replace(/^http/, 'ws')}/ws`;
    const tally = newTally();
    const counters = { connections: 0 };
    const room = node.rooms.get(ROOM)!;
    // Only the healthy viewer's socket; it and the synthetic source in the room.
    const baseline = { participants: 2, sockets: 1 };
    await waitFor(() => node.signaling.socketCount === baseline.sockets && room.participants.length === baseline.participants, {
      what: 'the healthy viewer alone on the node before fuzzing',
    });
    const transportCount = async () => (await Promise.all(room.slots.map((s) => s.router.dump()))).reduce((n, d) => n + d.transportIds.length, 0);
    const transportsBefore = await transportCount();
    const workerPids = node.pool.workers.map((w) => w.worker.pid);
    const checks: string[] = [];
    const healthFailures: string[] = [];
    let done = false;
    const startedAt = Date.now();

    const checker = (async () => {
      let last = (await call<HealthyStats>(healthy, 'e2e.stats', 'video')).presented;
      let nextAt = 1_000;
      while (!done || checks.length < MIN_CHECKS) {
        await waitFor(() => done || tally.framesSent >= nextAt, { timeoutMs: 60_000, intervalMs: 20, what: `${nextAt} frames sent` });
        nextAt = tally.framesSent + 1_000;
        const at = tally.framesSent;
        try {
          // The healthy client decodes new frames of the synthetic source within 10 s of each checkpoint.
          const now = await waitFor(
            async () => {
              const s = await call<HealthyStats>(healthy, 'e2e.stats', 'video');
              return s.presented > last ? s : undefined;
            },
            { timeoutMs: 10_000, intervalMs: 50, what: `the healthy client to decode past frame ${last}` },
          );
          const health = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
          if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
          const pids = node.pool.workers.map((w) => (w.worker.closed ? -1 : w.worker.pid));
          if (pids.join() !== workerPids.join()) throw new Error(`workers changed: ${workerPids} → ${pids}`);
          for (const pid of pids) process.kill(pid, 0);
          checks.push(`${at} frames: ${now.presented - last} new frames decoded`);
          last = now.presented;
        } catch (error) {
          healthFailures.push(`at ${at} frames: ${(error as Error).message}`);
          last = (await call<HealthyStats>(healthy, 'e2e.stats', 'video').catch(() => ({ presented: last }))).presented;
        }
        if (done && checks.length + healthFailures.length >= MIN_CHECKS) break;
      }
    })();

    const loops = Array.from({ length: LOOPS }, async (_, loop) => {
      const rng = new Rng(SEED + loop);
      let round = 0;
      while (tally.framesSent < TARGET_FRAMES || checks.length + healthFailures.length < MIN_CHECKS) {
        const pick = rng.next();
        try {
          if (pick < 0.45) await junkScenario(url, tally, rng);
          else if (pick < 0.8) await joinedScenario(url, tally, rng, loop * 10_000 + round);
          else if (pick < 0.9) await hugeScenario(url, tally, rng);
          else await churnScenario(url, tally, rng, counters);
        } catch (error) {
          tally.violations.push(`loop ${loop}: ${(error as Error).message}`);
        }
        counters.connections++;
        round++;
        if (Date.now() - startedAt > 100_000) break;
      }
    });
    await Promise.all(loops);
    done = true;
    await checker;
    const elapsedMs = Date.now() - startedAt;

    console.log(
      `fuzz: ${tally.framesSent} frames, ${counters.connections} connections, ${tally.replies} replies, ${tally.notifications} notifications in ${elapsedMs} ms\n` +
        `  replies by code: ${JSON.stringify(Object.fromEntries(tally.codes))}\n` +
        `  close codes: ${JSON.stringify(Object.fromEntries(tally.closeCodes))}\n` +
        `  healthy client: ${checks.join('; ')}`,
    );
    const seedNote = `seed ${SEED}`;
    expect(tally.violations, seedNote).toEqual([]);
    expect(healthFailures, seedNote).toEqual([]);
    expect(tally.framesSent).toBeGreaterThanOrEqual(TARGET_FRAMES);
    expect(checks.length).toBeGreaterThanOrEqual(MIN_CHECKS);
    // Bad input gets a clear error, not a crash report.
    expect(tally.codes.get('INTERNAL') ?? 0, seedNote).toBe(0);
    // Nothing leaked into the prototype chain from `__proto__` keys.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();

    // Every fuzz socket's session and its transports are gone; the healthy client still decodes.
    await waitFor(
      () => {
        if (node.signaling.socketCount === baseline.sockets && room.participants.length === baseline.participants) return true;
        throw new Error(`now ${node.signaling.socketCount} sockets, ${room.participants.length} participants`);
      },
      { timeoutMs: 15_000, what: `sockets back to ${baseline.sockets} and participants to ${baseline.participants}` },
    );
    // A leak leaves more transports than before. Fewer is legitimate: a healthy client that
    // reconnected under CPU starvation re-creates only the transports it uses (its frames are
    // checked above).
    await waitFor(
      async () => {
        const now = await transportCount();
        if (now <= transportsBefore) return true;
        throw new Error(`now ${now}`);
      },
      { timeoutMs: 10_000, what: `router transports back to at most ${transportsBefore}` },
    );
    const end = await call<HealthyStats>(healthy, 'e2e.stats', 'video');
    await waitFor(async () => (await call<HealthyStats>(healthy, 'e2e.stats', 'video')).presented > end.presented + 10, {
      what: 'the healthy client decoding after the fuzz',
    });
    expect((await call<{ state: string }>(healthy, 'e2e.clientState')).state).toBe('connected');
    expect(pageErrors).toEqual([]);
  }, 150_000);
});
