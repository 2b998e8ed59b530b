/**
 * Primary and backup contribution (docs/backup-ingest.md) with real encoders (ffmpeg over RTMP
 * and SRT), the real SFU, a Chromium WHEP viewer and hls.js: when the primary is killed or
 * stalls, the WHEP viewer keeps presenting frames from the backup on the same PeerConnection (and
 * an SDK viewer on its one subscription, no reconnect), a MoQ
 * viewer keeps receiving groups that each open with an IDR, the API shows the backup live, a
 * webhook and a metric report the switch, LL-HLS plays on without a fatal error; when the
 * primary is back it returns. Bad roles are refused with reasons while
 * the live stream carries on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { metricSum, metricSumOrZero, metricsText } from '../helpers/metrics';
import { WebhookReceiver } from '../helpers/webhookReceiver';
import { measureBackupSwitch } from '../../loadtest/ingest/backupSwitch';
import { expectSeamlessKillAndReturn } from '../helpers/backupSwitchExpectations';
import type { SubsecNode } from '../../src/SubsecNode';
import { projectRoot } from '../../src/config/loadConfig';
import { call, ensureSdkBuilt, inject } from '../e2e/support/pageScripts';
import { fakeOffer, NodeWhepViewer, tokenFor } from '../helpers/whipWhep';

/** The ingest bench's page helpers (WHIP publish from Chromium's fake camera). */
const INGEST_PAGE = fs.readFileSync(path.join(projectRoot, 'loadtest', 'ingest', 'ingest-page.js'), 'utf8');

let node: SubsecNode;
let browser: Chromium;
let receiver: WebhookReceiver;
const encoders: ChildProcess[] = [];

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  node = await startNode({
    rtmp: { enabled: true, port: 0, idleTimeoutMs: 15_000 },
    srt: { enabled: true, port: 0, idleTimeoutMs: 15_000 },
    ingest: { backup: { stallMs: 1000, returnAfterMs: 2000 } },
    moq: { enabled: true, relay: { port: 0 } },
    hls: { segmentTargetMs: 1000, renditions: [{ name: 'src', copySource: true, videoKbps: 1000 }] },
    webhooks: { endpoints: [{ url: receiver.url }], secret: 'backup-ingest-secret-0123456789' },
  });
  browser = await launchChromium();
  await ensureSdkBuilt();
}, 60_000);

afterAll(async () => {
  for (const e of encoders) if (e.exitCode === null && e.signalCode === null) e.kill('SIGKILL');
  await browser?.close();
  await node?.close();
  await receiver?.close();
});

