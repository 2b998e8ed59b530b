/**
 * `npx tsx loadtest/ingest/srt-stages.ts`: where SRT ingest latency goes, stage by stage, without
 * a browser. The bench's clock publisher (clockEncoder.ts: x264 zerolatency, MPEG-TS over SRT)
 * calls a UDP relay that timestamps every packet and passes it to an ffmpeg started with the
 * node's own arguments (srtFfmpegArgs), whose RTP lands on sockets here. Afterwards the relayed
 * MPEG-TS is decoded to read the painted clock of each frame, and frames are matched across
 * stages by their PTS (RTP timestamp = PTS + a constant, found at the key frames).
 *
 * Figures (p50 over the frames, ms): `publisherMs` paint → the frame's first SRT packet at the
 * relay (the encoder's filter, x264, MPEG-TS mux and SRT send); `nodeFfmpegMs` that packet → the
 * frame's last RTP packet out of the node's ffmpeg (libsrt's latency, then MPEG-TS demux);
 * `nodeFfmpegAfterNextFrameMs` from the next frame's first SRT packet instead (a video PES
 * without a length ends only when the next one begins); `paintToRtpMs` the sum.
 *
 * --hold <ms> holds the caller's first conclusion that long before ffmpeg sees it, as the node
 * does while its ffmpeg starts; the node's correction (withTimestampDelay) is applied unless
 * --hold-uncorrected. --pes-length: the encoder writes the video PES length (an encoder-side
 * option, for comparison). Also: --latency <ms, 120> --seconds <10> --audio --frame-parser.
 * The last line is one JSON object; exits non-zero when frames could not be matched or read.
 */
import dgram from 'node:dgram';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/loadConfig';
import { srtFfmpegArgs } from '../../src/ingest/srt/SrtSession';
import { HS_CONCLUSION, parseHandshake, withTimestampDelay } from '../../src/ingest/srt/srtPackets';
import { clockEncoderArgs, readClockCode } from './clockEncoder';

const now = () => performance.timeOrigin + performance.now();
const bind = (s: dgram.Socket) => new Promise<number>((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)));
const median = (x: number[]) => (x.length ? Math.round([...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]! * 10) / 10 : NaN);

/** The PTS of a video PES starting in this TS packet, and whether its first bytes carry an SPS. */
function videoPesStart(ts: Buffer): { pts: number; key: boolean } | undefined {
  if (ts[0] !== 0x47 || !(ts[1]! & 0x40)) return undefined;
  const afc = (ts[3]! >> 4) & 3;
  if (!(afc & 1)) return undefined;
  const q = 4 + (afc & 2 ? 1 + ts[4]! : 0);
  if (ts[q] !== 0 || ts[q + 1] !== 0 || ts[q + 2] !== 1 || (ts[q + 3]! & 0xf0) !== 0xe0 || !(ts[q + 7]! & 0x80)) return undefined;
  const b = ts.subarray(q + 9, q + 14);
  const pts = ((b[0]! >> 1) & 7) * 2 ** 30 + (b[1]! << 22) + ((b[2]! >> 1) << 15) + (b[3]! << 7) + (b[4]! >> 1);
  const body = ts.subarray(q + 9 + ts[q + 8]!);
  let key = false;
  for (let i = 0; i + 3 < body.length; i++) if (body[i] === 0 && body[i + 1] === 0 && body[i + 2] === 1 && (body[i + 3]! & 0x1f) === 7) key = true;
  return { pts, key };
}

