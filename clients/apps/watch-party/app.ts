/**
 * The watch-party app (served at /apps/watch-party/): friends' cameras in a grid (the first to
 * publish is the host, shown large), chat, and one shared video whose play/pause/seek/speed/source
 * is the same for everyone — room events applied by {@link PlaybackSync}, kept in step by the
 * synced clock. A late joiner gets the current state from the replayed history.
 *
 * For tests: `window.subsecApp` exposes the client, the sync, and the actions.
 */
import { PlaybackSync, type Publication, type SubsecClient, type Subscription } from '../../sdk/src/index';
import { $, bindStatus, clockText, el, guestName, join, toast } from '../shared/common';
import { fillIcons, setIcon } from '../shared/icons';

interface AppApi {
  client?: SubsecClient;
  sync?: PlaybackSync;
  chat: Array<{ identity: string; text: string; seq: number }>;
  say: (text: string) => Promise<void>;
  /** Samples of (node clock, currentTime), for sync measurements. */
  sample: () => { at: number; position: number; paused: boolean; rate: number; expected: number };
}

const ui = {
  form: $<HTMLFormElement>('join-form'),
  me: $<HTMLElement>('me'),
  cameraOn: $<HTMLButtonElement>('camera-on'),
  identity: $<HTMLInputElement>('identity'),
  room: $<HTMLInputElement>('room'),
  withCamera: $<HTMLInputElement>('with-camera'),
  stage: $<HTMLElement>('stage'),
  roomLabel: $<HTMLElement>('room-label'),
  status: $<HTMLElement>('status'),
  rtt: $<HTMLElement>('rtt'),
  clockError: $<HTMLElement>('clock-error'),
  drift: $<HTMLElement>('drift'),
  people: $<HTMLElement>('people'),
  shared: $<HTMLVideoElement>('shared'),
  badge: $<HTMLElement>('shared-badge'),
  unmute: $<HTMLButtonElement>('unmute'),
  play: $<HTMLButtonElement>('play'),
  seek: $<HTMLInputElement>('seek'),
  time: $<HTMLElement>('time'),
  rate: $<HTMLSelectElement>('rate'),
  sourceForm: $<HTMLFormElement>('source-form'),
  source: $<HTMLInputElement>('source'),
  lastAction: $<HTMLElement>('last-action'),
  cameras: $<HTMLDivElement>('cameras'),
  chatLog: $<HTMLOListElement>('chat-log'),
  chatForm: $<HTMLFormElement>('chat-form'),
  chatInput: $<HTMLInputElement>('chat-input'),
  template: $<HTMLTemplateElement>('camera-template'),
};

const params = new URLSearchParams(location.search);
ui.identity.value = params.get('name') ?? localStorage.getItem('subsec-name') ?? guestName();
if (params.get('room')) ui.room.value = params.get('room')!;
ui.withCamera.checked = params.get('camera') === '1';

let client: SubsecClient | undefined;
let sync: PlaybackSync | undefined;
let publication: Publication | undefined;
let seeking = false;
/** Camera tiles by identity, with their subscriptions. */
const tiles = new Map<string, { figure: HTMLElement; subs: Subscription[] }>();
const order: string[] = [];

const api: AppApi = {
  chat: [],
  say: (text) => say(text),
  sample: () => ({
    at: client?.clock.now() ?? Date.now(),
    position: ui.shared.currentTime,
    paused: ui.shared.paused,
    rate: ui.shared.playbackRate,
    expected: sync?.expectedPosition() ?? ui.shared.currentTime,
  }),
};
(window as unknown as { subsecApp: AppApi }).subsecApp = api;

