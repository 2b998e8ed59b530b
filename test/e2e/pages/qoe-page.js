/**
 * Browser side of the QoE e2e tests (plain JS: injected with addScriptTag, called by name with
 * JSON arguments). Uses only the SDK's public API from the node at /sdk/subsec.js, and hls.js
 * from /sdk/vendor/hls.mjs for the LL-HLS path. Installed as `window.qoe`.
 */
(() => {
  const state = { client: undefined, canvasTimer: undefined, drawing: true, hls: undefined, watch: undefined, errors: [] };

  function sdk() {
    return import('/sdk/subsec.js');
  }

  window.qoe = {
    async connect(token, options) {
      const { connect } = await sdk();
      state.client = await connect(location.origin, token, { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, ...options });
      state.client.on('error', (e) => state.errors.push(e.code));
      return { peerId: state.client.peerId };
    },

    /** Publishes a 320×240 canvas at 15 fps (no simulcast); `pauseDrawing` freezes it. */
    async publishCanvas() {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      document.body.append(canvas);
      const ctx = canvas.getContext('2d');
      let n = 0;
      state.canvasTimer = setInterval(() => {
        if (!state.drawing) return;
        n++;
        ctx.fillStyle = `hsl(${(n * 7) % 360} 70% 40%)`;
        ctx.fillRect(0, 0, 320, 240);
        ctx.fillStyle = '#fff';
        ctx.font = '48px sans-serif';
        ctx.fillText(String(n), 20, 140);
      }, 66);
      const stream = canvas.captureStream(15);
      const publication = await state.client.publish(stream, { simulcast: false, codec: 'VP8' });
      return { producerId: publication.producerId };
    },

    /** Stops painting the canvas for `ms`: no frames are captured, so viewers freeze (a paused ingest). */
    async pauseDrawing(ms) {
      state.drawing = false;
      await new Promise((r) => setTimeout(r, ms));
      state.drawing = true;
    },

    /** Subscribes to every producer of `identity` (waiting for them) and shows the video. */
    async watchWebRtc(identity) {
      const client = state.client;
      const find = () => client.producers.filter((p) => p.identity === identity);
      for (let i = 0; i < 100 && find().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      const subs = [];
      for (const p of find()) {
        try {
          subs.push(await client.subscribe(p.producerId));
        } catch (e) {
          return { error: e.code ?? String(e) };
        }
      }
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      document.body.append(video);
      video.srcObject = new MediaStream(subs.map((s) => s.track));
      void video.play().catch(() => undefined);
      return { subscriptions: subs.length };
    },

    /** Plays the node's LL-HLS of `identity` with hls.js, measured by client.qoe.watchMedia(). */
    async watchHls(room, identity, hlsConfig) {
      const { default: Hls } = await import('/sdk/vendor/hls.mjs');
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      document.body.append(video);
      const sid = state.client.qoe.cmcdSessionId();
      const hls = new Hls({ lowLatencyMode: true, cmcd: { sessionId: sid, useHeaders: false }, ...hlsConfig });
      state.hls = hls;
      state.watch = state.client.qoe.watchMedia({ stream: identity, path: 'hls', media: video, hls, cmcdSid: sid });
      hls.loadSource(`/hls/${room}/${identity}/index.m3u8`);
      hls.attachMedia(video);
      video.addEventListener('canplay', () => void video.play().catch(() => undefined), { once: true });
      return { sessionId: state.watch.session.id, cmcdSid: sid };
    },

    /** The QoE sessions of this client and what the reporter sent. */
    sessions() {
      return {
        sessions: state.client.qoe.sessions.map((s) => ({ id: s.id, path: s.path, state: s.state, startupMs: s.startupMs })),
        stats: { ...state.client.qoe.stats },
        hlsSession: state.watch ? { state: state.watch.session.state, startupMs: state.watch.session.startupMs } : undefined,
        errors: state.errors,
      };
    },

    /** Sends pending QoE now. */
    async flush() {
      await state.client.qoe.flush();
    },

    close() {
      clearInterval(state.canvasTimer);
      state.hls?.destroy();
      state.client?.close();
    },
  };
})();
