/**
 * The room page served by the node at `/room/`: join a room with a token from `/demo/token`, publish the
 * camera with simulcast, see every other producer (auto-subscribed) with a layer selector, and
 * chat over data channels. Bundled by scripts/build-sdk.mjs into clients/dist/demo.js.
 *
 * For tests: `window.subsecDemo` exposes the client and the page's actions; elements have stable
 * ids (#room, #identity, #join, #leave, #publish, #status, #videos, #chat-input, #chat-send,
 * #chat-log, #errors) and remote tiles carry data-identity / data-kind / data-producer-id.
 */
import { connect, SubsecError, type Publication, type Subscription, type SubsecClient } from '../sdk/src/index';
import { fillIcons } from '../apps/shared/icons';

interface DemoApi {
  /** The connected client (undefined before joining / after leaving). */
  client?: SubsecClient;
  /** The camera publication, while publishing. */
  publication?: Publication;
  /** Current subscriptions shown on the page. */
  subscriptions: () => Subscription[];
  /** Joins the room in #room (same as clicking #join). */
  join: () => Promise<void>;
  /** Leaves (same as clicking #leave). */
  leave: () => void;
  /** Publishes the camera (same as clicking #publish). */
  publish: () => Promise<void>;
  /** Error messages shown on the page. */
  errors: string[];
}

declare global {
  interface Window {
    subsecDemo: DemoApi;
  }
}

function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
}

const ui = {
  form: $<HTMLFormElement>('join-form'),
  room: $<HTMLInputElement>('room'),
  identity: $<HTMLInputElement>('identity'),
  join: $<HTMLButtonElement>('join'),
  leave: $<HTMLButtonElement>('leave'),
  publish: $<HTMLButtonElement>('publish'),
  status: $<HTMLSpanElement>('status'),
  peerInfo: $<HTMLSpanElement>('peer-info'),
  videos: $<HTMLDivElement>('videos'),
  audios: $<HTMLDivElement>('audios'),
  local: $<HTMLElement>('local'),
  localVideo: $<HTMLVideoElement>('local-video'),
  chatForm: $<HTMLFormElement>('chat-form'),
  chatInput: $<HTMLInputElement>('chat-input'),
  chatSend: $<HTMLButtonElement>('chat-send'),
  chatLog: $<HTMLOListElement>('chat-log'),
  errors: $<HTMLUListElement>('errors'),
  template: $<HTMLTemplateElement>('tile-template'),
};

const LAYER_NAMES = ['low', 'mid', 'high'];
const tiles = new Map<Subscription, { element: HTMLElement; media: HTMLMediaElement; dispose: () => void }>();
let client: SubsecClient | undefined;
let publication: Publication | undefined;
let localStream: MediaStream | undefined;

const api: DemoApi = {
  client: undefined,
  publication: undefined,
  subscriptions: () => [...tiles.keys()],
  join,
  leave,
  publish: togglePublish,
  errors: [],
};
window.subsecDemo = api;

function showError(context: string, error: unknown): void {
  const message = error instanceof SubsecError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  const text = `${context}: ${message}`;
  api.errors.push(text);
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  ui.errors.prepend(item);
  console.warn('[demo]', text, error);
}

function setStatus(state: string): void {
  ui.status.textContent = state;
  ui.status.dataset.state = state;
  ui.peerInfo.textContent = client && state === 'connected' ? `room ${client.room} as ${client.identity}` : '';
}

function setJoined(joined: boolean): void {
  ui.join.disabled = joined;
  ui.room.disabled = joined;
  ui.identity.disabled = joined;
  ui.leave.disabled = !joined;
  ui.publish.disabled = !joined || !client?.grants.canPublish;
  ui.chatInput.disabled = !joined;
  ui.chatSend.disabled = !joined;
}

