/**
 * Receiver side of the LL-HLS benchmark, run in a Chromium page after clock-code.js and hls.js:
 * plays the node's LL-HLS stream with hls.js in low-latency mode, locked on the copied source
 * rendition, and reads the sender's clock code back from each presented frame: a sample is the
 * time from painting to presentation through WebRTC → SFU → ffmpeg → packager → hls.js.
 */

/** Runs in the receiver page: plays with hls.js (source rendition) and samples glass-to-glass latency. */
async function hlsReceiverPage(args) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  document.body.append(video);
  const t0 = performance.now();
  const hls = new window.Hls({ lowLatencyMode: true, capLevelToPlayerSize: false, backBufferLength: 5 });
  window.benchHls = hls;
  const errors = [];
  hls.on(window.Hls.Events.ERROR, (_e, d) => errors.push(`${d.fatal ? 'FATAL ' : ''}${d.details}`));
  // hls.js lists levels by ascending bitrate: lock playback on the largest (the copied source).
  hls.on(window.Hls.Events.MANIFEST_PARSED, () => {
    hls.currentLevel = hls.levels.reduce((best, l, i, all) => (l.height > all[best].height ? i : best), 0);
  });
  hls.loadSource(args.src);
  hls.attachMedia(video);
  video.play().catch(() => undefined);
  await new Promise((resolve, reject) => {
    const deadline = performance.now() + 40000;
    const check = () =>
      video.currentTime > 0 ? resolve() : performance.now() > deadline ? reject(new Error(`no playback: ${errors.join(', ')}`)) : setTimeout(check, 50);
    check();
  });
  const firstPlayMs = performance.now() - t0;
  // Let the player settle on its live-edge target before sampling.
  await new Promise((r) => setTimeout(r, args.settleMs));
  const latencies = [];
  const sampling = window.subsecClockCode.sampleLatency(video, args.code, args.sampleMs, 20_000);
  const timer = setInterval(() => latencies.push(hls.latency), 100);
  const { g2gMs, rejected } = await sampling;
  clearInterval(timer);
  const quality = video.getVideoPlaybackQuality();
  hls.destroy();
  return { g2gMs, rejected, latencies, firstPlayMs, errors, dropped: quality.droppedVideoFrames, frames: quality.totalVideoFrames };
}

window.subsecHlsBench = { hlsReceiverPage };
