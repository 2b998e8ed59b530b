/**
 * RTMP contribution → WebRTC viewer in Chromium, with two publishers nobody here wrote: ffmpeg
 * (`-f flv rtmp://…`) and GStreamer's `rtmp2sink` (gstreamer1.0-plugins-bad), each pushing
 * H264 + AAC while a Chromium WHEP viewer decodes frames at the encoder's size and receives audio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';
import { launchChromium, type Chromium } from '../../loadtest/core/chromium';
import { tokenFor, viewerStats, viewFromPage } from '../helpers/whipWhep';
import type { SubsecNode } from '../../src/SubsecNode';

let node: SubsecNode;
let browser: Chromium;
const encoders: ChildProcess[] = [];

beforeAll(async () => {
  node = await startNode({ rtmp: { enabled: true, port: 0 } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  for (const e of encoders) if (e.exitCode === null) e.kill('SIGKILL');
  await browser?.close();
  await node?.close();
});

function run(command: string, args: string[]): ChildProcess & { log: string } {
  const proc = Object.assign(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }), { log: '' });
  proc.stdout!.on('data', (d: Buffer) => (proc.log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (proc.log += d.toString()));
  encoders.push(proc);
  return proc;
}

const urlFor = (stream: string) =>
  `rtmp://127.0.0.1:${node.rtmp!.port}/live/rtmpc/${stream}?token=${tokenFor(node, { room: 'rtmpc', identity: stream, canPublish: true })}`;

async function expectChromiumDecodes(stream: string, width: number, encoder: ChildProcess & { log: string }): Promise<void> {
  await waitFor(() => node.rooms.get('rtmpc')?.producersOf(stream).length === 2, {
    what: `${stream} live (encoder: ${encoder.log.slice(-300)})`,
    timeoutMs: 20_000,
  });
  const page = await browser.page(node);
  try {
    const viewed = await viewFromPage(page, `${node.url}/whep/rtmpc/${stream}`, tokenFor(node, { room: 'rtmpc', identity: `viewer-${stream}` }));
    expect(viewed.status, viewed.body).toBe(201);
    await waitFor(async () => (await viewerStats(page)).framesDecoded > 25, { what: `Chromium decoding ${stream}`, timeoutMs: 20_000 });
    const stats = await viewerStats(page);
    expect(stats.frameWidth).toBe(width);
    await waitFor(async () => (await viewerStats(page)).audioPackets > 20, { what: `Opus audio of ${stream}`, timeoutMs: 10_000 });
  } finally {
    await page.close();
  }
}

describe('RTMP → Chromium', () => {
  it('ffmpeg publishes over RTMP and a Chromium WHEP viewer decodes it', async () => {
    const enc = run('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=25',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=44100',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-tune',
      'zerolatency',
      '-g',
      '25',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '64k',
      '-f',
      'flv',
      urlFor('ffmpeg'),
    ]);
    await expectChromiumDecodes('ffmpeg', 640, enc);
  }, 90_000);

  it('GStreamer rtmp2sink publishes over RTMP and a Chromium WHEP viewer decodes it', async () => {
    const enc = run('gst-launch-1.0', [
      '-q',
      'flvmux',
      'name=mux',
      'streamable=true',
      '!',
      'rtmp2sink',
      `location=${urlFor('gst')}`,
      'videotestsrc',
      'is-live=true',
      'pattern=ball',
      '!',
      'video/x-raw,width=480,height=270,framerate=25/1',
      '!',
      'x264enc',
      'tune=zerolatency',
      'speed-preset=ultrafast',
      'key-int-max=25',
      '!',
      'h264parse',
      '!',
      'queue',
      '!',
      'mux.',
      'audiotestsrc',
      'is-live=true',
      '!',
      'audioconvert',
      '!',
      'voaacenc',
      '!',
      'aacparse',
      '!',
      'queue',
      '!',
      'mux.',
    ]);
    await expectChromiumDecodes('gst', 480, enc);
  }, 90_000);
});
