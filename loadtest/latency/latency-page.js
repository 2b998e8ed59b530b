/**
 * Browser-side code of the latency benchmark, run in Chromium pages through `page.evaluate`.
 * The sender paints Date.now() as a 48-bit block code on a canvas and publishes the canvas; the
 * receiver reads the code back from each presented frame (requestVideoFrameCallback), so a
 * sample is the time from painting to presentation on the other side: glass to glass, minus the
 * display's own refresh.
 */



/** Runs in the sender page: paints the clock code at 30 fps and publishes the canvas. */
async function senderPage(args) {
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
    for (let i = 0; i < bits; i++) {
      const bit = Math.floor(now / 2 ** i) % 2;
      ctx.fillStyle = bit ? '#ffffff' : '#000000';
      ctx.fillRect((i % perRow) * block, Math.floor(i / perRow) * block, block, block);
    }
  };
  paint();
  setInterval(paint, 1000 / 60);
  const stream = canvas.captureStream(30);
  const client = await connect(args.url, args.token);
  const publication = await client.publish(stream.getVideoTracks()[0], { simulcast: false, codec: 'VP8' });
  window.benchClient = client;
  return publication.producerIds[0];
}

/** Runs in the receiver page: subscribes `rounds` times measuring first-frame time, then samples latency. */
async function receiverPage(args) {
  const { connect } = await import(`${args.url}/sdk/subsec.js`);
  const { width, height, block, bits, perRow } = args.code;
  const client = await connect(args.url, args.token);
  const producer = await new Promise((resolve) => {
    client.on('producerAdded', (p) => p.kind === 'video' && resolve(p));
    const existing = client.producers.find((p) => p.kind === 'video');
    if (existing) resolve(existing);
  });
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const decode = (video) => {
    if (video.videoWidth !== width) return undefined;
    ctx.drawImage(video, 0, 0, width, height);
    const rows = Math.ceil(bits / perRow);
    const data = ctx.getImageData(0, 0, perRow * block, rows * block).data;
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const x = (i % perRow) * block + block / 2;
      const y = Math.floor(i / perRow) * block + block / 2;
      const o = (y * perRow * block + x) * 4;
      if (data[o] > 128) value += 2 ** i;
    }
    return value;
  };
  const firstFrameMs = [];
  for (let round = 0; round < args.firstFrameRounds; round++) {
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    document.body.append(video);
    const t0 = performance.now();
    const sub = await client.subscribe(producer.producerId);
    video.srcObject = new MediaStream([sub.track]);
    await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
    firstFrameMs.push(performance.now() - t0);
    if (round < args.firstFrameRounds - 1) {
      await sub.close();
      video.remove();
    } else {
      const g2gMs = [];
      const until = performance.now() + args.sampleMs;
      await new Promise((resolve) => {
        const onFrame = () => {
          const sent = decode(video);
          const now = Date.now();
          if (sent !== undefined && now - sent >= 0 && now - sent < 5000) g2gMs.push(now - sent);
          if (performance.now() < until) video.requestVideoFrameCallback(onFrame);
          else resolve();
        };
        video.requestVideoFrameCallback(onFrame);
      });
      client.close();
      return { firstFrameMs, g2gMs };
    }
  }
  throw new Error('unreachable');
}

window.subsecLatencyBench = { senderPage, receiverPage };
