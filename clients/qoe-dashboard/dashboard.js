// @ts-check
/**
 * The live QoE dashboard (docs/qoe.md): polls `GET /v1/qoe` every second with the admin key as
 * a bearer token and draws, per stream, the five figures per delivery path as time-series plots
 * on canvas, the viewers across paths and renditions, ingest health, server figures and alerts;
 * for streams packaged as LL-HLS, their ladder (`GET /v1/rooms/{room}/streams/{stream}/ladder`,
 * every 3 s): the rungs offered, joining and retiring, and the audience policy's last change.
 * No framework, no CDN: served as is by the node at /qoe/.
 */

const PATHS = /** @type {const} */ (['webrtc', 'moq', 'hls']);
const PATH_NAMES = { webrtc: 'WebRTC', moq: 'MoQ', hls: 'LL-HLS' };
const COLORS = { webrtc: '#4ea1ff', moq: '#b78cff', hls: '#ffb347', ingest: '#3ccf7a', bad: '#ff4d4f', grid: '#272b35', text: '#8b91a1' };

/** @typedef {{ key: string, name: string, fmt: (v: number) => string, axis: (v: number) => string }} FigureSpec */

/** @type {FigureSpec[]} The five figures, in the order of the API's point columns 1-5. */
const FIGURES = [
  { key: 'startupMs', name: 'Startup', fmt: (v) => `${(v / 1000).toFixed(2)} s`, axis: (v) => `${(v / 1000).toFixed(1)}s` },
  { key: 'rebufferRatio', name: 'Rebuffering', fmt: (v) => `${(v * 100).toFixed(2)} %`, axis: (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%` },
  { key: 'bitrateKbps', name: 'Bitrate', fmt: kbps, axis: (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}M` : `${Math.round(v)}k`) },
  {
    key: 'latencyMs',
    name: 'Latency',
    fmt: (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`),
    axis: (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`),
  },
  { key: 'failureRate', name: 'Failures', fmt: (v) => `${(v * 100).toFixed(1)} %`, axis: (v) => `${Math.round(v * 100)}%` },
];

