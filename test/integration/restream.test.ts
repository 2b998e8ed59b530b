/**
 * RTMP push (restream) against real RTMP receivers: ffmpeg listening (`-listen 1 -f flv`) and
 * writing what it receives to a file that ffprobe then reads. A node with the synthetic source
 * (H264 + Opus) pushes the publisher's H264 as is (copy) with the ladder's AAC; the API shows the
 * state, webhooks report start/failure/stop, a destination that is down or drops is retried with
 * backoff until it is back, the push stops when asked and when the stream ends, and the stream key
 * never appears in the API, the webhooks or the logs. A node whose ladder has no copied rendition
 * pushes the ladder's top rung instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { WebhookReceiver } from '../helpers/webhookReceiver';

const ROOM = 'pushroom';
const KEY = 'sk_live_9f8e7d6c5b4a';
const ADMIN = 'restream-admin-key';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-restream-'));
const listeners = new Set<ChildProcess>();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** An RTMP receiver: ffmpeg listening on `port`, writing what it receives to `file`; resolves its exit. */
function rtmpListener(port: number, file: string): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-y', '-listen', '1', '-f', 'flv', '-i', `rtmp://127.0.0.1:${port}/live/${KEY}`, '-c', 'copy', '-f', 'flv', file],
    { stdio: 'ignore' },
  );
  listeners.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      listeners.delete(proc);
      resolve(code);
    }),
  );
  return { proc, exited };
}

