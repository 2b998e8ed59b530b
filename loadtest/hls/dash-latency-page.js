/**
 * Receiver side of the LL-DASH figure of the HLS benchmark, run in a Chromium page after
 * clock-code.js and dash.js: plays the node's MPD with dash.js (low-latency mode, which the MPD
 * turns on with availabilityTimeComplete="false" and its ServiceDescription), locked on the
 * copied source rendition, and reads the sender's clock code back from each presented frame.
 */

/** Runs in the receiver page: plays with dash.js (source rendition) and samples glass-to-glass latency. */
async function dashReceiverPage(args) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  document.body.append(video);
  const t0 = performance.now();
  const player = window.dashjs.MediaPlayer().create();
  window.benchDash = player;
  const errors = [];
  player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
  player.on(window.dashjs.MediaPlayer.events.ERROR, (e) => errors.push(`${e.error?.code} ${e.error?.message}`));
  // Lock playback on the copied source rendition as soon as the stream is known.
  player.on(window.dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => player.setRepresentationForTypeById('video', 'source', true));
  player.initialize(video, args.src, true);
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
  const timer = setInterval(() => latencies.push(player.getCurrentLiveLatency()), 100);
  const { g2gMs, rejected } = await sampling;
  clearInterval(timer);
  const quality = video.getVideoPlaybackQuality();
  const lowLatency = player.getLowLatencyModeEnabled();
  const representation = player.getCurrentRepresentationForType('video')?.id;
  player.destroy();
  return { g2gMs, rejected, latencies, firstPlayMs, errors, dropped: quality.droppedVideoFrames, frames: quality.totalVideoFrames, lowLatency, representation };
}

window.subsecDashBench = { dashReceiverPage };
