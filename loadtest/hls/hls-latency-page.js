/**
 * Browser-side code of the LL-HLS benchmark, run in Chromium pages through `page.evaluate`.
 * The sender paints Date.now() as a 48-bit block code on a canvas and publishes it as H264 (so
 * the ladder's source rendition is a copy); the receiver plays the node's LL-HLS stream with
 * hls.js in low-latency mode and reads the code back from each presented frame: a sample is the
 * time from painting to presentation through WebRTC → SFU → ffmpeg → packager → hls.js.
 */

/** Runs in the sender page: paints the clock code and publishes the canvas as H264. */
async function hlsSenderPage(args) {
  const { connect } = await import(`${args.url}/sdk/subsec.js`);
  const { width, height, block, bits, perRow } = args.code;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d');
  const paint = () => {
    const now = Date.now();
    ctx.fillStyle = '#808080';
    ctx.fillRect(0, 0, width, height);
    // The code, then its complement below it: a frame decodes only when both agree.
    const rows = Math.ceil(bits / perRow);
    for (let i = 0; i < bits; i++) {
      const bit = Math.floor(now / 2 ** i) % 2;
      const x = (i % perRow) * block;
      const y = Math.floor(i / perRow) * block;
      ctx.fillStyle = bit ? '#ffffff' : '#000000';
      ctx.fillRect(x, y, block, block);
      ctx.fillStyle = bit ? '#000000' : '#ffffff';
      ctx.fillRect(x, y + rows * block, block, block);
    }
  };
  paint();
  setInterval(paint, 1000 / 60);
  const stream = canvas.captureStream(30);
  const client = await connect(args.url, args.token);
  await client.publish(stream.getVideoTracks()[0], { simulcast: false, codec: 'H264' });
  window.benchClient = client;
}

/** Runs in the receiver page: plays with hls.js (source rendition) and samples glass-to-glass latency. */
async function hlsReceiverPage(args) {
  const { width, height, block, bits, perRow } = args.code;
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
    const check = () => (video.currentTime > 0 ? resolve() : performance.now() > deadline ? reject(new Error(`no playback: ${errors.join(', ')}`)) : setTimeout(check, 50));
    check();
  });
  const firstPlayMs = performance.now() - t0;
  // Let the player settle on its live-edge target before sampling.
  await new Promise((r) => setTimeout(r, args.settleMs));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const decode = () => {
    if (!video.videoWidth) return undefined;
    ctx.drawImage(video, 0, 0, width, height);
    const rows = Math.ceil(bits / perRow);
    const data = ctx.getImageData(0, 0, perRow * block, 2 * rows * block).data;
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const x = (i % perRow) * block + block / 2;
      const y = Math.floor(i / perRow) * block + block / 2;
      const bit = data[(y * perRow * block + x) * 4] > 128;
      const inverse = data[((y + rows * block) * perRow * block + x) * 4] > 128;
      if (bit === inverse) return undefined;
      if (bit) value += 2 ** i;
    }
    return value;
  };
  const g2gMs = [];
  let rejected = 0;
  const latencies = [];
  const until = performance.now() + args.sampleMs;
  await new Promise((resolve) => {
    const onFrame = () => {
      const sent = decode();
      const now = Date.now();
      if (sent !== undefined && now - sent >= 0 && now - sent < 20000) g2gMs.push(now - sent);
      else rejected++;
      latencies.push(hls.latency);
      if (performance.now() < until) video.requestVideoFrameCallback(onFrame);
      else resolve();
    };
    video.requestVideoFrameCallback(onFrame);
  });
  const quality = video.getVideoPlaybackQuality();
  hls.destroy();
  return { g2gMs, rejected, latencies, firstPlayMs, errors, dropped: quality.droppedVideoFrames, frames: quality.totalVideoFrames };
}

window.subsecHlsBench = { hlsSenderPage, hlsReceiverPage };