/** @type {Array<FigureSpec & { column: number, alertFigure?: string }>} Ingest plots (columns of the API's ingest points). */
const INGEST = [
  { key: 'bitrateKbps', name: 'Ingest bitrate', column: 1, fmt: kbps, axis: (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}M` : `${Math.round(v)}k`) },
  { key: 'frameRate', name: 'Ingest fps', column: 2, alertFigure: 'ingestFrameRate', fmt: (v) => `${v.toFixed(1)} fps`, axis: (v) => `${Math.round(v)}` },
  {
    key: 'keyframeIntervalMs',
    name: 'Key frames every',
    column: 3,
    alertFigure: 'ingestKeyframeIntervalMs',
    fmt: (v) => `${(v / 1000).toFixed(2)} s`,
    axis: (v) => `${(v / 1000).toFixed(1)}s`,
  },
  {
    key: 'lossRatio',
    name: 'Ingest loss',
    column: 4,
    alertFigure: 'ingestLossRatio',
    fmt: (v) => `${(v * 100).toFixed(2)} %`,
    axis: (v) => `${(v * 100).toFixed(1)}%`,
  },
];

/** @param {number} v */
function kbps(v) {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} Mbps` : `${Math.round(v)} kbps`;
}

/** @param {string} tag @param {Record<string, string>} [attrs] @param {Array<Node | string>} [children] */
function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

const state = {
  key: '',
  since: 0,
  /** @type {any} */
  snapshot: undefined,
  lastOk: 0,
  /** Frames drawn (for tests and the curious). */
  frames: 0,
  /** @type {Map<string, StreamCard>} */
  cards: new Map(),
  /** @type {Map<string, { paths: Record<string, number[][]>, ingest: number[][] }>} points by stream key */
  points: new Map(),
  /** @type {Map<string, { at: number, view: any }>} the LL-HLS ladder by stream key (view null: not packaged here) */
  ladders: new Map(),
};
// @ts-ignore: exposed for tests and debugging
window.qoeDashboard = state;

/** Draws one plot: a line per series over the last `historySeconds`, a dashed threshold, axes. */
function drawPlot(
  /** @type {HTMLCanvasElement} */ canvas,
  /** @type {Array<{ color: string, points: Array<[number, number | null]> }>} */ series,
  /** @type {{ now: number, history: number, threshold?: number, axis: (v: number) => string }} */ o,
) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 220;
  const h = canvas.clientHeight || 90;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const left = 38;
  const bottom = h - 14;
  const top = 6;
  let max = 0;
  for (const s of series) for (const [, v] of s.points) if (v !== null && v > max) max = v;
  if (o.threshold !== undefined) max = Math.max(max, o.threshold * 1.25);
  if (max <= 0) max = 1;
  max *= 1.1;
  const x = (/** @type {number} */ t) => left + ((t - (o.now - o.history)) / o.history) * (w - left - 4);
  const y = (/** @type {number} */ v) => bottom - (v / max) * (bottom - top);
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = COLORS.text;
  ctx.strokeStyle = COLORS.grid;
  ctx.lineWidth = 1;
  for (const f of [0, 0.5, 1]) {
    const v = (max / 1.1) * f;
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(v)) + 0.5);
    ctx.lineTo(w - 4, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(o.axis(v), 2, y(v) + 3);
  }
  for (const m of [o.history, o.history / 2]) ctx.fillText(`-${Math.round(m / 60)}m`, x(o.now - m) + 2, h - 2);
  ctx.fillText('now', w - 24, h - 2);
  if (o.threshold !== undefined) {
    ctx.strokeStyle = COLORS.bad;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(left, y(o.threshold));
    ctx.lineTo(w - 4, y(o.threshold));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  let drawn = 0;
  ctx.lineWidth = 1.6;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.beginPath();
    let pen = false;
    let lone = /** @type {[number, number] | undefined} */ (undefined);
    for (const [t, v] of s.points) {
      if (v === null || t <= o.now - o.history) {
        if (pen && lone) ctx.fillRect(lone[0] - 1.5, lone[1] - 1.5, 3, 3);
        pen = false;
        continue;
      }
      drawn++;
      if (pen) {
        ctx.lineTo(x(t), y(v));
        lone = undefined;
      } else {
        ctx.moveTo(x(t), y(v));
        lone = [x(t), y(v)];
      }
      pen = true;
    }
    ctx.stroke();
    if (pen && lone) ctx.fillRect(lone[0] - 1.5, lone[1] - 1.5, 3, 3);
  }
  canvas.dataset.points = String(drawn);
}

/** A plot with its title and current values. */
class Plot {
  /** @param {string} name */
  constructor(name) {
    this.values = el('span', { class: 'values' });
    this.canvas = /** @type {HTMLCanvasElement} */ (el('canvas'));
    this.root = el('div', { class: 'plot' }, [el('div', { class: 'head' }, [el('span', { class: 'name' }, [name]), this.values]), this.canvas]);
  }
}

/** The card of one stream. */
class StreamCard {
  /** @param {any} s */
  constructor(s) {
    this.title = el('h2');
    this.dist = el('div', { class: 'dist', title: 'viewers by path' });
    this.renditions = el('div', { class: 'renditions' });
    this.plots = FIGURES.map((f) => new Plot(f.name));
    this.ingestPlots = INGEST.map((f) => new Plot(f.name));
    this.facts = el('div', { class: 'facts' });
    this.ladder = el('div', { class: 'ladder' });
    this.ingestBox = el(
      'div',
      { class: 'sub' },
      this.ingestPlots.map((p) => p.root),
    );
    this.root = el('section', { class: 'stream', 'data-stream': s.key }, [
      this.title,
      this.renditions,
      el(
        'div',
        { class: 'plots' },
        this.plots.map((p) => p.root),
      ),
      this.ingestBox,
      this.ladder,
      this.facts,
    ]);
  }
}

