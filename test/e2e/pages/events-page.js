/**
 * Browser side of the room-event e2e tests (plain JS: injected with addScriptTag, called by name).
 * Uses only the SDK's public API, imported from the node at /sdk/subsec.js.
 */
window.ev = {
  /** Skews this page's clock (performance.timeOrigin) by `ms`, before the SDK is loaded. */
  skewClock(ms) {
    const origin = performance.timeOrigin + ms;
    Object.defineProperty(performance, 'timeOrigin', { value: origin, configurable: true });
    return performance.timeOrigin;
  },

  async connect(url, token, options) {
    const { connect } = await import(`${url}/sdk/subsec.js`);
    const client = await connect(url, token, { reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, ...options });
    window.client = client;
    window.received = [];
    window.gaps = [];
    window.states = [];
    client.on('event', (e) => window.received.push(e));
    client.events.on('gap', (g) => window.gaps.push(g));
    client.on('stateChanged', ({ state }) => window.states.push(state));
    return { identity: client.identity, state: client.state };
  },

  received() {
    return window.received;
  },

  states() {
    return window.states;
  },

  /** Sends `count` events one after the other with keys `${prefix}${i}`; returns what each call gave. */
  async sendMany(count, prefix, type) {
    const out = [];
    for (let i = 0; i < count; i++) {
      try {
        const e = await window.client.send(type ?? 'bid', { i }, { idempotencyKey: `${prefix}${i}` });
        out.push({ i, seq: e.seq });
      } catch (err) {
        out.push({ i, error: err.code ?? String(err) });
      }
    }
    return out;
  },

  async sendOne(type, payload, key) {
    try {
      const e = await window.client.send(type, payload, key ? { idempotencyKey: key } : {});
      return { seq: e.seq, event: e };
    } catch (err) {
      return { error: err.code, message: err.message, name: err.name };
    }
  },

  async clock() {
    await window.client.clock.whenSynced();
    return {
      now: window.client.clock.now(),
      real: Date.now(),
      offsetMs: window.client.clock.offsetMs,
      rttMs: window.client.clock.rttMs,
      synced: window.client.clock.synced,
    };
  },

  close() {
    window.client?.close();
  },
};
