/**
 * A worker thread of `bench:events` holding a share of the subscriber sockets, so receiving a
 * thousand copies of every event does not stall the thread that sends and times them. Plain JS:
 * worker threads do not get tsx's loader.
 * Messages in: {type: 'open', url, token, count} | {type: 'mark'} | {type: 'collect'} | {type: 'close'}.
 * Messages out: {type: 'opened', count} | {type: 'state', lastSeqMin, received, lost} |
 * {type: 'arrivals', seqs: Float64Array, times: Float64Array, ...state}.
 */
import { parentPort } from 'node:worker_threads';
import WebSocket from 'ws';

/** @type {Array<{ws: WebSocket, lastSeq: number, received: number}>} */
const subs = [];
let seqs = [];
let times = [];
let lost = 0;

function seqOf(frame) {
  if (!frame.startsWith('{"notification":"roomEvent"')) return 0;
  const i = frame.indexOf('"seq":');
  return i < 0 ? 0 : parseInt(frame.slice(i + 6, i + 22), 10);
}

function open(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', { perMessageDeflate: false });
    const sub = { ws, lastSeq: 0, received: 0 };
    const timer = setTimeout(() => reject(new Error('join timed out')), 30_000);
    ws.once('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'join', params: { protocol: 1, token } })));
    ws.on('close', () => lost++);
    ws.on('message', (data) => {
      const frame = data.toString('latin1');
      const seq = seqOf(frame);
      if (seq) {
        seqs.push(seq);
        times.push(performance.timeOrigin + performance.now());
        sub.lastSeq = seq;
        sub.received++;
        return;
      }
      if (frame.startsWith('{"id":1,')) {
        if (!frame.includes('"ok":true')) reject(new Error(`join failed: ${frame.slice(0, 200)}`));
        else ws.send(JSON.stringify({ id: 2, method: 'subscribeEvents', params: {} }));
      } else if (frame.startsWith('{"id":2,')) {
        clearTimeout(timer);
        resolve(sub);
      }
    });
  });
}

function state() {
  return { lastSeqMin: subs.reduce((m, s) => Math.min(m, s.lastSeq), Number.POSITIVE_INFINITY), received: subs.reduce((n, s) => n + s.received, 0), lost };
}

parentPort.on('message', async (msg) => {
  if (msg.type === 'open') {
    for (let i = 0; i < msg.count; i += 50) {
      subs.push(...(await Promise.all(Array.from({ length: Math.min(50, msg.count - i) }, () => open(msg.url, msg.token)))));
    }
    parentPort.postMessage({ type: 'opened', count: subs.length });
  } else if (msg.type === 'state') {
    parentPort.postMessage({ type: 'state', ...state() });
  } else if (msg.type === 'collect') {
    const out = { type: 'arrivals', seqs: Float64Array.from(seqs), times: Float64Array.from(times), ...state() };
    seqs = [];
    times = [];
    parentPort.postMessage(out, [out.seqs.buffer, out.times.buffer]);
  } else if (msg.type === 'close') {
    for (const s of subs) s.ws.close();
    parentPort.postMessage({ type: 'closed' });
  }
});