function addChat(identity: string, text: string, seq: number, system = false): void {
  api.chat.push({ identity, text, seq });
  const li = el('li', '', system ? 'system' : '');
  if (!system) li.append(el('b', identity));
  li.append(document.createTextNode(text));
  ui.chatLog.append(li);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

async function say(text: string): Promise<void> {
  if (!client || !text.trim()) return;
  await client.send('chat', { text: text.trim().slice(0, 500) });
}

/** Shows a peer's camera tile, subscribing to its producers; the first publisher is the host. */
async function showCamera(identity: string): Promise<void> {
  if (!client) return;
  let tile = tiles.get(identity);
  if (!tile) {
    const figure = (ui.template.content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement;
    figure.querySelector('figcaption')!.textContent = identity === client.identity ? `${identity} (you)` : identity;
    figure.dataset.identity = identity;
    tile = { figure, subs: [] };
    tiles.set(identity, tile);
    order.push(identity);
    ui.cameras.append(figure);
    layout();
  }
  if (identity === client.identity) return;
  const infos = client.producers.filter((p) => p.identity === identity && !tile!.subs.some((s) => s.producerId === p.producerId));
  for (const info of infos) {
    try {
      tile.subs.push(await client.subscribe(info.producerId));
    } catch (error) {
      toast(`${identity}'s camera: ${(error as Error).message}`);
    }
  }
  const video = tile.figure.querySelector('video')!;
  const attach = (): void => {
    video.srcObject = new MediaStream(tile!.subs.filter((s) => !s.closed && s.kind === 'video').map((s) => s.track));
  };
  attach();
  for (const s of tile.subs) s.on('trackChanged', attach);
}

function removeCamera(identity: string): void {
  const tile = tiles.get(identity);
  if (!tile || identity === client?.identity) return;
  for (const s of tile.subs) s.close();
  tile.figure.remove();
  tiles.delete(identity);
  order.splice(order.indexOf(identity), 1);
  layout();
}

function layout(): void {
  for (const [identity, tile] of tiles) tile.figure.classList.toggle('host', identity === order[0]);
}

function render(): void {
  const video = ui.shared;
  const duration = Number.isFinite(video.duration) ? video.duration : 0;
  ui.seek.max = String(duration);
  if (!seeking) ui.seek.value = String(video.currentTime);
  ui.time.textContent = `${clockText(video.currentTime)} / ${clockText(duration)}`;
  const playing = !!sync?.state?.playing;
  if (ui.play.dataset.playing !== String(playing)) {
    ui.play.dataset.playing = String(playing);
    setIcon(ui.play, playing ? 'pause' : 'play', playing ? 'Pause' : 'Play');
  }
  if (client) {
    ui.rtt.textContent = Number.isFinite(client.clock.rttMs) ? `${client.clock.rttMs.toFixed(0)} ms` : '–';
    ui.clockError.textContent = Number.isFinite(client.clock.uncertaintyMs) ? `${client.clock.uncertaintyMs.toFixed(1)} ms` : '–';
    ui.people.textContent = String(client.peers.length + 1);
  }
  ui.drift.textContent = sync?.state?.playing ? `${Math.round(sync.driftMs)} ms` : sync?.state ? 'paused' : '–';
}

async function start(identity: string, room: string): Promise<void> {
  const c = await join(room, identity);
  client = c;
  api.client = c;
  ui.roomLabel.textContent = c.room;
  bindStatus(c, ui.status);
  const s = new PlaybackSync(c, ui.shared);
  sync = s;
  api.sync = s;
  s.on('state', (state) => {
    ui.badge.textContent = state.src ? decodeURIComponent(state.src.split('/').pop() ?? state.src) : 'Nothing playing yet';
    if (state.rate) ui.rate.value = String(state.rate);
    const what = state.playing ? `played from ${clockText(state.position)}` : `paused at ${clockText(state.position)}`;
    ui.lastAction.textContent = `${state.identity === c.identity ? 'You' : state.identity} ${what}`;
  });
  s.on('blocked', () => toast('Tap play or unmute to let the browser play the video'));
  c.on('event', (event) => {
    if (event.type !== 'chat') return;
    const text = (event.payload as { text?: unknown } | null)?.text;
    if (typeof text === 'string') addChat(event.identity, text, event.seq);
  });
  c.on('peerJoined', (p) => addChat(p.identity, `${p.identity} joined`, 0, true));
  c.on('peerLeft', (p) => {
    if (p.identity) addChat(p.identity, `${p.identity} left`, 0, true);
    if (!c.peers.some((x) => x.identity === p.identity)) removeCamera(p.identity);
  });
  c.on('producerAdded', (p) => {
    if (p.kind === 'video') void showCamera(p.identity);
  });
  c.on('producerRemoved', (p) => {
    if (!c.producers.some((x) => x.identity === p.identity && x.kind === 'video')) removeCamera(p.identity);
  });
  c.on('error', ({ message }) => toast(message));
  for (const p of c.producers) if (p.kind === 'video') void showCamera(p.identity);
  if (ui.withCamera.checked) await startCamera();
  setInterval(render, 200);
}

/** Publishes the camera and shows it among the friends. */
async function startCamera(): Promise<void> {
  const c = client;
  if (!c || publication) return;
  ui.cameraOn.disabled = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    publication = await c.publish(stream);
    await showCamera(c.identity);
    const own = tiles.get(c.identity)!.figure.querySelector('video')!;
    own.srcObject = new MediaStream(stream.getVideoTracks());
    ui.cameraOn.hidden = true;
  } catch (error) {
    ui.cameraOn.disabled = false;
    toast(`Camera: ${(error as Error).message}`);
  }
}

// Joins on arrival (camera off unless asked for); the form (a GET form) rejoins with other settings.
{
  const identity = ui.identity.value.trim() || guestName();
  localStorage.setItem('subsec-name', identity);
  ui.me.textContent = identity;
  fillIcons();
  start(identity, ui.room.value.trim() || 'party-demo').catch((error: Error) => {
    ui.status.dataset.state = 'failed';
    ui.status.textContent = 'not connected';
    (document.getElementById('join-details') as HTMLDetailsElement).open = true;
    toast(`Could not join: ${error.message}`);
  });
}
ui.cameraOn.addEventListener('click', () => void startCamera());

const act = (p: Promise<unknown> | undefined): void => {
  p?.catch((error: Error) => toast(error.message));
};
ui.play.addEventListener('click', () => {
  if (!sync) return;
  // The click is the user gesture that lets the browser play.
  void ui.shared.play().catch(() => undefined);
  if (!sync.state?.src) act(sync.load(ui.source.value).then(() => sync!.play()));
  else act(sync.state.playing ? sync.pause() : sync.play());
});
ui.seek.addEventListener('pointerdown', () => (seeking = true));
ui.seek.addEventListener('change', () => {
  seeking = false;
  act(sync?.seek(Number(ui.seek.value)));
});
ui.rate.addEventListener('change', () => act(sync?.setRate(Number(ui.rate.value))));
ui.sourceForm.addEventListener('submit', (e) => {
  e.preventDefault();
  act(sync?.load(ui.source.value));
});
ui.unmute.addEventListener('click', () => {
  ui.shared.muted = !ui.shared.muted;
  setIcon(ui.unmute, ui.shared.muted ? 'muted' : 'sound', ui.shared.muted ? 'Unmute' : 'Mute');
  void ui.shared.play().catch(() => undefined);
  if (!sync?.state?.playing) ui.shared.pause();
});
ui.chatForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.chatInput.value;
  ui.chatInput.value = '';
  act(say(text));
});
