/**
 * Receiver side of `bench:latency`, run in a Chromium page after clock-code.js: watches the
 * sender through the SDK's `client.watch()` on one forced transport (webrtc, moq or hls), times
 * `rounds` starts to the first presented frame, then samples glass-to-glass latency on the last.
 */

/** Watches `args.identity` over `args.transport`; returns {firstFrameMs[], g2gMs[], rejected}. */
async function receiverPage(args) {
  const { connect } = await import(`${args.url}/sdk/subsec.js`);
  const client = await connect(args.url, args.token);
  const firstFrameMs = [];
  try {
    for (let round = 0; round < args.rounds; round++) {
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      document.body.append(video);
      const t0 = performance.now();
      const presented = new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
      const player = await client.watch(args.identity, video, { transport: args.transport, moqCarrier: args.moqCarrier, hlsTimeoutMs: 40_000 });
      await presented;
      firstFrameMs.push(performance.now() - t0);
      if (round < args.rounds - 1) {
        player.close();
        video.remove();
        continue;
      }
      // Let a buffering player (LL-HLS) settle on its live-edge target before sampling.
      await new Promise((r) => setTimeout(r, args.settleMs));
      const sampled = await window.subsecClockCode.sampleLatency(video, args.code, args.sampleMs, 20_000);
      player.close();
      return { firstFrameMs, ...sampled };
    }
    throw new Error('rounds must be at least 1');
  } finally {
    client.close();
  }
}

window.subsecLatencyBench = { receiverPage };