/** Whether an RTP H264 payload starts a key frame (SPS or IDR, single, STAP-A or FU-A start). */
function rtpKey(payload: Buffer): boolean {
  const type = payload[0]! & 0x1f;
  if (type === 5 || type === 7) return true;
  if (type === 28) return (payload[1]! & 0x80) !== 0 && (payload[1]! & 0x1f) === 5;
  if (type === 24) for (let i = 1; i + 2 < payload.length; i += 2 + payload.readUInt16BE(i)) if ((payload[i + 2]! & 0x1f) === 7) return true;
  return false;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      latency: { type: 'string', default: '120' },
      seconds: { type: 'string', default: '10' },
      audio: { type: 'boolean', default: false },
      'frame-parser': { type: 'boolean', default: false },
      hold: { type: 'string', default: '0' },
      'hold-uncorrected': { type: 'boolean', default: false },
      'pes-length': { type: 'boolean', default: false },
    },
  });
  const latencyMs = Number(values.latency);
  const holdMs = Number(values.hold);
  const config = parseConfig({ srt: { enabled: true, port: 0, latencyMs, frameParser: values['frame-parser'] } }).srt;

  // Frame timings by PTS (SRT side) and RTP timestamp (RTP side).
  const srtFirst = new Map<number, number>();
  const srtKeys = new Set<number>();
  const tsBySeq = new Map<number, Buffer>();
  const rtpLast = new Map<number, number>();
  const rtpKeys = new Set<number>();

  const relayIn = dgram.createSocket('udp4');
  const relayOut = dgram.createSocket('udp4');
  const callerPort = await bind(relayIn);
  await bind(relayOut);
  const probe = dgram.createSocket('udp4');
  const ffmpegPort = await bind(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  let caller: dgram.RemoteInfo | undefined;
  let hold: 'none' | 'holding' | 'released' = holdMs > 0 ? 'none' : 'released';
  relayIn.on('message', (packet, from) => {
    const at = now();
    caller = from;
    if (!(packet[0]! & 0x80)) {
      const seq = packet.readUInt32BE(0) & 0x7fffffff;
      if (!tsBySeq.has(seq)) tsBySeq.set(seq, Buffer.from(packet.subarray(16)));
      for (let o = 16; o + 188 <= packet.length; o += 188) {
        const pes = videoPesStart(packet.subarray(o, o + 188));
        if (!pes || srtFirst.has(pes.pts)) continue;
        srtFirst.set(pes.pts, at);
        if (pes.key) srtKeys.add(pes.pts);
      }
    } else if (hold !== 'released' && parseHandshake(packet)?.type === HS_CONCLUSION) {
      if (hold === 'holding') return; // the caller's retransmissions while we hold
      hold = 'holding';
      setTimeout(() => {
        hold = 'released';
        relayOut.send(values['hold-uncorrected'] ? packet : withTimestampDelay(packet, (now() - at) * 1000), ffmpegPort, '127.0.0.1');
      }, holdMs);
      return;
    }
    relayOut.send(packet, ffmpegPort, '127.0.0.1');
  });
  relayOut.on('message', (packet) => caller && relayIn.send(packet, caller.port, caller.address));
  const sockets = [relayIn, relayOut];
  const socket = async () => {
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    return { s, port: await bind(s) };
  };
  const [video, videoRtcp, audio, audioRtcp] = await Promise.all([socket(), socket(), socket(), socket()]);
  video.s.on('message', (m) => {
    const at = now();
    const ts = m.readUInt32BE(4);
    if (m[1]! & 0x80) rtpLast.set(ts, at);
    if (rtpKey(m.subarray(12 + 4 * (m[0]! & 0xf)))) rtpKeys.add(ts);
  });
  let audioPackets = 0;
  audio.s.on('message', () => audioPackets++);

  const args = srtFfmpegArgs(
    ffmpegPort,
    config,
    { port: video.port, rtcpPort: videoRtcp.port, payloadType: 102, ssrc: 1111 },
    { port: audio.port, rtcpPort: audioRtcp.port, payloadType: 111, ssrc: 2222 },
  );
  const node = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let nodeErr = '';
  node.stderr!.on('data', (c: Buffer) => (nodeErr = (nodeErr + c.toString()).slice(-3000)));
  await new Promise((r) => setTimeout(r, 500)); // its listener up
  const publisher = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      ...clockEncoderArgs(values.audio),
      ...(values['pes-length'] ? ['-omit_video_pes_length', '0'] : []),
      '-f',
      'mpegts',
      `srt://127.0.0.1:${callerPort}?latency=${latencyMs * 1000}`,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  publisher.kill('SIGKILL');
  node.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  for (const s of sockets) s.close();

  // RTP timestamp = PTS + offset: of the offsets that line the key frames up (a GOP apart), the
  // true one gives the smallest non-negative delay.
  let offset: number | undefined;
  let best = Infinity;
  const keys = [...srtKeys];
  for (const k of keys)
    for (const r of rtpKeys) {
      const off = (r - k) >>> 0;
      if (keys.filter((k2) => rtpKeys.has((k2 + off) >>> 0)).length < keys.length - 2) continue;
      const delays = [...srtFirst].flatMap(([pts, at]) => {
        const out = rtpLast.get((pts + off) >>> 0);
        return out === undefined ? [] : [out - at];
      });
      const m = median(delays);
      if (m >= 0 && m < best) [best, offset] = [m, off];
    }
  if (offset === undefined)
    throw new Error(`no frame matched between SRT and RTP (${keys.length} key frames in, ${rtpKeys.size} out); ffmpeg: ${nodeErr.slice(-600)}`);

  // The painted clock of each frame, from the relayed MPEG-TS (decoded afterwards).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'srt-stages-'));
  const file = path.join(dir, 'relayed.ts');
  fs.writeFileSync(file, Buffer.concat([...tsBySeq.keys()].sort((a, b) => a - b).map((q) => tsBySeq.get(q)!)));
  const decoded = spawnSync(
    'ffmpeg',
    [
      '-v',
      'info',
      '-copyts',
      '-i',
      file,
      '-map',
      '0:v:0',
      '-fps_mode',
      'passthrough',
      '-vf',
      'crop=512:192:0:0,showinfo',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      '-',
    ],
    { maxBuffer: 1 << 30 },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  const ptsOfFrames = [...decoded.stderr.toString().matchAll(/Parsed_showinfo.*? pts:\s*(\d+)/g)].map((m) => Number(m[1]));
  const size = 512 * 192;
  const publisherMs: number[] = [];
  const nodeMs: number[] = [];
  const nodeAfterNextMs: number[] = [];
  const paintToRtpMs: number[] = [];
  const sortedPts = [...srtFirst.keys()].sort((a, b) => a - b);
  const nextPts = new Map(sortedPts.slice(0, -1).map((p, i) => [p, sortedPts[i + 1]!]));
  for (const [i, pts] of ptsOfFrames.entries()) {
    const painted = (i + 1) * size <= decoded.stdout.length ? readClockCode(decoded.stdout.subarray(i * size, (i + 1) * size), 512) : undefined;
    const first = srtFirst.get(pts);
    const out = rtpLast.get((pts + offset) >>> 0);
    const next = nextPts.get(pts);
    if (painted !== undefined && first !== undefined) publisherMs.push(first - painted);
    if (painted !== undefined && out !== undefined) paintToRtpMs.push(out - painted);
    if (first !== undefined && out !== undefined) nodeMs.push(out - first);
    if (next !== undefined && out !== undefined) nodeAfterNextMs.push(out - srtFirst.get(next)!);
  }
  const summary = {
    bench: 'srt-stages',
    latencyMs,
    encoderAudio: values.audio ? 'aac 128k' : 'none',
    frameParser: values['frame-parser'],
    encoderPesLength: values['pes-length'],
    conclusionHeldMs: holdMs,
    conclusionCorrected: holdMs > 0 && !values['hold-uncorrected'],
    framesRead: publisherMs.length,
    framesMatched: nodeMs.length,
    audioRtpPackets: audioPackets,
    publisherMs: median(publisherMs),
    nodeFfmpegMs: median(nodeMs),
    nodeFfmpegAfterNextFrameMs: median(nodeAfterNextMs),
    paintToRtpMs: median(paintToRtpMs),
  };
  console.log(
    `paint -> SRT out of the encoder ${summary.publisherMs} ms; SRT in -> RTP out of the node's ffmpeg ${summary.nodeFfmpegMs} ms ` +
      `(${summary.nodeFfmpegAfterNextFrameMs} ms after the next frame began; SRT latency ${latencyMs} ms); paint -> RTP ${summary.paintToRtpMs} ms`,
  );
  console.log(JSON.stringify(summary));
  const expectedFrames = 30 * Number(values.seconds) * 0.5;
  if (publisherMs.length < expectedFrames || nodeMs.length < expectedFrames) {
    console.error(`srt-stages: only ${publisherMs.length} frames read and ${nodeMs.length} matched in ${values.seconds} s of 30 fps`);
    process.exit(1);
  }
  if (values.audio && audioPackets === 0) {
    console.error('srt-stages: the encoder sent audio but no Opus RTP came out');
    process.exit(1);
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
