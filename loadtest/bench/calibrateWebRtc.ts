/**
 * Relates the fan-out figure to real WebRTC viewers: worker CPU per forwarded packet for N SRTP
 * plain consumers versus N WHEP viewers on libdatachannel (ICE, DTLS, SRTP, consent checks) of
 * the same stream, each above the same ingest-only baseline, measured in one run so that the
 * ratio holds even when the box is busy.
 */
import type { FanoutRig } from './FanoutRig';
import { WhepBot } from '../rtc/WhepBot';

/** Result of a calibration. */
export interface Calibration {
  viewers: number;
  baselineCpuPct: number;
  plainCpuPct: number;
  webrtcCpuPct: number;
  /** Worker CPU per forwarded packet above the baseline (µs). */
  plainUsPerPacket: number;
  webrtcUsPerPacket: number;
  /** WebRTC viewer cost / plain consumer cost. */
  ratio: number;
  /** Loss seen by the WebRTC viewers (%). */
  webrtcLossPct: number;
  note: string;
}

/** Runs the calibration on a rig (its consumers are closed first). */
export async function calibrateWebRtc(rig: FanoutRig, n: number, o: { windowS: number; settleS: number }): Promise<Calibration> {
  const settle = () => new Promise((r) => setTimeout(r, o.settleS * 1000));
  await rig.setConsumers(0);
  await settle();
  const baseline = await rig.workerCpu(o.windowS);
  await rig.setConsumers(n);
  await settle();
  const plainM = await rig.measure(o.windowS);
  const plain = plainM.workerCpuPct.reduce((a, b) => a + b, 0);
  const plainUs = (((plain - baseline) / 100) * plainM.seconds * 1e6) / Math.max(1, plainM.packetsReceived);
  await rig.setConsumers(0);
  const { room, identity } = rig.stream;
  const token = rig.node.tokens.issue({ room, identity: 'calibration-viewer', canSubscribe: true }, 600);
  const url = `${rig.node.url}/whep/${room}/${identity}`;
  const bots: WhepBot[] = [];
  try {
    for (let i = 0; i < n; i += 10) {
      bots.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => WhepBot.start(`calibration-${i + k}`, { url, token })))));
    }
    const deadline = Date.now() + 15_000;
    while (bots.some((b) => b.counters().firstPacketMs === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await settle();
    const before = bots.map((b) => b.counters().video);
    const t0 = performance.now();
    const webrtc = await rig.workerCpu(o.windowS);
    const seconds = (performance.now() - t0) / 1000;
    const after = bots.map((b) => b.counters().video);
    let expected = 0;
    let received = 0;
    after.forEach((a, i) => {
      expected += a.expected - before[i]!.expected;
      received += a.packets - before[i]!.packets;
    });
    const webrtcUs = (((webrtc - baseline) / 100) * seconds * 1e6) / Math.max(1, received);
    const ratio = webrtcUs / Math.max(1e-9, plainUs);
    return {
      viewers: n,
      baselineCpuPct: baseline,
      plainCpuPct: plain,
      webrtcCpuPct: webrtc,
      plainUsPerPacket: plainUs,
      webrtcUsPerPacket: webrtcUs,
      ratio,
      webrtcLossPct: expected > 0 ? (100 * Math.max(0, expected - received)) / expected : 0,
      note:
        `worker CPU ${baseline.toFixed(1)} % with no consumers, ${plain.toFixed(1)} % with ${n} SRTP plain consumers, ${webrtc.toFixed(1)} % with ${n} WebRTC viewers; ` +
        `${plainUs.toFixed(2)} vs ${webrtcUs.toFixed(2)} µs per forwarded packet (×${ratio.toFixed(2)}).`,
    };
  } finally {
    await Promise.all(bots.map((b) => b.stop()));
  }
}
