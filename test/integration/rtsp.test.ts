/**
 * RTSP pulls against a real RTSP server (GStreamer's gst-rtsp-server through python3-gi) with
 * Digest auth: `POST/GET/DELETE /v1/ingest/rtsp`, TCP-interleaved and UDP, H264 + PCMA or AAC
 * audio transcoded to Opus (a WHEP viewer gets both), wrong credentials reported as such,
 * a camera that drops and comes back (capped backoff), online/offline webhooks, config sources,
 * and two cameras as the primary and backup inputs of one stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { NodeWhepViewer, tokenFor } from '../helpers/whipWhep';
import { WebhookReceiver } from '../helpers/webhookReceiver';
import { metricSum, metricsText } from '../helpers/metrics';
import { startRtspServer, type RtspTestServer } from '../../loadtest/core/rtspServer';
import type { SubsecNode } from '../../src/SubsecNode';

const ADMIN = 'test-admin-key-for-rtsp-tests';
let node: SubsecNode;
let camera: RtspTestServer;
let receiver: WebhookReceiver;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const pullState = async (id: string) => (await api('GET', `/v1/ingest/rtsp/${id}`)).body;
const hooks = (type: string, room: string) => receiver.delivered(room).filter((e) => e.type === type);

beforeAll(async () => {
  camera = await startRtspServer(0, 'viewer', 'dig3st-pass');
  receiver = await WebhookReceiver.start();
  node = await startNode({
    auth: { adminKey: ADMIN },
    rtsp: {
      enabled: true,
      reconnectMinMs: 200,
      reconnectMaxMs: 1000,
      ioTimeoutMs: 2000,
      probeTimeoutMs: 8000,
      sources: [{ id: 'from-config', url: camera.url('/cam'), room: 'cfg', stream: 'cam', username: 'viewer', password: 'dig3st-pass' }],
    },
    ingest: { backup: { returnAfterMs: 1000 } },
    webhooks: { endpoints: [{ url: receiver.url }], secret: 'a-webhook-secret-of-some-length' },
  });
}, 60_000);

afterAll(async () => {
  await node?.close();
  await camera?.kill();
  await receiver?.close();
});

describe('RTSP pulls', () => {
  it('pulls a Digest-protected camera over TCP and UDP; H264 passes, PCMA and AAC become Opus; the API shows it online', async () => {
    // The configured source comes up with the node.
    await waitFor(async () => (await pullState('from-config')).state === 'online', { what: 'configured pull online', timeoutMs: 20_000 });

    const tcp = await api('POST', '/v1/ingest/rtsp', {
      url: camera.url('/cam'),
      room: 'cams',
      stream: 'gate',
      username: 'viewer',
      password: 'dig3st-pass',
      transport: 'tcp',
    });
    expect(tcp.status, JSON.stringify(tcp.body)).toBe(201);
    expect(tcp.body).toMatchObject({ id: 'cams-gate', state: 'connecting', hasCredentials: true });
    expect(JSON.stringify(tcp.body)).not.toContain('dig3st-pass');
    const udp = await api('POST', '/v1/ingest/rtsp', {
      id: 'yard',
      url: camera.url('/aac'),
      room: 'cams',
      stream: 'yard',
      username: 'viewer',
      password: 'dig3st-pass',
      transport: 'udp',
    });
    expect(udp.status, JSON.stringify(udp.body)).toBe(201);

    await waitFor(async () => (await pullState('cams-gate')).state === 'online' && (await pullState('yard')).state === 'online', {
      what: 'both pulls online',
      timeoutMs: 20_000,
    });
    expect((await pullState('cams-gate')).media).toEqual(['video:h264', 'audio:pcm_alaw']);
    expect((await pullState('yard')).media).toEqual(['video:h264', 'audio:aac']);
    await waitFor(() => node.rooms.get('cams')?.producersOf('gate').length === 2 && node.rooms.get('cams')?.producersOf('yard').length === 2, {
      what: 'producers',
      timeoutMs: 10_000,
    });
    const kinds = node.rooms
      .get('cams')!
      .producersOf('gate')
      .map((p) => `${p.kind}:${p.rtpParameters.codecs[0]!.mimeType}`)
      .sort();
    expect(kinds).toEqual(['audio:audio/opus', 'video:video/H264']);

    for (const stream of ['gate', 'yard']) {
      const viewer = new NodeWhepViewer();
      try {
        expect((await viewer.start(`${node.url}/whep/cams/${stream}`, tokenFor(node, { room: 'cams', identity: `v-${stream}` }))).status).toBe(201);
        await waitFor(() => viewer.packets.video > 30 && viewer.packets.audio > 20, { what: `H264 and Opus of ${stream}`, timeoutMs: 15_000 });
      } finally {
        viewer.close();
      }
    }
    await waitFor(() => hooks('ingest.online', 'cams').length === 2, { what: 'ingest.online webhooks' });
    expect(
      hooks('ingest.online', 'cams')
        .map((e) => e.data.pullId)
        .sort(),
    ).toEqual(['cams-gate', 'yard']);

    const list = await api('GET', '/v1/ingest/rtsp');
    expect(list.body.pulls.map((p: any) => p.id)).toEqual(['cams-gate', 'from-config', 'yard']);
    expect(await metricSum(await metricsText(node.url), 'subsec_rtsp_pulls', { state: 'online' })).toBe(3);

    // Bad requests and conflicts.
    expect((await api('POST', '/v1/ingest/rtsp', { url: 'http://x/', room: 'cams', stream: 'z' })).status).toBe(400);
    expect((await api('POST', '/v1/ingest/rtsp', { url: 'rtsp://u:p@127.0.0.1/x', room: 'cams', stream: 'z' })).status).toBe(400);
    expect((await api('POST', '/v1/ingest/rtsp', { url: camera.url('/cam'), room: 'cams', stream: 'gate' })).status).toBe(409);
    expect((await fetch(`${node.url}/v1/ingest/rtsp`)).status).toBe(401);

    expect((await api('DELETE', '/v1/ingest/rtsp/yard')).status).toBe(204);
    await waitFor(() => (node.rooms.get('cams')?.producersOf('yard').length ?? 0) === 0, { what: 'removed pull left the room' });
    expect((await api('GET', '/v1/ingest/rtsp/yard')).status).toBe(404);
    expect(node.rooms.get('cams')!.producersOf('gate')).toHaveLength(2);
  }, 90_000);

  it('reports wrong credentials and a missing path, and keeps retrying with a capped backoff', async () => {
    expect(
      (await api('POST', '/v1/ingest/rtsp', { id: 'badpw', url: camera.url('/cam'), room: 'bad', stream: 'pw', username: 'viewer', password: 'wrong' })).status,
    ).toBe(201);
    expect(
      (
        await api('POST', '/v1/ingest/rtsp', {
          id: 'nopath',
          url: camera.url('/nothing'),
          room: 'bad',
          stream: 'path',
          username: 'viewer',
          password: 'dig3st-pass',
        })
      ).status,
    ).toBe(201);
    await waitFor(async () => (await pullState('badpw')).failures >= 3, { what: 'repeated failures', timeoutMs: 20_000 });
    const badpw = await pullState('badpw');
    expect(badpw).toMatchObject({ state: 'offline', lastErrorLabel: 'source-auth' });
    expect(badpw.lastError).toMatch(/401 Unauthorized/);
    await waitFor(async () => (await pullState('nopath')).lastErrorLabel !== null, { what: 'missing path reported', timeoutMs: 20_000 });
    expect((await pullState('nopath')).lastErrorLabel).toBe('source-not-found');
    // One offline webhook per outage, however many retries.
    await waitFor(() => hooks('ingest.offline', 'bad').length === 2, { what: 'offline webhooks' });
    expect(hooks('ingest.offline', 'bad').find((e) => e.data.pullId === 'badpw')!.data.reason).toMatch(/401/);
    expect(metricSum(await metricsText(node.url), 'subsec_rtsp_failures_total', { reason: 'source-auth' })).toBeGreaterThanOrEqual(3);
    await api('DELETE', '/v1/ingest/rtsp/badpw');
    await api('DELETE', '/v1/ingest/rtsp/nopath');
  }, 60_000);

  it('a camera that drops goes offline (webhook) and comes back online by itself', async () => {
    await waitFor(async () => (await pullState('cams-gate')).state === 'online', { what: 'gate online' });
    const port = camera.port;
    await camera.kill();
    await waitFor(async () => (await pullState('cams-gate')).state === 'offline', { what: 'gate offline', timeoutMs: 15_000 });
    await waitFor(() => hooks('ingest.offline', 'cams').some((e) => e.data.pullId === 'cams-gate'), { what: 'offline webhook' });
    expect(node.rooms.get('cams')?.producersOf('gate').length ?? 0).toBe(0);
    // Retries back off, capped at reconnectMaxMs (1 s): the next attempt is never further away.
    const offline = await pullState('cams-gate');
    expect(Date.parse(offline.nextAttemptAt) - Date.now()).toBeLessThanOrEqual(1000);

    camera = await startRtspServer(port, 'viewer', 'dig3st-pass');
    await waitFor(async () => (await pullState('cams-gate')).state === 'online', { what: 'gate back online', timeoutMs: 20_000 });
    await waitFor(() => hooks('ingest.online', 'cams').filter((e) => e.data.pullId === 'cams-gate').length === 2, { what: 'second online webhook' });
    await waitFor(() => node.rooms.get('cams')?.producersOf('gate').length === 2, { what: 'producers again' });
  }, 60_000);

  it('two cameras as primary and backup of one stream: a WHEP viewer carries on from the backup when the primary camera dies, and returns', async () => {
    const primaryCam = await startRtspServer(0, 'viewer', 'dig3st-pass');
    const backupCam = await startRtspServer(0, 'viewer', 'dig3st-pass');
    const cam = (c: RtspTestServer, id: string, role: 'primary' | 'backup') => ({
      id,
      url: c.url('/cam'),
      room: 'lobby',
      stream: 'door',
      username: 'viewer',
      password: 'dig3st-pass',
      role,
    });
    const admin = { authorization: `Bearer ${ADMIN}` };
    const live = async () => ((await (await fetch(`${node.url}/v1/ingest/backup/lobby/door`, { headers: admin })).json()) as { live: string | null }).live;
    const viewer = new NodeWhepViewer();
    let primaryPort = 0;
    try {
      expect((await api('POST', '/v1/ingest/rtsp', cam(primaryCam, 'door-a', 'primary'))).status).toBe(201);
      await waitFor(async () => (await pullState('door-a')).state === 'online', { what: 'primary camera online', timeoutMs: 20_000 });
      const backup = await api('POST', '/v1/ingest/rtsp', cam(backupCam, 'door-b', 'backup'));
      expect(backup.status, JSON.stringify(backup.body)).toBe(201);
      expect(backup.body).toMatchObject({ role: 'backup' });
      // A third camera for a role already held is refused with the reason.
      expect((await api('POST', '/v1/ingest/rtsp', cam(backupCam, 'door-c', 'backup'))).status).toBe(409);
      await waitFor(async () => (await pullState('door-b')).state === 'online', { what: 'backup camera online', timeoutMs: 20_000 });
      expect(await live()).toBe('primary');

      expect((await viewer.start(`${node.url}/whep/lobby/door`, tokenFor(node, { room: 'lobby', identity: 'door-viewer' }))).status).toBe(201);
      await waitFor(() => viewer.packets.video > 30, { what: 'the viewer receiving the primary', timeoutMs: 15_000 });

      // The primary camera dies: the stream carries on from the backup, the same viewer receiving.
      primaryPort = primaryCam.port;
      await primaryCam.kill();
      await waitFor(async () => (await live()) === 'backup', { what: 'the backup live', timeoutMs: 15_000 });
      const onBackup = viewer.packets.video;
      await waitFor(() => viewer.packets.video > onBackup + 30, { what: 'the viewer receiving the backup', timeoutMs: 15_000 });
      expect(viewer.state).toBe('connected');

      // The primary camera comes back: its pull reconnects and the stream returns to it.
      const back = await startRtspServer(primaryPort, 'viewer', 'dig3st-pass');
      try {
        await waitFor(async () => (await live()) === 'primary', { what: 'the return to the primary', timeoutMs: 30_000 });
        const onPrimary = viewer.packets.video;
        await waitFor(() => viewer.packets.video > onPrimary + 30, { what: 'the viewer receiving the primary again', timeoutMs: 15_000 });
        expect(viewer.state).toBe('connected');
      } finally {
        await api('DELETE', '/v1/ingest/rtsp/door-a');
        await back.kill();
      }
    } finally {
      viewer.close();
      await api('DELETE', '/v1/ingest/rtsp/door-a');
      await api('DELETE', '/v1/ingest/rtsp/door-b');
      await primaryCam.kill();
      await backupCam.kill();
    }
  }, 120_000);
});