/** An ffmpeg RTMP publisher of `room/stream` with an extra key query (e.g. `&role=backup`). */
function rtmpPublisher(room: string, stream: string, query: string): ChildProcess & { log: string } {
  const token = node.tokens.issue({ room, identity: stream, canPublish: true });
  const proc = Object.assign(
    spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x180:rate=25',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-g',
        '25',
        '-f',
        'flv',
        `rtmp://127.0.0.1:${node.rtmp!.port}/live/${room}/${stream}?token=${token}${query}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
    { log: '' },
  );
  proc.stderr!.on('data', (d: Buffer) => (proc.log += d.toString()));
  encoders.push(proc);
  return proc;
}

function exited(proc: ChildProcess, timeoutMs: number): Promise<number | string> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return waitFor(() => proc.exitCode ?? proc.signalCode ?? undefined, { timeoutMs, what: 'the publisher to exit' });
}

const metric = async (name: string, labels: Record<string, string>) => metricSum(await metricsText(node.url), name, labels);
/** A counter that may not have counted yet (the project retries a failed test once: checks compare with the value before). */
const counter = async (name: string, labels: Record<string, string>) => metricSumOrZero(await metricsText(node.url), name, labels);
/** Stream names of this attempt (a retried test must not meet the inputs of the failed one). */
const fresh = (name: string) => `${name}-${Date.now().toString(36)}`;

describe('primary and backup contribution', () => {
  it('RTMP primary killed: the WebRTC viewer and hls.js carry on from the SRT backup, then return to the primary', async () => {
    // The API shows the backup live while it is.
    let onBackup: { live: string; inputs: Array<{ role: string; protocol: string; connected: boolean }> } | undefined;
    const whileOnBackup = async () => {
      const res = await fetch(`${node.url}/v1/ingest/backup`, {
        headers: { authorization: `Bearer ${node.tokens.issue({ room: '*', identity: 'ops', admin: true })}` },
      });
      expect(res.status).toBe(200);
      onBackup = ((await res.json()) as { streams: NonNullable<typeof onBackup>[] }).streams[0];
    };
    const stream = fresh('main');
    const disconnects = await counter('subsec_ingest_backup_switches_total', { reason: 'disconnect' });
    const returns = await counter('subsec_ingest_backup_switches_total', { reason: 'primary-restored' });
    // An SDK viewer (client.subscribe in Chromium) watches too: it must carry on through both switches on its one subscription.
    const sdkViewer = await browser.page(node);
    type SdkVideo = { presented: number; consumerId: string; closed: boolean };
    const sdkVideo = () => call<SdkVideo>(sdkViewer, 'e2e.stats', 'video');
    let sdkConsumer = '';
    const sdkCarriesOn = async (when: string) => {
      const before = (await sdkVideo()).presented;
      const after = await waitFor(async () => ((await sdkVideo()).presented >= before + 25 ? sdkVideo() : undefined), {
        timeoutMs: 15_000,
        what: `the SDK viewer presenting frames ${when}`,
      });
      expect(after.consumerId).toBe(sdkConsumer);
      expect(after.closed).toBe(false);
    };
    const beforeFailure = async () => {
      await inject(sdkViewer, 'sdk-page');
      await call(sdkViewer, 'e2e.connect', node.tokens.issue({ room: 'bk', identity: `sdk-viewer-${stream}`, canSubscribe: true }));
      await waitFor(() => call<boolean>(sdkViewer, 'e2e.hasProducers', stream, 2), { timeoutMs: 10_000, what: 'the SDK viewer seeing the stream' });
      await call(sdkViewer, 'e2e.subscribePeer', stream);
      await waitFor(async () => (await sdkVideo()).presented >= 25, { timeoutMs: 15_000, what: 'the SDK viewer presenting the primary' });
      sdkConsumer = (await sdkVideo()).consumerId;
    };
    const onBackupThenSdk = async () => {
      await whileOnBackup();
      await sdkCarriesOn('on the backup');
    };
    let result: Awaited<ReturnType<typeof measureBackupSwitch>>;
    try {
      result = await measureBackupSwitch(node, browser, {
        room: 'bk',
        stream,
        primary: 'rtmp',
        backup: 'srt',
        failure: 'kill',
        beforeFailure,
        whileOnBackup: onBackupThenSdk,
        afterReturn: () => sdkCarriesOn('after the return'),
      });
      const sdkEvents = await call<Array<{ name: string }>>(sdkViewer, 'e2e.events');
      expect(sdkEvents.filter((e) => ['reconnecting', 'disconnected', 'video:closed', 'video:trackChanged'].includes(e.name))).toEqual([]);
    } finally {
      await sdkViewer.close();
    }
    expect(onBackup?.live).toBe('backup');
    expect(onBackup?.inputs.map((i) => `${i.role}:${i.protocol}:${i.connected}`)).toEqual(['backup:srt:true']);
    console.log(`backup switch (RTMP primary killed, SRT backup): ${JSON.stringify(result)}`);
    expectSeamlessKillAndReturn(result);
    // A MoQ viewer on the same subscription carries on too, every group from the switches on opening with an IDR.
    expect(result.moqSwitchGapMs).toBeLessThan(1500);
    expect(result.moqReturnGapMs).toBeLessThan(1500);
    expect(result.moqGroupsAfterFailure).toBeGreaterThanOrEqual(2);
    expect(result.moqGroupsWithoutKeyFrame).toBe(0);

    const switched = await waitFor(
      () => {
        const events = receiver.delivered('bk').filter((e) => e.type === 'ingest.switched' && e.data.identity === stream);
        return events.length >= 3 ? events : undefined;
      },
      { what: 'ingest.switched webhooks' },
    );
    expect(switched.slice(0, 3).map((e) => [e.data.from, e.data.to, e.data.reason, e.data.protocol])).toEqual([
      [null, 'primary', 'first-input', 'rtmp'],
      ['primary', 'backup', 'disconnect', 'srt'],
      ['backup', 'primary', 'primary-restored', 'rtmp'],
    ]);
    expect(await metric('subsec_ingest_backup_switches_total', { reason: 'disconnect' })).toBe(disconnects + 1);
    expect(await metric('subsec_ingest_backup_switches_total', { reason: 'primary-restored' })).toBe(returns + 1);
  }, 180_000);

  it('SRT primary stalls (frozen encoder): the viewer carries on from the RTMP backup, then returns', async () => {
    const stalls = await counter('subsec_ingest_backup_switches_total', { reason: 'stall' });
    const result = await measureBackupSwitch(node, browser, {
      room: 'bk',
      stream: fresh('stall'),
      primary: 'srt',
      backup: 'rtmp',
      failure: 'freeze',
      hls: false,
    });
    console.log(`backup switch (SRT primary frozen, RTMP backup): ${JSON.stringify(result)}`);
    expect(result.liveAfterFailure).toBe('backup');
    expect(result.liveAfterReturn).toBe('primary');
    expect(result.reasons).toEqual(['first-input', 'stall', 'primary-restored']);
    expect(result.peerConnections).toBe(1);
    expect(result.viewerState).toBe('connected');
    expect(result.framesAfterSwitch).toBeGreaterThanOrEqual(50);
    // A stall is only known after ingest.backup.stallMs (1000 ms here) without video.
    expect(result.switchGapMs).toBeLessThan(2500);
    expect(result.moqSwitchGapMs).toBeLessThan(2500);
    expect(result.moqGroupsWithoutKeyFrame).toBe(0);
    expect(await metric('subsec_ingest_backup_switches_total', { reason: 'stall' })).toBe(stalls + 1);
  }, 180_000);

  it('a WHIP publisher (Chromium, H264) is the backup of an RTMP primary: the viewer carries on from it; a VP8-only or unknown-role WHIP input is refused', async () => {
    const stream = fresh('whip');
    const token = node.tokens.issue({ room: 'bk', identity: stream, canPublish: true });
    const whipUrl = (role: string) => `${node.url}/whip/bk/${stream}?role=${role}`;
    const post = (role: string, offer: string) =>
      fetch(whipUrl(role), { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: offer });
    const view = () => node.backups.get('bk', stream);
    const primary = rtmpPublisher('bk', stream, '&role=primary');
    await waitFor(() => node.backups.list().some((v) => v.stream === stream && v.live === 'primary'), { what: 'the RTMP primary live', timeoutMs: 20_000 });

    // Refused with reasons, the primary carrying on: an unknown role, and an input the switch cannot join (VP8 only).
    const bogus = await post('spare', fakeOffer({ video: 'H264' }));
    expect(bogus.status).toBe(400);
    expect(await bogus.text()).toMatch(/role/);
    const vp8 = await post('backup', fakeOffer({ video: 'VP8' }));
    expect(vp8.status).toBe(400);
    expect(await vp8.text()).toMatch(/H264/);
    expect(view().live).toBe('primary');

    // The real backup: Chromium publishing its camera over WHIP (the role refused above is free again).
    const publisher = await browser.page(node);
    const viewer = new NodeWhepViewer();
    try {
      await publisher.addScriptTag({ content: INGEST_PAGE });
      await publisher.evaluate(`window.subsecIngestBench.whipPublish(${JSON.stringify({ url: whipUrl('backup'), token })})`);
      await waitFor(() => view().inputs.some((i) => i.role === 'backup' && i.protocol === 'whip' && (i.lastVideoAgoMs ?? Infinity) < 500), {
        what: 'the WHIP backup delivering',
        timeoutMs: 20_000,
      });
      expect((await viewer.start(`${node.url}/whep/bk/${stream}`, tokenFor(node, { room: 'bk', identity: `v-${stream}` }))).status).toBe(201);
      await waitFor(() => viewer.packets.video > 30, { what: 'the viewer receiving the primary', timeoutMs: 15_000 });

      primary.kill('SIGKILL');
      await waitFor(() => view().live === 'backup', { what: 'the WHIP backup live', timeoutMs: 15_000 });
      const onBackup = viewer.packets.video;
      await waitFor(() => viewer.packets.video > onBackup + 30, { what: 'the viewer receiving the WHIP backup', timeoutMs: 15_000 });
      expect(viewer.state).toBe('connected');
      expect(view().lastSwitch).toMatchObject({ to: 'backup', reason: 'disconnect' });
    } finally {
      viewer.close();
      await publisher.close();
    }
  }, 120_000);

  it('refuses a backup without primary, an unknown role, a second backup and a role for a single-input stream, with reasons; the live stream carries on', async () => {
    const admin = { authorization: `Bearer ${node.tokens.issue({ room: '*', identity: 'ops', admin: true })}` };
    const [orphanName, oddName, pairName, singleName, srtName] = ['orphan', 'odd', 'pair', 'single', 'nosrt'].map(fresh) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const noPrimary = await counter('subsec_rtmp_rejected_total', { reason: 'no-primary' });
    const roleTaken = await counter('subsec_rtmp_rejected_total', { reason: 'role-taken' });
    const conflicts = await counter('subsec_ingest_backup_refused_total', { reason: 'conflict' });
    // A backup for a stream that has no primary.
    const orphan = rtmpPublisher('bk', orphanName, '&role=backup');
    expect(await exited(orphan, 15_000)).not.toBe(0);
    expect(orphan.log).toMatch(/has no primary input/);
    expect(await metric('subsec_rtmp_rejected_total', { reason: 'no-primary' })).toBe(noPrimary + 1);
    // An unknown role.
    const odd = rtmpPublisher('bk', oddName, '&role=spare');
    expect(await exited(odd, 15_000)).not.toBe(0);
    expect(odd.log).toMatch(/role must be primary or backup/);

    // A stream with a primary and a backup; a second backup is refused.
    rtmpPublisher('bk', pairName, '&role=primary');
    await waitFor(() => node.backups.list().find((s) => s.stream === pairName && s.live === 'primary'), { what: 'pair primary live', timeoutMs: 20_000 });
    rtmpPublisher('bk', pairName, '&role=backup');
    await waitFor(() => node.backups.get('bk', pairName).inputs.find((i) => i.role === 'backup' && i.lastVideoAgoMs !== null), {
      what: 'pair backup delivering',
      timeoutMs: 20_000,
    });
    const second = rtmpPublisher('bk', pairName, '&role=backup');
    expect(await exited(second, 15_000)).not.toBe(0);
    expect(second.log).toMatch(/already has a backup input/);

    // A role for a stream that is live without roles.
    rtmpPublisher('bk', singleName, '');
    await waitFor(() => node.rooms.get('bk')?.producersOf(singleName).length === 1, { what: 'single-input stream live', timeoutMs: 20_000 });
    const late = rtmpPublisher('bk', singleName, '&role=backup');
    expect(await exited(late, 15_000)).not.toBe(0);
    expect(late.log).toMatch(/has no primary input/);
    const latePrimary = rtmpPublisher('bk', singleName, '&role=primary');
    expect(await exited(latePrimary, 15_000)).not.toBe(0);
    expect(latePrimary.log).toMatch(/live with a single input/);

    // SRT gets the same answer as a rejection code.
    const before = metricSumOrZero(await metricsText(node.url), 'subsec_srt_rejected_total', { reason: 'no-primary' });
    const token = node.tokens.issue({ room: 'bk', identity: srtName, canPublish: true });
    const srt = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x180:rate=25',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-f',
        'mpegts',
        `srt://127.0.0.1:${node.srt!.port}?streamid=#!::r=bk/${srtName},m=publish,t=${token},role=backup&connect_timeout=3000000`,
      ],
      { stdio: 'ignore' },
    );
    encoders.push(srt);
    expect(await exited(srt, 15_000)).not.toBe(0);
    expect(await metric('subsec_srt_rejected_total', { reason: 'no-primary' })).toBe(before + 1);

    // Through all of it the pair stayed on its primary and the refusals were counted.
    const pair = await fetch(`${node.url}/v1/ingest/backup/bk/${pairName}`, { headers: admin });
    expect(((await pair.json()) as { live: string }).live).toBe('primary');
    expect(await metric('subsec_rtmp_rejected_total', { reason: 'role-taken' })).toBe(roleTaken + 1);
    expect(await metric('subsec_ingest_backup_refused_total', { reason: 'conflict' })).toBe(conflicts + 1);
    expect((await fetch(`${node.url}/v1/ingest/backup/bk/none`, { headers: admin })).status).toBe(404);
  }, 180_000);
});