/** @param {any} s @param {any} snap */
function renderStream(s, snap) {
  let card = state.cards.get(s.key);
  if (!card) {
    card = new StreamCard(s);
    state.cards.set(s.key, card);
  }
  const now = snap.now / 1000;
  const history = snap.historySeconds;
  const pts = state.points.get(s.key) ?? { paths: {}, ingest: [] };
  const active = snap.alerts.active.filter((/** @type {any} */ a) => a.room === s.room && a.stream === s.stream);
  card.root.classList.toggle('alerting', active.length > 0);
  const paths = PATHS.filter((p) => s.paths[p]);
  card.title.replaceChildren(
    el('span', {}, [s.stream]),
    el('span', { class: 'room' }, [s.room]),
    el('span', { class: 'viewers' }, [
      `${s.viewers} viewer${s.viewers === 1 ? '' : 's'}`,
      ...paths.map((p) => el('span', { class: p }, [` · ${PATH_NAMES[p]} ${s.paths[p].viewers}`])),
    ]),
    card.dist,
  );
  card.dist.replaceChildren(
    ...paths
      .filter((p) => s.paths[p].viewers > 0)
      .map((p) =>
        el('i', {
          style: `width:${(100 * s.paths[p].viewers) / Math.max(1, s.viewers)}%;background:${COLORS[p]}`,
          title: `${PATH_NAMES[p]}: ${s.paths[p].viewers}`,
        }),
      ),
  );
  card.renditions.replaceChildren(
    ...paths.flatMap((p) => Object.entries(s.paths[p].renditions).map(([r, n]) => el('span', { class: p }, [`${PATH_NAMES[p]} ${r}: ${n}`]))),
  );
  FIGURES.forEach((f, i) => {
    const plot = card.plots[i];
    const rule = snap.alerts.rules.find((/** @type {any} */ r) => r.figure === f.key);
    const bad = active.some((/** @type {any} */ a) => a.figure === f.key);
    plot.root.classList.toggle('bad', bad);
    plot.values.replaceChildren(
      ...paths.map((p) => {
        const v = s.paths[p].figures[f.key];
        return el('span', { class: p, title: PATH_NAMES[p] }, [el('b', {}, [v === null ? '–' : f.fmt(v)])]);
      }),
    );
    const series = paths.map((p) => ({
      color: COLORS[p],
      points: /** @type {Array<[number, number | null]>} */ ((pts.paths[p] ?? []).map((row) => [row[0], row[i + 1]])),
    }));
    drawPlot(plot.canvas, series, { now, history, threshold: rule ? (rule.above ?? rule.below) : undefined, axis: f.axis });
  });
  card.ingestBox.hidden = !s.ingest;
  if (s.ingest) {
    INGEST.forEach((f, i) => {
      const plot = card.ingestPlots[i];
      const v = s.ingest.figures[f.key];
      const rule = f.alertFigure ? snap.alerts.rules.find((/** @type {any} */ r) => r.figure === f.alertFigure) : undefined;
      plot.root.classList.toggle(
        'bad',
        active.some((/** @type {any} */ a) => a.figure === f.alertFigure),
      );
      plot.values.replaceChildren(el('b', {}, [v === null || v === undefined ? '–' : f.fmt(v)]));
      const series = [{ color: COLORS.ingest, points: /** @type {Array<[number, number | null]>} */ (pts.ingest.map((row) => [row[0], row[f.column]])) }];
      drawPlot(plot.canvas, series, { now, history, threshold: rule ? (rule.above ?? rule.below) : undefined, axis: f.axis });
    });
  }
  renderLadder(card.ladder, state.ladders.get(s.key)?.view, snap.now);
  const sv = s.server;
  card.facts.replaceChildren(
    fact('WebRTC consumers', String(sv.consumers)),
    fact('consumer score', sv.meanScore === null ? '–' : `${sv.meanScore.toFixed(1)} (min ${sv.minScore})`),
    fact('layer changes', String(sv.layerChanges)),
    fact('server first frame', sv.firstFrameMs === null ? '–' : `${Math.round(sv.firstFrameMs)} ms`),
    fact('never got a frame (server)', String(sv.noFirstFrame)),
    ...(s.ingest ? [fact('tracks in', String(s.ingest.figures.tracks))] : []),
  );
  return card.root;
}

