// A WHEP viewer on node-datachannel, run as its own process by test/helpers/whipWhep.ts (keeps
// libdatachannel's threads and the test's event loop apart); reports JSON lines on stdout.
// Usage: node whepViewerProcess.mjs <whep-url> <token>
import nodeDataChannel from 'node-datachannel';

const [url, token] = process.argv.slice(2);
const packets = { audio: 0, video: 0 };
let state = 'new';
const say = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
const pc = new nodeDataChannel.PeerConnection('whep-viewer', { iceServers: [] });
pc.onStateChange((s) => (state = s));
const video = new nodeDataChannel.Video('0', 'RecvOnly');
video.addH264Codec(102);
video.addVP8Codec(96);
const audio = new nodeDataChannel.Audio('1', 'RecvOnly');
audio.addOpusCodec(111);
// Keep the Track objects referenced: once garbage-collected they stop delivering messages.
const tracks = [pc.addTrack(video), pc.addTrack(audio)];
tracks[0].onMessage(() => packets.video++);
tracks[1].onMessage(() => packets.audio++);
const gathered = new Promise((resolve) => pc.onGatheringStateChange((s) => s === 'complete' && resolve()));
pc.setLocalDescription();
await Promise.race([gathered, new Promise((r) => setTimeout(r, 3000))]);
const res = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
  body: pc.localDescription().sdp,
  signal: AbortSignal.timeout(10_000),
});
const body = await res.text();
if (res.status === 201) pc.setRemoteDescription(body, 'answer');
say({ status: res.status, location: res.headers.get('location'), body: res.status === 201 ? '' : body });
const timer = setInterval(() => say({ packets, state, open: tracks.map((t) => t.isOpen()) }), 100);
const stop = () => {
  clearInterval(timer);
  try {
    pc.close();
  } catch {
    /* closed */
  }
  nodeDataChannel.cleanup();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
