/**
 * The clock code of the glass-to-glass benchmarks (bench:latency, bench:hls), run in Chromium
 * pages: the sender paints Date.now() as a 48-bit block code, with its complement below so a
 * frame decodes only when both halves agree (a frame caught mid-change or blurred by the encoder
 * is rejected, not misread), and publishes the canvas; a receiver reads the code back from each
 * presented frame. A sample is the time from painting to presentation on the other side.
 */

/** Paints `now` on `ctx` as the block code described by `code` ({width, height, block, bits, perRow}). */
function paintCode(ctx, code, now) {
  const { width, height, block, bits, perRow } = code;
  const rows = Math.ceil(bits / perRow);
  ctx.fillStyle = '#808080';
  ctx.fillRect(0, 0, width, height);
  for (let i = 0; i < bits; i++) {
    const bit = Math.floor(now / 2 ** i) % 2;
    const x = (i % perRow) * block;
    const y = Math.floor(i / perRow) * block;
    ctx.fillStyle = bit ? '#ffffff' : '#000000';
    ctx.fillRect(x, y, block, block);
    ctx.fillStyle = bit ? '#000000' : '#ffffff';
    ctx.fillRect(x, y + rows * block, block, block);
  }
}

/** A reader of the code in a video element's current frame: `read(video)` → ms since the epoch, or undefined. */
function codeReader(code) {
  const { width, height, block, bits, perRow } = code;
  const rows = Math.ceil(bits / perRow);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return (video) => {
    if (!video.videoWidth) return undefined;
    ctx.drawImage(video, 0, 0, width, height);
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
}

/** Runs in the sender page: paints the code at 60 Hz, publishes the canvas at 30 fps with `args.codec`. */
async function senderPage(args) {
  const { connect } = await import(`${args.url}/sdk/subsec.js`);
  const canvas = document.createElement('canvas');
  canvas.width = args.code.width;
  canvas.height = args.code.height;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d');
  const paint = () => paintCode(ctx, args.code, Date.now());
  paint();
  setInterval(paint, 1000 / 60);
  const stream = canvas.captureStream(30);
  const client = await connect(args.url, args.token);
  const publication = await client.publish(stream.getVideoTracks()[0], { simulcast: false, codec: args.codec ?? 'H264' });
  window.benchClient = client;
  return publication.producerIds[0];
}

/**
 * Samples glass-to-glass latency on `video` for `sampleMs`: one sample per presented frame whose
 * code decodes (`rejected` counts the others).
 */
function sampleLatency(video, code, sampleMs, maxMs) {
  const read = codeReader(code);
  const g2gMs = [];
  let rejected = 0;
  const until = performance.now() + sampleMs;
  return new Promise((resolve) => {
    const onFrame = () => {
      const sent = read(video);
      const now = Date.now();
      if (sent !== undefined && now - sent >= 0 && now - sent < maxMs) g2gMs.push(now - sent);
      else rejected++;
      if (performance.now() < until) video.requestVideoFrameCallback(onFrame);
      else resolve({ g2gMs, rejected });
    };
    video.requestVideoFrameCallback(onFrame);
  });
}

window.subsecClockCode = { paintCode, codeReader, senderPage, sampleLatency };