/** ffprobe of a received file: streams and duration. */
async function probe(file: string): Promise<{ streams: Array<{ codec_name: string; width?: number; height?: number }>; duration: number }> {
  const proc = spawn('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => proc.once('exit', resolve));
  const json = JSON.parse(out) as { streams: Array<{ codec_name: string; width?: number; height?: number }>; format: { duration: string } };
  return { streams: json.streams, duration: Number(json.format.duration) };
}

const logs: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

afterAll(() => {
  for (const l of listeners) l.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('RTMP push of a stream (copy)', () => {
  let node: SubsecNode;
  let hooks: WebhookReceiver;
  let api: string;
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const call = async (method: string, url: string, body?: unknown) => {
    const r = await fetch(url, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    // Capture the node's log lines (stderr) to check that the stream key never shows.
    vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logs.push(String(chunk));
      return (realWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write);
    hooks = await WebhookReceiver.start();
    node = await startNode({
      logLevel: 'info',
      auth: { adminKey: ADMIN },
      synthetic: { enabled: true, room: ROOM },
      hls: {
        segmentTargetMs: 1000,
        renditions: [
          { name: 'source', copySource: true, videoKbps: 1500 },
          { name: 'low', height: 160, videoKbps: 180 },
        ],
      },
      restream: { reconnectInitialMs: 300, reconnectMaxMs: 1000 },
      webhooks: { endpoints: [{ url: hooks.url, events: ['restream.*'] }], secret: 'restream-webhook-secret-1' },
    });
    await waitFor(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf('synthetic')
          .some((p) => p.kind === 'video'),
      { timeoutMs: 20_000, what: 'synthetic video' },
    );
    api = `${node.url}/v1/rooms/${ROOM}/streams/synthetic/restreams`;
  }, 60_000);
  afterAll(async () => {
    await node?.close();
    await hooks?.close();
    vi.restoreAllMocks();
  });
  afterEach(() => {
    for (const l of listeners) l.kill('SIGKILL');
  });

  it('pushes the publisher’s H264 and the ladder’s AAC to an RTMP receiver, shows it live, stops on request', async () => {
    const port = await freePort();
    const file = path.join(dir, 'copy.flv');
    const listener = rtmpListener(port, file);
    const created = await call('POST', api, { url: `rtmp://127.0.0.1:${port}/live/${KEY}` });
    expect(created.status).toBe(201);
    expect(created.json.destination).toBe(`rtmp://127.0.0.1:${port}/live/***`);
    const id = created.json.id as string;
    const live = await waitFor(
      async () => {
        const r = await call('GET', `${api}/${id}`);
        return r.json.state === 'live' && r.json.bytesSent > 100_000 ? r.json : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the push to be live and sending' },
    );
    expect(live.video).toBe('copy');
    expect(live.rendition).toBe('source');
    expect((await call('GET', api)).json.restreams.map((r: { id: string }) => r.id)).toContain(id);
    await waitFor(() => (fs.existsSync(file) && fs.statSync(file).size > 200_000 ? true : undefined), { timeoutMs: 20_000, what: 'media at the receiver' });
    const stopped = await call('DELETE', `${api}/${id}`);
    expect(stopped.status).toBe(200);
    expect(stopped.json.state).toBe('stopped');
    expect(stopped.json.stopReason).toBe('api');
    await listener.exited; // the receiver saw the end of the RTMP stream
    const media = await probe(file);
    const video = media.streams.find((s) => s.codec_name === 'h264')!;
    expect(video).toBeDefined();
    expect([video.width, video.height]).toEqual([640, 360]);
    expect(media.streams.some((s) => s.codec_name === 'aac')).toBe(true);
    expect(media.duration).toBeGreaterThan(2);
    await waitFor(() => hooks.requests.some((r) => r.event.type === 'restream.stopped' && r.event.data.restreamId === id), {
      timeoutMs: 10_000,
      what: 'restream.stopped webhook',
    });
    const started = hooks.requests.find((r) => r.event.type === 'restream.started' && r.event.data.restreamId === id)!;
    expect(started.event.room).toBe(ROOM);
    expect(started.event.data).toMatchObject({ identity: 'synthetic', destination: `rtmp://127.0.0.1:${port}/live/***`, attempt: 1 });
    const stoppedHook = hooks.requests.find((r) => r.event.type === 'restream.stopped' && r.event.data.restreamId === id)!;
    expect(stoppedHook.event.data.reason).toBe('api');
    expect(stoppedHook.event.data.bytesSent).toBeGreaterThan(100_000);
  }, 60_000);

  it('retries a destination that is down, goes live when it is up, and reconnects after a drop', async () => {
    const port = await freePort();
    const created = await call('POST', api, { url: `rtmp://127.0.0.1:${port}/live/${KEY}` });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    // Nothing listens: the push fails and is retried with backoff.
    const retrying = await waitFor(
      async () => {
        const r = await call('GET', `${api}/${id}`);
        return r.json.state === 'reconnecting' && r.json.failures >= 2 ? r.json : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'failed attempts' },
    );
    expect(retrying.lastError).toBeTruthy();
    expect(retrying.nextAttemptAt).toBeTruthy();
    const failedHook = await waitFor(() => hooks.requests.find((r) => r.event.type === 'restream.failed' && r.event.data.restreamId === id), {
      timeoutMs: 10_000,
      what: 'restream.failed webhook',
    });
    expect(failedHook.event.data.willRetry).toBe(true);
    expect(failedHook.event.data.retryInMs).toBeGreaterThan(0);
    expect(failedHook.event.data.retryInMs).toBeLessThanOrEqual(1200);
    // The destination comes up: the next attempt goes live.
    const first = rtmpListener(port, path.join(dir, 'first.flv'));
    await waitFor(async () => ((await call('GET', `${api}/${id}`)).json.state === 'live' ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'live once the receiver is up',
    });
    await waitFor(() => (fs.statSync(path.join(dir, 'first.flv'), { throwIfNoEntry: false })?.size ?? 0) > 50_000 || undefined, {
      timeoutMs: 15_000,
      what: 'media at the first receiver',
    });
    // The destination drops; it is back a moment later: the push reconnects by itself.
    first.proc.kill('SIGKILL');
    await first.exited;
    await waitFor(async () => ((await call('GET', `${api}/${id}`)).json.state !== 'live' ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the drop to be noticed',
    });
    const second = path.join(dir, 'second.flv');
    rtmpListener(port, second);
    const back = await waitFor(
      async () => {
        const r = await call('GET', `${api}/${id}`);
        return r.json.state === 'live' && r.json.reconnects >= 2 ? r.json : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the push to reconnect' },
    );
    expect(back.failures).toBeGreaterThanOrEqual(3);
    await waitFor(() => (fs.statSync(second, { throwIfNoEntry: false })?.size ?? 0) > 50_000 || undefined, {
      timeoutMs: 15_000,
      what: 'media at the second receiver',
    });
    expect(hooks.requests.filter((r) => r.event.type === 'restream.started' && r.event.data.restreamId === id).length).toBeGreaterThanOrEqual(2);
    expect((await call('DELETE', `${api}/${id}`)).json.state).toBe('stopped');
  }, 90_000);

  it('answers bad requests with clear errors', async () => {
    const bad = await call('POST', api, { url: 'http://example.com/live/x' });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/rtmp/);
    expect((await call('POST', api, { url: 'not a url' })).status).toBe(400);
    expect((await call('POST', api, { url: 'rtmp://host' })).status).toBe(400);
    expect((await call('POST', api, {})).status).toBe(400);
    expect((await call('POST', `${node.url}/v1/rooms/${ROOM}/streams/nobody/restreams`, { url: 'rtmp://127.0.0.1:1/live/x' })).status).toBe(404);
    expect((await call('GET', `${api}/no-such-id`)).status).toBe(404);
    expect((await call('DELETE', `${api}/no-such-id`)).status).toBe(404);
    const anonymous = await fetch(api, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'rtmp://127.0.0.1:1/live/x' }),
    });
    expect(anonymous.status).toBe(401);
    const doc = (await (await fetch(`${node.url}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/rooms/{room}/streams/{stream}/restreams']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/rooms/{room}/streams/{stream}/restreams/{id}']!).sort()).toEqual(['delete', 'get']);
  });

  it('stops when the stream ends, and never shows the stream key', async () => {
    const port = await freePort();
    const listener = rtmpListener(port, path.join(dir, 'end.flv'));
    const created = await call('POST', api, { url: `rtmp://127.0.0.1:${port}/live/${KEY}` });
    const id = created.json.id as string;
    await waitFor(async () => ((await call('GET', `${api}/${id}`)).json.state === 'live' ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'live',
    });
    const list = await call('GET', api);
    // The room closes: the stream ends, so does the push.
    expect((await call('DELETE', `${node.url}/v1/rooms/${ROOM}`)).status).toBeLessThan(300);
    await waitFor(
      () => hooks.requests.find((r) => r.event.type === 'restream.stopped' && r.event.data.restreamId === id && r.event.data.reason === 'stream-ended'),
      { timeoutMs: 15_000, what: 'restream.stopped (stream-ended)' },
    );
    await listener.exited;
    for (const text of [list.text, created.text, ...hooks.requests.map((r) => r.raw), ...logs]) expect(text).not.toContain(KEY);
    expect(logs.some((l) => l.includes('restream live'))).toBe(true);
    expect(logs.some((l) => l.includes('restream connection failed'))).toBe(true);
  }, 60_000);
});

describe('RTMP push when the ladder has no copied rendition', () => {
  let node: SubsecNode;
  beforeAll(async () => {
    node = await startNode({
      auth: { adminKey: ADMIN },
      synthetic: { enabled: true, room: ROOM },
      hls: {
        segmentTargetMs: 1000,
        renditions: [
          { name: 'top', height: 240, videoKbps: 300 },
          { name: 'small', height: 160, videoKbps: 150 },
        ],
      },
    });
    await waitFor(
      () =>
        node.rooms
          .get(ROOM)
          ?.producersOf('synthetic')
          .some((p) => p.kind === 'video'),
      { timeoutMs: 20_000, what: 'synthetic video' },
    );
  }, 60_000);
  afterAll(async () => {
    await node?.close();
  });

  it('pushes the ladder’s top rung', async () => {
    const port = await freePort();
    const file = path.join(dir, 'ladder.flv');
    const listener = rtmpListener(port, file);
    const api = `${node.url}/v1/rooms/${ROOM}/streams/synthetic/restreams`;
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const created = (await (await fetch(api, { method: 'POST', headers, body: JSON.stringify({ url: `rtmp://127.0.0.1:${port}/live/${KEY}` }) })).json()) as {
      id: string;
    };
    const live = await waitFor(
      async () => {
        const r = (await (await fetch(`${api}/${created.id}`, { headers })).json()) as { state: string; video: string; rendition: string; bytesSent: number };
        return r.state === 'live' && r.bytesSent > 30_000 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'live' },
    );
    expect(live.video).toBe('ladder');
    expect(live.rendition).toBe('top');
    await fetch(`${api}/${created.id}`, { method: 'DELETE', headers });
    await listener.exited;
    const media = await probe(file);
    expect(media.streams.find((s) => s.codec_name === 'h264')?.height).toBe(240);
    expect(media.streams.some((s) => s.codec_name === 'aac')).toBe(true);
  }, 60_000);
});
