/**
 * Browser side of `npm run bench:ingest` (plain JS, added with addScriptTag so nothing is
 * transpiled into the page). WHEP/WHIP with bare RTCPeerConnections; the viewer reads the
 * 48-bit wall-clock code that ffmpeg painted into each frame (32 px blocks, 16 per row).
 */

async function negotiate(pc, url, token) {
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`${url}: ${res.status} ${body}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return res.headers.get('location');
}

/** Starts a WHEP viewer; resolves with the <video> once its first frame is presented. */
async function whepView(url, token) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  document.body.append(video);
  pc.ontrack = (e) => {
    if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]);
  };
  const location = await negotiate(pc, url, token);
  await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
  return { pc, video, location };
}

/**
 * Glass-to-glass samples (ms) of the painted clock code over `sampleMs`: {samples, rejected, frames}
 * (frames: presented by the compositor in the window, read or not).
 * The code's complement is painted below it; a frame whose halves disagree anywhere (caught
 * mid-change, blurred by the encoder) is rejected, not misread.
 */
async function sampleClock(args) {
  const { pc, video } = await whepView(args.url, args.token);
  const { block, bits, perRow } = args.code;
  const rows = Math.ceil(bits / perRow);
  const canvas = document.createElement('canvas');
  canvas.width = perRow * block;
  canvas.height = 2 * rows * block;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const samples = [];
  let rejected = 0;
  // Frames the compositor presented (rVFC's counter: a busy page reads fewer frames than were shown).
  let firstPresented;
  let lastPresented = 0;
  const until = performance.now() + args.sampleMs;
  await new Promise((resolve) => {
    const onFrame = (_t, meta) => {
      const now = Date.now();
      firstPresented ??= meta.presentedFrames;
      lastPresented = meta.presentedFrames;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let sent = 0;
      let agree = true;
      for (let i = 0; i < bits && agree; i++) {
        const x = (i % perRow) * block + block / 2;
        const y = Math.floor(i / perRow) * block + block / 2;
        const bit = data[(y * canvas.width + x) * 4] > 128;
        const inverse = data[((y + rows * block) * canvas.width + x) * 4] > 128;
        if (bit === inverse) agree = false;
        else if (bit) sent += 2 ** i;
      }
      if (agree && now - sent >= 0 && now - sent < 10_000) samples.push(now - sent);
      else rejected++;
      if (performance.now() < until) video.requestVideoFrameCallback(onFrame);
      else resolve();
    };
    video.requestVideoFrameCallback(onFrame);
  });
  return { samples, rejected, frames: lastPresented - (firstPresented ?? lastPresented) + 1, receiver: await receiverDelays(pc) };
}

/**
 * The viewer's own share of the delay, from its video inbound-rtp stats (ms per frame, averaged
 * over the session): time in the jitter buffer (and its target), decode, and first packet to
 * decoded (totalProcessingDelay); plus NACKs and dropped frames.
 */
async function receiverDelays(pc) {
  let out = {};
  (await pc.getStats()).forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
    const per = (total, count) => (count ? Math.round((1000 * total) / count) : null);
    out = {
      jitterBufferMs: per(s.jitterBufferDelay, s.jitterBufferEmittedCount),
      jitterBufferTargetMs: per(s.jitterBufferTargetDelay, s.jitterBufferEmittedCount),
      jitterBufferMinimumMs: per(s.jitterBufferMinimumDelay, s.jitterBufferEmittedCount),
      decodeMs: per(s.totalDecodeTime, s.framesDecoded),
      receiveToDecodedMs: per(s.totalProcessingDelay, s.framesDecoded),
      framesDecoded: s.framesDecoded,
      framesDropped: s.framesDropped,
      nackCount: s.nackCount,
      pliCount: s.pliCount,
    };
  });
  return out;
}

/** Publishes the fake camera over WHIP; returns the resource URL and the time the POST began. */
async function whipPublish(args) {
  const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
  const pc = new RTCPeerConnection();
  pc.addTransceiver(media.getVideoTracks()[0], { direction: 'sendonly' });
  pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly' });
  const startedAt = Date.now();
  const location = await negotiate(pc, args.url, args.token);
  window.whipPc = pc;
  return { startedAt, location };
}

/** WHEP viewer for the first-frame measurement: resolves with the wall-clock time of its first frame. */
async function firstFrameAt(args) {
  const { pc, location } = await whepView(args.url, args.token);
  const at = Date.now();
  await fetch(location, { method: 'DELETE', headers: { authorization: `Bearer ${args.token}` } });
  pc.close();
  return at;
}

async function whipStop(args) {
  await fetch(args.location, { method: 'DELETE', headers: { authorization: `Bearer ${args.token}` } });
  window.whipPc.close();
}

/** A WHEP viewer that records when each frame is presented (rVFC), for gap measurements; resolves at its first frame. */
async function watchFrames(args) {
  const { pc, video } = await whepView(args.url, args.token);
  const watch = { pc, times: [], peerConnections: 1 };
  const onFrame = (now) => {
    watch.times.push(now);
    if (watch.times.length > 20000) watch.times.splice(0, 10000);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  window.frameWatch = watch;
  return true;
}

/** The page's clock (performance.now()), to mark the start of a measurement window. */
function pageNow() {
  return performance.now();
}

/**
 * Frames presented after `since` (page clock) and the longest wait for a frame in that window:
 * from `since` or the last frame before it, to each frame, and from the last frame to now.
 */
async function frameGaps(args) {
  const w = window.frameWatch;
  const video = {};
  (await w.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video')
      Object.assign(video, {
        pliCount: s.pliCount,
        nackCount: s.nackCount,
        keyFramesDecoded: s.keyFramesDecoded,
        framesDropped: s.framesDropped,
        freezeCount: s.freezeCount,
        packetsLost: s.packetsLost,
      });
  });
  const now = performance.now();
  let prev = args.since;
  for (const t of w.times) if (t <= args.since) prev = t;
  let frames = 0;
  let maxGapMs = 0;
  for (const t of w.times) {
    if (t <= args.since) continue;
    frames++;
    maxGapMs = Math.max(maxGapMs, t - prev);
    prev = t;
  }
  return { frames, maxGapMs: Math.max(maxGapMs, now - prev), sinceLastMs: now - prev, state: w.pc.connectionState, peerConnections: w.peerConnections, video };
}

/** hls.js (added to the page beforehand) playing `args.url` in low-latency mode; every error event is kept. */
function hlsPlay(args) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  document.body.append(video);
  const hls = new window.Hls({ lowLatencyMode: true, backBufferLength: 10 });
  const state = { hls, video, errors: [], errorTimes: [] };
  hls.on(window.Hls.Events.ERROR, (_e, d) => {
    state.errors.push(`${d.fatal ? 'FATAL ' : ''}${d.details}`);
    state.errorTimes.push(Date.now());
  });
  hls.loadSource(args.url);
  hls.attachMedia(video);
  video.play().catch(() => undefined);
  window.hlsState = state;
  return true;
}

/** The hls.js player's position, decoded frames and errors so far. */
function hlsStatus() {
  const s = window.hlsState;
  return { currentTime: s.video.currentTime, frames: s.video.getVideoPlaybackQuality().totalVideoFrames, errors: s.errors, errorTimes: s.errorTimes };
}

window.subsecIngestBench = { sampleClock, whipPublish, firstFrameAt, whipStop, watchFrames, pageNow, frameGaps, hlsPlay, hlsStatus };
