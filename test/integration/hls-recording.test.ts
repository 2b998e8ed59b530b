/** Recording of a packaged LL-HLS stream through the admin API, ending in a VOD playlist on disk. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { Mp4BoxReader, parseInit } from '../../src/hls/Mp4BoxReader';
import { safeName } from '../../src/hls/Recorder';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { WebhookReceiver } from '../helpers/webhookReceiver';

let node: SubsecNode;
/** A real webhook receiver. */
let receiver: WebhookReceiver;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subsec-rec-'));
const admin = { authorization: 'Bearer subsec-dev-admin-key', 'content-type': 'application/json' };

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  const hookUrl = receiver.url;
  node = await startNode({
    synthetic: { enabled: true, room: 'hlsrec' },
    hls: { segmentTargetMs: 1000, recording: { dir } },
    webhooks: { endpoints: [{ url: hookUrl }], secret: 'a-webhook-secret-for-tests' },
  });
  await waitFor(
    () =>
      node.rooms
        .get('hlsrec')
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
}, 60_000);

afterAll(async () => {
  await node?.close();
  await receiver?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('LL-HLS recording', () => {
  it('records through POST/DELETE /v1/recordings and leaves a playable VOD tree', async () => {
    const started = await fetch(`${node.url}/v1/recordings`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ room: 'hlsrec', identity: 'synthetic' }),
    });
    expect(started.status).toBe(201);
    const rec = (await started.json()) as { id: string; state: string };
    expect(rec.state).toBe('recording');
    const stream = node.hls!.get('hlsrec', 'synthetic')!;
    expect(stream.pinned).toBe(true);
    // A running recording is one `recording` output of the stream.
    expect(node.outputs.list({ room: 'hlsrec', identity: 'synthetic' }).filter((o) => o.kind === 'recording')).toEqual([
      expect.objectContaining({ stats: expect.objectContaining({ id: rec.id, state: 'recording' }) }),
    ]);
    const starts = stream.renditions.map((r) => r.packager.lastCompleteMsn);
    await waitFor(() => stream.renditions.every((r, i) => r.packager.lastCompleteMsn >= starts[i]! + 3), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: '3 recorded segments per rendition',
    });
    const stopped = await fetch(`${node.url}/v1/recordings/${rec.id}`, { method: 'DELETE', headers: admin });
    expect(stopped.status).toBe(200);
    expect(((await stopped.json()) as { state: string }).state).toBe('finished');
    expect(node.outputs.list({ room: 'hlsrec', identity: 'synthetic' }).filter((o) => o.kind === 'recording')).toEqual([]);
    const list = (await (await fetch(`${node.url}/v1/recordings`, { headers: admin })).json()) as { recordings: Array<{ id: string; state: string }> };
    expect(list.recordings.find((r) => r.id === rec.id)?.state).toBe('finished');
    const hook = await waitFor(() => receiver.delivered().find((h) => h.type === 'recording.finished'), { what: 'recording.finished webhook' });
    expect(hook.data).toMatchObject({ recordingId: rec.id, identity: 'synthetic', state: 'finished' });

    const root = path.join(dir, 'hlsrec', 'synthetic');
    const [runDir] = fs.readdirSync(root);
    const top = fs.readFileSync(path.join(root, runDir!, 'index.m3u8'), 'utf8');
    expect(top).toContain('low/index.m3u8');
    for (const rendition of ['source', 'mid', 'low', 'audio']) {
      const rdir = path.join(root, runDir!, rendition);
      const vod = fs.readFileSync(path.join(rdir, 'index.m3u8'), 'utf8');
      expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
      expect(vod.trim().endsWith('#EXT-X-ENDLIST')).toBe(true);
      const files = vod.split('\n').filter((l) => l.endsWith('.m4s'));
      expect(files.length).toBeGreaterThanOrEqual(3);
      for (const f of files) expect(fs.statSync(path.join(rdir, f)).size).toBeGreaterThan(0);
      const init = new Mp4BoxReader().push(fs.readFileSync(path.join(rdir, 'init.mp4')));
      expect(parseInit(Buffer.concat(init.map((b) => b.data))).tracks.length).toBe(1);
    }
    expect(stream.pinned).toBe(false);
    expect((await fetch(`${node.url}/v1/recordings/nope`, { method: 'DELETE', headers: admin })).status).toBe(404);
  }, 60_000);

  it('keeps recording paths inside their directory whatever the names', () => {
    expect(safeName('..')).toBe('%2e%2e');
    expect(safeName('a/b')).toBe('a%2fb');
    expect(safeName('')).toBe('%');
  });
});
