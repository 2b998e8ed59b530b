/**
 * WebRTC across emulated networks: a Chromium publisher (lan) → a node process in its own lab
 * host → Chromium viewers on `4g` (1 % random loss, jitter, 8 Mbit/s) and `lossy-wifi` (5 %
 * bursty loss), each in its own namespace, watching through the SDK's `watch()`. Losses are
 * repaired (the viewers send NACKs and receive retransmissions), video keeps playing (frames
 * decode, the freeze share stays bounded) and glass-to-glass latency, read from the clock code in
 * each frame, stays sub-second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distribution } from '../../loadtest/netlab/measureLink';
import { MediaLab, type LabViewer, type ViewerSample } from '../../loadtest/netlab/MediaLab';

let rig: MediaLab;
let g4: LabViewer;
let wifi: LabViewer;

beforeAll(async () => {
  rig = await MediaLab.start();
  await rig.publish();
  [g4, wifi] = await Promise.all([rig.addViewer('viewer-4g', '4g'), rig.addViewer('viewer-wifi', 'lossy-wifi')]);
}, 120_000);

afterAll(async () => {
  await rig?.close();
});

const SAMPLE_MS = 15_000;

function check(name: string, s: ViewerSample): void {
  const g2g = distribution(s.g2gMs);
  const frames = s.after.framesDecoded - s.before.framesDecoded;
  const frozenS = s.after.totalFreezesDuration - s.before.totalFreezesDuration;
  const figures = {
    g2gP50Ms: Math.round(g2g.p50),
    g2gP95Ms: Math.round(g2g.p95),
    samples: s.g2gMs.length,
    frames,
    frozenPct: +((100 * frozenS) / (SAMPLE_MS / 1000)).toFixed(2),
    nacks: s.after.nackCount - s.before.nackCount,
    retransmitted: s.after.retransmitted - s.before.retransmitted,
    lost: s.after.packetsLost - s.before.packetsLost,
    received: s.after.packetsReceived - s.before.packetsReceived,
    protocol: s.after.protocol,
  };
  console.log(`NETLAB_WEBRTC_${name} ${JSON.stringify(figures)}`);
  expect(s.transport).toBe('webrtc');
  expect(figures.protocol).toBe('udp');
  // Losses happen and are repaired: NACKs out, retransmissions in.
  expect(figures.lost + figures.retransmitted).toBeGreaterThan(0);
  expect(figures.nacks, `${name} NACKs`).toBeGreaterThan(0);
  expect(figures.retransmitted, `${name} RTX packets`).toBeGreaterThan(0);
  // Video keeps playing: most of the 30 fps arrive and decode, frozen less than 15 % of the time
  // (0–2.6 % seen at load average ~20 on the 2-core VM, 11 % once at ~24: CPU-starved decoders
  // freeze too).
  expect(frames).toBeGreaterThan((SAMPLE_MS / 1000) * 30 * 0.6);
  expect(figures.frozenPct).toBeLessThan(15);
  // Glass to glass stays sub-second.
  expect(s.g2gMs.length).toBeGreaterThan(100);
  expect(g2g.p95).toBeLessThan(1000);
}

describe('WebRTC on 4g and lossy-wifi (lab)', () => {
  it('repairs losses with NACK/RTX, keeps playing with a bounded freeze share and sub-second glass-to-glass latency', async () => {
    const started = await Promise.all([g4.start(rig, 'webrtc'), wifi.start(rig, 'webrtc')]);
    for (const s of started) expect(s.transport).toBe('webrtc');
    const [a, b] = await Promise.all([g4.sample(SAMPLE_MS), wifi.sample(SAMPLE_MS)]);
    const stats = await rig.lab.stats();
    console.log(
      `NETLAB_WEBRTC_EMULATOR ${JSON.stringify({ cpuSeconds: stats.cpuSeconds, g4Down: stats.pipes[String(g4.host.downPipe)], wifiDown: stats.pipes[String(wifi.host.downPipe)] })}`,
    );
    check('4G', a);
    check('WIFI', b);
    expect([...g4.errors, ...wifi.errors]).toEqual([]);
  }, 90_000);
});
