/**
 * Browser side of bench:cascade's client-observed failover (plain JS, added after clock-code.js).
 * The publisher page paints Date.now() as the clock code and publishes it through the SDK with
 * `nodes` to fail over to; the viewer page watches it with `client.watch()` over WebRTC on another
 * node and reads the painted time back from every presented frame, so a failover is seen where a
 * viewer sees it: the old picture stops, and a picture painted after the kill appears.
 */

/** Publisher: connects to `args.url` with `args.options` (nodes, reconnect), publishes the clock code. */
async function publishClock(args) {
  const { connect } = await import(`${location.origin}/sdk/subsec.js`);
  const canvas = document.createElement('canvas');
  canvas.width = args.code.width;
  canvas.height = args.code.height;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d');
  const paint = () => window.subsecClockCode.paintCode(ctx, args.code, Date.now());
  paint();
  setInterval(paint, 1000 / 60);
  const track = canvas.captureStream(30).getVideoTracks()[0];
  const client = await connect(args.url, args.token, args.options);
  window.failoverBench = { client, events: [] };
  for (const name of ['reconnecting', 'reconnected', 'disconnected']) client.on(name, () => window.failoverBench.events.push({ name, at: Date.now() }));
  await client.publish(track, { simulcast: false, codec: 'H264' });
}

/**
 * Viewer: watches `args.identity` over WebRTC and records, for every presented frame, when it was
 * presented and the painted time it carries (frames whose code fails the complement check are counted).
 */
async function watchClock(args) {
  const { connect } = await import(`${location.origin}/sdk/subsec.js`);
  const client = await connect(args.url, args.token, args.options);
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  document.body.append(video);
  const read = window.subsecClockCode.codeReader(args.code);
  const frames = [];
  let rejected = 0;
  const onFrame = () => {
    const painted = read(video);
    if (painted === undefined) rejected++;
    else frames.push({ at: Date.now(), painted });
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  window.failoverViewer = { client, frames, rejected: () => rejected };
  await client.watch(args.identity, video, { transport: 'webrtc' });
  return true;
}

/** Frames presented since `since` (ms since the epoch) whose painted time is at or after `since`. */
function framesPaintedSince(since) {
  return window.failoverViewer.frames.filter((f) => f.painted >= since).length;
}

/**
 * The viewer's failover around `killedAt`: the last presented frame painted before the kill, the
 * first presented frame painted after it, and the reconnection events of the publisher.
 */
function failoverSeen(killedAt) {
  const frames = window.failoverViewer.frames;
  const before = frames.filter((f) => f.painted < killedAt);
  const after = frames.filter((f) => f.painted >= killedAt);
  const lastOld = before.at(-1);
  const firstNew = after[0];
  return {
    lastOldAt: lastOld?.at ?? null,
    firstNewAt: firstNew?.at ?? null,
    firstNewPainted: firstNew?.painted ?? null,
    framesAfter: after.length,
    rejected: window.failoverViewer.rejected(),
  };
}

window.subsecFailoverBench = { publishClock, watchClock, framesPaintedSince, failoverSeen };
