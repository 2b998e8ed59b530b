/**
 * Viewer page of the network lab (tests and bench:network), run in a Chromium page inside a lab
 * host after clock-code.js: watches a stream with the SDK's `client.watch()` on one transport,
 * samples glass-to-glass latency from the clock code of every presented frame, and reads the
 * receiving peer connection's video stats (NACKs, retransmissions, loss, freezes, bytes, layer).
 * Loaded before the SDK so it can see the peer connections the SDK creates.
 */
(() => {
  const peerConnections = [];
  const Original = window.RTCPeerConnection;
  function Tracked(...args) {
    const pc = new Original(...args);
    peerConnections.push(pc);
    return pc;
  }
  Tracked.prototype = Original.prototype;
  Object.setPrototypeOf(Tracked, Original);
  window.RTCPeerConnection = Tracked;

  /** Sums the inbound video stats of every peer connection, plus the selected candidate pair's protocol. */
  async function videoStats() {
    const out = {
      nackCount: 0,
      retransmitted: 0,
      packetsLost: 0,
      packetsReceived: 0,
      framesDecoded: 0,
      freezeCount: 0,
      totalFreezesDuration: 0,
      bytesReceived: 0,
      frameHeight: 0,
      protocol: '',
      candidateType: '',
    };
    for (const pc of peerConnections) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out.nackCount += s.nackCount ?? 0;
          out.retransmitted += s.retransmittedPacketsReceived ?? 0;
          out.packetsLost += s.packetsLost ?? 0;
          out.packetsReceived += s.packetsReceived ?? 0;
          out.framesDecoded += s.framesDecoded ?? 0;
          out.freezeCount += s.freezeCount ?? 0;
          out.totalFreezesDuration += s.totalFreezesDuration ?? 0;
          out.bytesReceived += s.bytesReceived ?? 0;
          out.frameHeight = Math.max(out.frameHeight, s.frameHeight ?? 0);
        }
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
          const local = report.get(s.localCandidateId);
          if (local) {
            out.protocol = local.relayProtocol ? `${local.protocol}/${local.relayProtocol}` : local.protocol;
            out.candidateType = local.candidateType;
          }
        }
      });
    }
    return out;
  }

  /** Outbound video layers (rid, frame height, bitrate target, why quality is limited), for publishers. */
  async function senderStats() {
    const layers = [];
    for (const pc of peerConnections) {
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video')
          layers.push({
            rid: s.rid,
            frameHeight: s.frameHeight,
            targetBitrate: s.targetBitrate,
            qualityLimitationReason: s.qualityLimitationReason,
            active: s.active,
          });
      });
    }
    return layers;
  }

  let client;
  let player;
  let video;
  let startedAt = 0;
  const timeline = [];
  const stalls = [];
  let stallStart;
  let timelineTimer;

  /** Connects and starts watching; resolves with the time to the first presented frame (ms). */
  async function start(args) {
    const { connect } = await import(`${args.url}/sdk/subsec.js`);
    client = await connect(args.url, args.token, args.clientOptions ?? {});
    video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    document.body.append(video);
    // Rebuffering as players count it: from 'waiting' until playback resumes.
    video.addEventListener('waiting', () => {
      if (stallStart === undefined) stallStart = Date.now();
    });
    const resumed = () => {
      if (stallStart !== undefined) stalls.push({ at: stallStart, ms: Date.now() - stallStart });
      stallStart = undefined;
    };
    video.addEventListener('playing', resumed);
    video.addEventListener('timeupdate', () => {
      if (stallStart !== undefined && !video.paused && video.readyState >= 3) resumed();
    });
    const t0 = performance.now();
    const presented = new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
    player = await client.watch(args.identity, video, { transport: args.transport, hlsTimeoutMs: 40_000, ...(args.watchOptions ?? {}) });
    await presented;
    startedAt = Date.now();
    // Once a second: received bytes and the decoded frame height (for layer switches and bitrate over time).
    timelineTimer = setInterval(async () => {
      const s = await videoStats();
      const b = video.buffered;
      const bufferAheadMs = b.length ? Math.round(1000 * (b.end(b.length - 1) - video.currentTime)) : 0;
      timeline.push({
        at: Date.now(),
        bytes: s.bytesReceived,
        frameHeight: s.frameHeight || video.videoHeight,
        framesDecoded: s.framesDecoded,
        transport: player?.transport,
        playbackRate: video.playbackRate,
        bufferAheadMs,
      });
    }, 500);
    return { firstFrameMs: performance.now() - t0, transport: player.transport, wire: player.wireTransport };
  }

  /** Samples latency for `sampleMs` and returns it with the stats before and after. */
  async function sample(args) {
    const before = await videoStats();
    const [sampled, times] = await Promise.all([window.subsecClockCode.sampleLatency(video, args.code, args.sampleMs, 20_000), frameTimes(args.sampleMs)]);
    const after = await videoStats();
    return {
      ...sampled,
      before,
      after,
      transport: player.transport,
      wire: player.wireTransport,
      videoHeight: video.videoHeight,
      frozenMs: frozenMs(times, args.sampleMs),
    };
  }

  /**
   * Time frozen: gaps between presented frames longer than max(3 x mean interval, mean + 150 ms)
   * (WebRTC's freeze rule, applied to any path), plus a gap still open at the end.
   */
  function frozenMs(times, windowMs) {
    if (times.length < 2) return windowMs;
    const mean = (times[times.length - 1] - times[0]) / (times.length - 1);
    const limit = Math.max(3 * mean, mean + 150);
    let frozen = 0;
    for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > limit) frozen += times[i] - times[i - 1];
    return frozen;
  }

  /** Every presented frame's time (ms since the epoch) for `ms`: the gaps are the freezes a viewer sees. */
  function frameTimes(ms) {
    const times = [];
    const until = performance.now() + ms;
    return new Promise((resolve) => {
      // Resolves at the deadline even when no frame comes any more (a frozen picture).
      const timer = setTimeout(() => resolve(times), ms + 500);
      const onFrame = () => {
        times.push(Date.now());
        if (performance.now() < until) video.requestVideoFrameCallback(onFrame);
        else {
          clearTimeout(timer);
          resolve(times);
        }
      };
      video.requestVideoFrameCallback(onFrame);
    });
  }

  function stop() {
    clearInterval(timelineTimer);
    player?.close();
    client?.close();
  }

  /** Stalls ('waiting' to playing again) since the start, the one in progress counted up to now. */
  function stallList() {
    return stallStart === undefined ? stalls : [...stalls, { at: stallStart, ms: Date.now() - stallStart }];
  }

  window.subsecLabViewer = {
    senderStats,
    start,
    sample,
    frameTimes,
    videoStats,
    stop,
    stalls: stallList,
    timeline: () => timeline,
    startedAt: () => startedAt,
  };
})();
