/**
 * In-page helpers for the SDK e2e tests (sdk-api, signaling-fuzz). Everything goes through the
 * SDK's public API, imported from the node as a page on its origin would: `import('/sdk/subsec.js')`.
 * Installed as `window.e2e`; the tests call these functions by name with JSON arguments and read
 * back plain JSON (no DOM or SDK objects cross the page boundary).
 */
(() => {
  const state = {
    /** @type {any} the SubsecClient */
    client: undefined,
    /** @type {any} the Publication */
    publication: undefined,
    /** Subscriptions by kind ('video' | 'audio'). */
    subscriptions: {},
    /** Video elements watching the video subscription: presented-frame counters survive track swaps. */
    watched: {},
    /** Client, publication and subscription events in arrival order. */
    events: [],
    /** Data messages received. */
    data: [],
  };

  /** JSON-safe copy of an event payload (tracks and error objects left out). */
  function plain(value) {
    return JSON.parse(JSON.stringify(value ?? null, (key, v) => (key === 'error' || key === 'track' || key === 'previous' ? undefined : v)));
  }

  function record(name, data) {
    state.events.push({ name, at: Date.now(), data: plain(data) });
  }

  function sdk() {
    return import('/sdk/subsec.js');
  }

  /** Connects with `token` and records the client's events; returns who we are in the room. */
  async function connect(token, options) {
    const { connect: connectSdk } = await sdk();
    const client = await connectSdk(location.origin, token, options ?? {});
    state.client = client;
    for (const name of [
      'reconnecting',
      'reconnected',
      'disconnected',
      'error',
      'stateChanged',
      'producerAdded',
      'producerRemoved',
      'peerJoined',
      'peerLeft',
      'draining',
    ]) {
      client.on(name, (data) => record(name, data));
    }
    client.on('data', (message) => {
      const data = message.data instanceof ArrayBuffer ? { binary: [...new Uint8Array(message.data)] } : message.data;
      state.data.push({ identity: message.identity, label: message.label, data });
    });
    return { peerId: client.peerId, identity: client.identity, room: client.room, state: client.state };
  }

  /** Publishes the fake camera (640×360) and microphone; `options` go to client.publish(). */
  async function publish(options) {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { exact: 640 }, height: { exact: 360 }, frameRate: { ideal: 30 } },
      audio: true,
    });
    const publication = await state.client.publish(stream, options ?? {});
    state.publication = publication;
    for (const name of ['producerChanged', 'paused', 'resumed', 'closed']) publication.on(name, (data) => record(`publication:${name}`, data));
    return { producerIds: publication.producerIds, producerId: publication.producerId };
  }

  async function pausePublication(kind) {
    await state.publication.pause(kind);
  }

  async function resumePublication(kind) {
    await state.publication.resume(kind);
  }

  function describe(sub) {
    return { kind: sub.kind, producerId: sub.producerId, consumerId: sub.consumerId, identity: sub.identity, type: sub.producer.type };
  }

  function watch(sub) {
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    document.body.append(video);
    const watched = { video, presented: 0, width: 0, height: 0 };
    state.watched[sub.kind] = watched;
    const attach = (track) => {
      video.srcObject = new MediaStream([track]);
      video.play().catch(() => undefined);
    };
    attach(sub.track);
    sub.on('trackChanged', ({ track }) => attach(track));
    const onFrame = (_now, meta) => {
      watched.presented++;
      watched.width = meta.width;
      watched.height = meta.height;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  function keep(sub) {
    state.subscriptions[sub.kind] = sub;
    for (const name of ['trackChanged', 'producerPaused', 'producerResumed', 'closed', 'layersChanged']) {
      sub.on(name, (data) => record(`${sub.kind}:${name}`, data));
    }
    if (sub.kind === 'video') watch(sub);
    return describe(sub);
  }

  /** Subscribes to every producer of the peer with this identity (client.subscribe({peerId})). */
  async function subscribePeer(identity) {
    const peer = state.client.peers.find((p) => p.identity === identity);
    if (!peer) throw new Error(`no peer ${identity} in ${JSON.stringify(state.client.peers)}`);
    const subs = await state.client.subscribe({ peerId: peer.peerId });
    return subs.map(keep);
  }

  /** Subscribes to the `kind` producer of `identity` by producer id. */
  async function subscribeProducer(identity, kind) {
    const producer = state.client.producers.find((p) => p.identity === identity && p.kind === kind);
    if (!producer) throw new Error(`no ${kind} producer of ${identity}`);
    return keep(await state.client.subscribe(producer.producerId));
  }

  /** Whether `identity` has `count` producers visible to this client. */
  function hasProducers(identity, count) {
    return state.client.producers.filter((p) => p.identity === identity).length >= count;
  }

  async function pauseSubscription(kind) {
    await state.subscriptions[kind].pause();
  }

  async function resumeSubscription(kind) {
    await state.subscriptions[kind].resume();
  }

  /** Receiver-side figures of the `kind` subscription (video: frames presented by its <video>). */
  async function stats(kind) {
    const sub = state.subscriptions[kind];
    if (!sub) return undefined;
    const watched = state.watched[kind];
    const out = {
      kind,
      presented: watched ? watched.presented : 0,
      width: watched ? watched.video.videoWidth : 0,
      height: watched ? watched.video.videoHeight : 0,
      playbackFrames: watched ? watched.video.getVideoPlaybackQuality().totalVideoFrames : 0,
      framesDecoded: 0,
      packetsReceived: 0,
      codec: '',
      trackId: sub.closed ? undefined : sub.track.id,
      consumerId: sub.consumerId,
      producerId: sub.producerId,
      paused: sub.paused,
      producerPaused: sub.producerPaused,
      closed: sub.closed,
      listed: state.client.subscriptions.includes(sub),
    };
    const report = await sub.getStats();
    report?.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      out.framesDecoded = s.framesDecoded ?? 0;
      out.packetsReceived = s.packetsReceived ?? 0;
      out.codec = (s.codecId && report.get(s.codecId)?.mimeType) || out.codec;
    });
    return out;
  }

  /** Sends a data message; `{binary: [bytes]}` goes as binary. */
  async function sendData(payload) {
    await state.client.sendData(payload && Array.isArray(payload.binary) ? new Uint8Array(payload.binary) : payload);
  }

  /** Calls `fn` expecting a rejection; returns {name, code} of what it threw (or null). */
  async function expectError(what, args) {
    try {
      if (what === 'sendHuge') await state.client.sendData('x'.repeat(args.bytes));
      else if (what === 'subscribe') await state.client.subscribe(args.producerId);
      else if (what === 'setLayers') await state.subscriptions[args.kind].setPreferredLayers(args.spatialLayer);
      else throw new Error(`unknown ${what}`);
      return null;
    } catch (error) {
      return { name: error?.name, code: error?.code, message: String(error?.message ?? error) };
    }
  }

  function clientState() {
    const c = state.client;
    return {
      state: c.state,
      peerId: c.peerId,
      subscriptions: c.subscriptions.length,
      publicationIds: state.publication ? state.publication.producerIds : [],
    };
  }

  function events() {
    return state.events;
  }

  function data() {
    return state.data;
  }

  function close() {
    state.client?.close();
  }

  window.e2e = {
    connect,
    publish,
    pausePublication,
    resumePublication,
    subscribePeer,
    subscribeProducer,
    hasProducers,
    pauseSubscription,
    resumeSubscription,
    stats,
    sendData,
    expectError,
    clientState,
    events,
    data,
    close,
  };
})();