function appendChat(from: string, text: string, own = false): void {
  const item = document.createElement('li');
  if (own) item.className = 'own';
  const name = document.createElement('span');
  name.className = 'from';
  name.textContent = `${from}:`;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  item.append(name, body);
  ui.chatLog.append(item);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

async function fetchToken(room: string, identity: string): Promise<string> {
  const query = new URLSearchParams({ room, identity });
  const response = await fetch(new URL(`../demo/token?${query}`, location.href));
  if (!response.ok) throw new Error(`token request failed: HTTP ${response.status}`);
  const body = (await response.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new Error('token response has no token');
  return body.token;
}

async function join(): Promise<void> {
  if (client) return;
  const room = ui.room.value.trim() || 'demo';
  const identity = ui.identity.value.trim() || randomIdentity();
  ui.identity.value = identity;
  setJoined(true);
  setStatus('connecting');
  try {
    const token = await fetchToken(room, identity);
    // The node serving this page is the one to connect to (its base URL: the page is at <base>/room/).
    const connected = await connect(new URL('..', location.href).href, token, {
      displayName: identity,
      // Tokens expire; a reconnection an hour later needs a fresh one.
      getToken: () => fetchToken(room, identity),
    });
    client = connected;
    api.client = connected;
    wire(connected);
    setJoined(true);
    setStatus(connected.state);
    for (const producer of connected.producers) {
      if (producer.peerId !== connected.peerId) void show(connected, producer.producerId);
    }
  } catch (error) {
    showError('join', error);
    setStatus('failed');
    setJoined(false);
  }
}

function wire(c: SubsecClient): void {
  c.on('stateChanged', ({ state }) => setStatus(state));
  c.on('producerAdded', (producer) => {
    if (producer.peerId !== c.peerId) void show(c, producer.producerId);
  });
  c.on('peerJoined', (peer) => appendChat('*', `${peer.displayName ?? peer.identity} joined`));
  c.on('peerLeft', (peer) => appendChat('*', `${peer.displayName ?? (peer.identity || peer.peerId)} left`));
  c.on('data', ({ identity, peerId, data }) => {
    const message = data as { text?: unknown; from?: unknown } | string;
    const text = typeof message === 'string' ? message : typeof message?.text === 'string' ? message.text : JSON.stringify(data);
    const from = typeof message === 'object' && typeof message?.from === 'string' ? message.from : (identity ?? peerId);
    appendChat(from, text);
  });
  c.on('reconnecting', ({ attempt, delayMs, reason }) => appendChat('*', `connection lost (${reason}); reconnecting, attempt ${attempt} in ${delayMs} ms`));
  c.on('reconnected', () => appendChat('*', 'reconnected'));
  c.on('error', ({ code, message, fatal }) => showError(fatal ? 'fatal' : 'error', `${code}: ${message}`));
  c.on('disconnected', ({ reason }) => {
    appendChat('*', `disconnected (${reason})`);
    reset();
  });
}

async function show(c: SubsecClient, producerId: string): Promise<void> {
  try {
    const subscription = await c.subscribe(producerId);
    if (c !== client || subscription.closed || tiles.has(subscription)) return;
    addTile(subscription);
  } catch (error) {
    // A producer that closed before the subscription went through is not worth reporting.
    if (error instanceof SubsecError && (error.code === 'NOT_FOUND' || error.code === 'CLOSED')) return;
    showError(`subscribe ${producerId}`, error);
  }
}

function addTile(subscription: Subscription): void {
  let element: HTMLElement;
  let media: HTMLMediaElement;
  let resolution: HTMLElement | undefined;
  if (subscription.kind === 'video') {
    const fragment = ui.template.content.cloneNode(true) as DocumentFragment;
    element = fragment.querySelector('figure') as HTMLElement;
    media = element.querySelector('video') as HTMLVideoElement;
    resolution = element.querySelector('.resolution') as HTMLElement;
    const layers = element.querySelector('.layers') as HTMLElement;
    const select = element.querySelector('select.layer') as HTMLSelectElement;
    (element.querySelector('.identity') as HTMLElement).textContent = subscription.identity;
    // Only simulcast/SVC producers have layers to choose from.
    if (subscription.producer.type === 'simple') (select.parentElement as HTMLElement).hidden = true;
    select.addEventListener('change', () => {
      subscription.setPreferredLayers(Number(select.value)).catch((error: unknown) => showError('set layer', error));
    });
    subscription.on('layersChanged', ({ spatialLayer, temporalLayer }) => {
      layers.textContent = spatialLayer === null ? 'no layer' : `${LAYER_NAMES[spatialLayer] ?? `s${spatialLayer}`} t${temporalLayer ?? '-'}`;
      element.dataset.spatialLayer = spatialLayer === null ? '' : String(spatialLayer);
    });
    ui.videos.append(element);
  } else {
    element = document.createElement('audio');
    media = element as HTMLAudioElement;
    media.autoplay = true;
    ui.audios.append(element);
  }
  element.dataset.identity = subscription.identity;
  element.dataset.peerId = subscription.peerId;
  element.dataset.kind = subscription.kind;
  element.dataset.producerId = subscription.producerId;
  media.srcObject = new MediaStream([subscription.track]);
  media.play().catch(() => undefined);

  const updateResolution = (): void => {
    if (!resolution || !(media instanceof HTMLVideoElement)) return;
    resolution.textContent = media.videoWidth ? `${media.videoWidth}×${media.videoHeight}` : '';
    element.dataset.width = String(media.videoWidth);
    element.dataset.height = String(media.videoHeight);
  };
  media.addEventListener('resize', updateResolution);
  const timer = setInterval(updateResolution, 1000);
  const offTrack = subscription.on('trackChanged', ({ track }) => {
    element.dataset.producerId = subscription.producerId;
    element.dataset.peerId = subscription.peerId;
    media.srcObject = new MediaStream([track]);
    media.play().catch(() => undefined);
  });
  const dispose = (): void => {
    clearInterval(timer);
    offTrack();
    media.srcObject = null;
    element.remove();
    tiles.delete(subscription);
  };
  subscription.on('closed', dispose);
  tiles.set(subscription, { element, media, dispose });
}

async function togglePublish(): Promise<void> {
  const c = client;
  if (!c) return;
  if (publication) {
    stopPublishing();
    return;
  }
  ui.publish.disabled = true;
  try {
    localStream = await getCamera();
    ui.localVideo.srcObject = localStream;
    ui.local.hidden = false;
    publication = await c.publish(localStream, { simulcast: true, appData: { source: 'camera' } });
    api.publication = publication;
    publication.on('closed', () => {
      if (api.publication === publication) stopPublishing();
    });
    ui.publish.textContent = 'Stop camera';
  } catch (error) {
    showError('publish', error);
    stopPublishing();
  } finally {
    ui.publish.disabled = !client?.grants.canPublish;
  }
}

async function getCamera(): Promise<MediaStream> {
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio: true });
  } catch (error) {
    // Many devices have a camera but no usable microphone (or the reverse is denied): try video only.
    showError('microphone unavailable, publishing video only', error);
    return navigator.mediaDevices.getUserMedia({ video });
  }
}