/** The LL-HLS ladder line of a stream card. @param {HTMLElement} box @param {any} view @param {number} now */
function renderLadder(box, view, now) {
  box.hidden = !view;
  if (!view) return;
  const rung = (/** @type {any} */ r) =>
    el('span', { class: `rung ${r.state}`, title: r.state }, [
      `${r.name} ${kbps(r.videoKbps)}${r.height ? ` ${r.height}p` : ''}${r.state === 'live' ? '' : ` (${r.state})`}`,
    ]);
  const last = view.changes.at(-1);
  box.replaceChildren(
    el('span', { class: 'lbl' }, [view.adaptive ? 'LL-HLS ladder (audience-shaped)' : 'LL-HLS ladder']),
    ...view.rungs.map(rung),
    ...(last
      ? [
          el('span', { class: 'change', title: last.reason }, [
            `${last.action} ${last.rung} ${Math.max(0, Math.round((now - Date.parse(last.at)) / 1000))} s ago: ${last.reason}`,
          ]),
        ]
      : []),
    ...(view.adaptive && !last && view.lastDecision ? [el('span', { class: 'change' }, [view.lastDecision.reason])] : []),
  );
}

/** Refreshes the ladders of the streams shown, each at most every 3 s. @param {any} snap */
async function pollLadders(snap) {
  const due = snap.streams.filter((/** @type {any} */ s) => Date.now() - (state.ladders.get(s.key)?.at ?? 0) > 3000);
  await Promise.all(
    due.map(async (/** @type {any} */ s) => {
      const res = await fetch(`/v1/rooms/${encodeURIComponent(s.room)}/streams/${encodeURIComponent(s.stream)}/ladder`, {
        headers: { authorization: `Bearer ${state.key}` },
        cache: 'no-store',
      }).catch(() => undefined);
      if (!res) return;
      state.ladders.set(s.key, { at: Date.now(), view: res.ok ? await res.json() : null });
    }),
  );
}

/** @param {string} name @param {string} value */
function fact(name, value) {
  return el('span', {}, [`${name} `, el('b', {}, [value])]);
}

/** @param {any} snap */
function render(snap) {
  const t = snap.totals;
  const viewers = PATHS.reduce((n, p) => n + (t.viewers[p] ?? 0), 0);
  const failures = Object.values(t.transportFailures).reduce((a, b) => a + Number(b), 0);
  const total = (/** @type {string} */ label, /** @type {string} */ value, cls = '') =>
    el('div', {}, [el('span', { class: `big ${cls}` }, [value]), el('span', { class: 'lbl' }, [label])]);
  /** @type {HTMLElement} */ (document.getElementById('totals')).replaceChildren(
    total('viewers', String(viewers)),
    ...PATHS.map((p) => total(PATH_NAMES[p], String(t.viewers[p] ?? 0), p)),
    total('streams', String(t.streams)),
    total('alerts firing', String(snap.alerts.active.length), snap.alerts.active.length ? 'bad-text' : ''),
    total('transport failures', String(failures), failures ? 'bad-text' : ''),
  );
  const ago = (/** @type {number} */ ms) => `${Math.max(0, Math.round((snap.now - ms) / 1000))} s ago`;
  const describe = (/** @type {any} */ a) => {
    const f = FIGURES.find((x) => x.key === a.figure) ?? INGEST.find((x) => x.alertFigure === a.figure);
    const fmt = f ? f.fmt : (/** @type {number} */ v) => String(v);
    return `${a.room}/${a.stream}${a.path ? ` · ${PATH_NAMES[/** @type {'webrtc'} */ (a.path)] ?? a.path}` : ''} · ${f ? f.name : a.figure} ${fmt(a.value)} ${a.op} ${fmt(a.threshold)}`;
  };
  const resolved = snap.alerts.recent.filter((/** @type {any} */ a) => a.resolvedAt).slice(0, 3);
  /** @type {HTMLElement} */ (document.getElementById('alerts')).replaceChildren(
    ...snap.alerts.active.map((/** @type {any} */ a) =>
      el('div', { class: 'alert' }, [`⚠ ${describe(a)}`, el('span', { class: 'when' }, [`since ${ago(a.firedAt)}`])]),
    ),
    ...resolved.map((/** @type {any} */ a) =>
      el('div', { class: 'alert resolved' }, [`✓ resolved: ${describe(a)}`, el('span', { class: 'when' }, [ago(a.resolvedAt)])]),
    ),
  );
  const main = /** @type {HTMLElement} */ (document.getElementById('streams'));
  const keys = new Set(snap.streams.map((/** @type {any} */ s) => s.key));
  for (const key of [...state.cards.keys()]) if (!keys.has(key)) state.cards.delete(key);
  const nodes = snap.streams.map((/** @type {any} */ s) => renderStream(s, snap));
  if (nodes.length === 0) main.replaceChildren(el('p', { class: 'none' }, ['No stream has viewers, reports or a contribution yet.']));
  else if (nodes.some((/** @type {Node} */ n, /** @type {number} */ i) => main.children[i] !== n) || main.children.length !== nodes.length)
    main.replaceChildren(...nodes);
  /** @type {HTMLElement} */ (document.getElementById('window')).textContent =
    `rebuffering, bitrate, latency over the last ${snap.windowSeconds} s · startup, failures over ${snap.sessionWindowSeconds} s · plots of the last ${Math.round(snap.historySeconds / 60)} min`;
  state.frames++;
}