function stopPublishing(): void {
  const p = publication;
  publication = undefined;
  api.publication = undefined;
  p?.close();
  for (const track of localStream?.getTracks() ?? []) track.stop();
  localStream = undefined;
  ui.localVideo.srcObject = null;
  ui.local.hidden = true;
  ui.publish.textContent = 'Publish camera';
}

function leave(): void {
  client?.close();
  reset();
}

function reset(): void {
  stopPublishing();
  for (const tile of [...tiles.values()]) tile.dispose();
  client = undefined;
  api.client = undefined;
  setJoined(false);
  setStatus('closed');
}

function randomIdentity(): string {
  return `guest-${Math.random().toString(36).slice(2, 7)}`;
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void join();
});
ui.leave.addEventListener('click', leave);
ui.publish.addEventListener('click', () => void togglePublish());
ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  const c = client;
  if (!text || !c) return;
  ui.chatInput.value = '';
  appendChat(c.identity, text, true);
  c.sendData({ type: 'chat', from: c.identity, text }).catch((error: unknown) => showError('chat', error));
});

fillIcons();
const params = new URLSearchParams(location.search);
ui.room.value = params.get('room') ?? ui.room.value;
ui.identity.value = params.get('identity') ?? randomIdentity();
if (params.has('autojoin')) void join();