/** Adds the new points of a snapshot to the kept history. @param {any} snap */
function merge(snap) {
  const oldest = snap.now / 1000 - snap.historySeconds;
  const keep = (/** @type {number[][]} */ rows) => rows.filter((r) => r[0] > oldest);
  const live = new Set();
  let newest = state.since;
  for (const s of snap.streams) {
    live.add(s.key);
    const p = state.points.get(s.key) ?? { paths: {}, ingest: [] };
    for (const [path, view] of Object.entries(s.paths)) {
      p.paths[path] = keep([...(p.paths[path] ?? []), ...view.points]);
      for (const r of view.points) newest = Math.max(newest, r[0]);
    }
    if (s.ingest) p.ingest = keep([...p.ingest, ...s.ingest.points]);
    state.points.set(s.key, p);
  }
  for (const key of [...state.points.keys()]) if (!live.has(key)) state.points.delete(key);
  state.since = newest;
}

async function poll() {
  try {
    const res = await fetch(`/v1/qoe?since=${state.since}`, { headers: { authorization: `Bearer ${state.key}` }, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      showLogin(body.message ?? 'not allowed');
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const snap = await res.json();
    state.snapshot = snap;
    state.lastOk = Date.now();
    merge(snap);
    render(snap);
    void pollLadders(snap);
  } catch (error) {
    const status = /** @type {HTMLElement} */ (document.getElementById('status'));
    status.textContent = `error: ${error instanceof Error ? error.message : String(error)}`;
  }
  setTimeout(poll, 1000);
}

function tickStatus() {
  const status = /** @type {HTMLElement} */ (document.getElementById('status'));
  if (state.lastOk) {
    const age = (Date.now() - state.lastOk) / 1000;
    status.className = `status ${age < 3 ? 'live' : 'stale'}`;
    status.textContent = age < 3 ? 'live' : `no data for ${Math.round(age)} s`;
  }
}

/** @param {string} message */
function showLogin(message) {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('login'));
  form.hidden = false;
  /** @type {HTMLElement} */ (document.getElementById('login-error')).textContent = state.key ? message : '';
  sessionStorage.removeItem('subsec-qoe-key');
  state.key = '';
}

function start() {
  // The key may come in the fragment (never sent to the server): /qoe/#key=...
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('key');
  if (fromHash) {
    sessionStorage.setItem('subsec-qoe-key', fromHash);
    history.replaceState(null, '', location.pathname);
  }
  state.key = sessionStorage.getItem('subsec-qoe-key') ?? '';
  const form = /** @type {HTMLFormElement} */ (document.getElementById('login'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    state.key = /** @type {HTMLInputElement} */ (document.getElementById('key')).value.trim();
    sessionStorage.setItem('subsec-qoe-key', state.key);
    form.hidden = true;
    void poll();
  });
  setInterval(tickStatus, 500);
  if (!state.key) showLogin('');
  else void poll();
}

start();
