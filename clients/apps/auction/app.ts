/**
 * The live-auction app (served at /apps/auction/): the auctioneer publishes a camera and opens
 * lots; bidders watch over WebRTC or LL-HLS (their choice, or automatic fallback), bid with one
 * tap, and see the bid ladder, the high bid and the countdown. Lots, bids and the anti-sniping
 * extension are room events judged by the node's auction rules (src/events/rules/AuctionRules.ts);
 * a bid is sent with an idempotency key, so a retry after a network drop never bids twice.
 * Viewers get each event at the media time it belongs to (player.on('event')).
 *
 * For tests: `window.subsecApp` exposes the client, the player, the state and the actions.
 */
import { EventRejectedError, type RoomEvent, type StreamPlayer, type SubsecClient, type TransportName } from '../../sdk/src/index';
import { $, bindStatus, clockText, el, guestName, join, toast } from '../shared/common';
import { fillIcons, setIcon } from '../shared/icons';

interface Bid {
  seq: number;
  identity: string;
  amount: number;
  at: number;
}

interface Lot {
  lotId: string;
  number: number;
  title: string;
  startPrice: number;
  increment: number;
  endsAt: number;
  auctioneer: string;
  bids: Bid[];
  extended: boolean;
  closed?: { winner: string | null; amount: number | null; early: boolean };
}

/** An event as the page showed it (for tests: when, and where the playhead was). */
interface Shown {
  seq: number;
  type: string;
  mediaTime: number;
  shownAt: number;
  playhead: number | undefined;
  transport: string;
}

interface AppApi {
  client?: SubsecClient;
  player?: StreamPlayer;
  lot: () => Lot | undefined;
  shown: Shown[];
  bid: (amount?: number) => Promise<string>;
  openLot: (title: string, startPrice: number, increment: number, durationSec: number) => Promise<string>;
  startCamera: () => Promise<void>;
}

const ui = {
  form: $<HTMLFormElement>('join-form'),
  me: $<HTMLElement>('me'),
  identity: $<HTMLInputElement>('identity'),
  room: $<HTMLInputElement>('room'),
  role: $<HTMLSelectElement>('role'),
  via: $<HTMLSelectElement>('via'),
  stage: $<HTMLElement>('stage'),
  roomLabel: $<HTMLSpanElement>('room-label'),
  status: $<HTMLSpanElement>('status'),
  rtt: $<HTMLElement>('rtt'),
  transport: $<HTMLElement>('transport'),
  latency: $<HTMLElement>('latency'),
  video: $<HTMLVideoElement>('video'),
  badge: $<HTMLSpanElement>('video-badge'),
  unmute: $<HTMLButtonElement>('unmute'),
  auctioneer: $<HTMLElement>('auctioneer'),
  camera: $<HTMLButtonElement>('camera'),
  sell: $<HTMLButtonElement>('sell'),
  openLot: $<HTMLFormElement>('open-lot'),
  lotTitle: $<HTMLInputElement>('lot-title'),
  lotStart: $<HTMLInputElement>('lot-start'),
  lotIncrement: $<HTMLInputElement>('lot-increment'),
  lotDuration: $<HTMLInputElement>('lot-duration'),
  lotNumber: $<HTMLElement>('lot-number'),
  lotName: $<HTMLElement>('lot-name'),
  price: $<HTMLElement>('price'),
  leader: $<HTMLElement>('leader'),
  countdown: $<HTMLElement>('countdown'),
  extended: $<HTMLElement>('extended'),
  bidMin: $<HTMLButtonElement>('bid-min'),
  bidMore: $<HTMLButtonElement>('bid-more'),
  bidForm: $<HTMLFormElement>('bid-form'),
  bidAmount: $<HTMLInputElement>('bid-amount'),
  bidCustom: $<HTMLButtonElement>('bid-custom'),
  result: $<HTMLElement>('result'),
  ladder: $<HTMLOListElement>('ladder'),
};

const params = new URLSearchParams(location.search);
ui.identity.value = params.get('name') ?? localStorage.getItem('subsec-name') ?? guestName();
if (params.get('room')) ui.room.value = params.get('room')!;
if (params.get('role')) ui.role.value = params.get('role')!;
if (params.get('via')) ui.via.value = params.get('via')!;

const lots = new Map<string, Lot>();
let current: Lot | undefined;
let appliedSeq = 0;
let client: SubsecClient | undefined;
let player: StreamPlayer | undefined;
let watching: string | undefined;
let role = 'bidder';
/** Events as the client received them, so nothing held by a closed player is lost. */
const received: RoomEvent[] = [];
const money = (n: number): string => `$${n.toLocaleString('en-US', { maximumFractionDigits: 2 })}`;

const api: AppApi = {
  shown: [],
  lot: () => current,
  bid: (amount) => bid(amount ?? minimumBid()),
  openLot: (title, startPrice, increment, durationSec) => openLot(title, startPrice, increment, durationSec),
  startCamera: () => startCamera(),
};
(window as unknown as { subsecApp: AppApi }).subsecApp = api;

function minimumBid(): number {
  if (!current) return 0;
  return current.bids[0] ? current.bids[0].amount + current.increment : current.startPrice;
}

/** Applies one room event to the auction state, in sequence order. */
function apply(event: RoomEvent): void {
  if (event.seq <= appliedSeq) return;
  appliedSeq = event.seq;
  api.shown.push({
    seq: event.seq,
    type: event.type,
    mediaTime: event.mediaTime,
    shownAt: client?.clock.now() ?? Date.now(),
    playhead: player?.mediaTime(),
    transport: player?.transport ?? 'none',
  });
  const p = (event.payload ?? {}) as Record<string, any>;
  if (event.type === 'lot.open' && typeof p.lotId === 'string') {
    const lot: Lot = {
      lotId: p.lotId,
      number: lots.size + 1,
      title: p.title,
      startPrice: p.startPrice,
      increment: p.increment,
      endsAt: p.endsAt,
      auctioneer: event.identity,
      bids: [],
      extended: false,
    };
    lots.set(lot.lotId, lot);
    current = lot;
    ui.result.hidden = true;
    ui.extended.hidden = true;
  } else if (event.type === 'bid') {
    const lot = lots.get(p.lotId);
    if (!lot) return;
    lot.bids.unshift({ seq: event.seq, identity: event.identity, amount: p.amount, at: event.serverTime });
    if (typeof p.endsAt === 'number' && p.endsAt > lot.endsAt) {
      lot.endsAt = p.endsAt;
      lot.extended = true;
      ui.extended.hidden = false;
      ui.extended.style.animation = 'none';
      void ui.extended.offsetWidth; // restart the flash
      ui.extended.style.animation = '';
    }
  } else if (event.type === 'lot.closed') {
    const lot = lots.get(p.lotId);
    if (!lot) return;
    lot.closed = { winner: p.winner ?? null, amount: p.amount ?? null, early: !!p.early };
  }
  render();
}

function render(): void {
  const lot = current;
  const me = client?.identity;
  if (!lot) return;
  ui.lotNumber.textContent = `Lot ${lot.number}`;
  ui.lotName.textContent = lot.title;
  const high = lot.bids[0];
  ui.price.textContent = money(high ? high.amount : lot.startPrice);
  ui.leader.textContent = high
    ? `${high.identity === me ? 'You lead' : `${high.identity} leads`} · ${lot.bids.length} bid${lot.bids.length === 1 ? '' : 's'}`
    : 'Starting price — no bids yet';
  const open = !lot.closed && (client?.clock.now() ?? 0) < lot.endsAt;
  const canBid = open && role === 'bidder' && me !== lot.auctioneer;
  const min = minimumBid();
  ui.bidMin.textContent = `Bid ${money(min)}`;
  ui.bidMore.textContent = `Bid ${money(min + 4 * lot.increment)}`;
  for (const b of [ui.bidMin, ui.bidMore, ui.bidCustom]) b.disabled = !canBid;
  ui.bidAmount.disabled = !canBid;
  ui.bidAmount.min = String(min);
  ui.sell.disabled = !open || lot.auctioneer !== me;
  if (lot.closed) {
    ui.result.hidden = false;
    ui.result.textContent = lot.closed.winner
      ? `${lot.closed.early ? 'Sold' : 'Sold at the bell'} to ${lot.closed.winner === me ? 'you' : lot.closed.winner} for ${money(lot.closed.amount ?? 0)}`
      : 'Closed without bids';
  }
  ui.ladder.replaceChildren(
    ...lot.bids.slice(0, 50).map((b) => {
      const li = el('li', '', b.identity === me ? 'mine' : '');
      li.append(el('span', b.identity, 'who'), el('strong', money(b.amount)), el('span', new Date(b.at).toLocaleTimeString(), 'when'));
      return li;
    }),
  );
}

function tick(): void {
  if (client) {
    ui.rtt.textContent = Number.isFinite(client.clock.rttMs) ? `${client.clock.rttMs.toFixed(0)} ms` : '–';
    ui.transport.textContent = player?.transport ?? (role === 'auctioneer' ? 'publishing' : '–');
    ui.latency.textContent = player ? `${Math.round(player.latencyMs)} ms` : '–';
  }
  const lot = current;
  if (!lot || !client) return;
  const left = (lot.endsAt - client.clock.now()) / 1000;
  ui.countdown.textContent = lot.closed || left <= 0 ? 'closed' : clockText(Math.ceil(left));
  ui.countdown.parentElement!.classList.toggle('ending', !lot.closed && left > 0 && left <= 10);
  const wasOpen = !ui.bidMin.disabled;
  if (wasOpen && left <= 0) render();
}

async function bid(amount: number): Promise<string> {
  const lot = current;
  if (!client || !lot) return 'no lot';
  try {
    await client.send('bid', { lotId: lot.lotId, amount }, { idempotencyKey: `${lot.lotId}:${amount}`, ...(player ? { mediaTime: player.mediaTime() } : {}) });
    toast(`Bid ${money(amount)} placed`, true);
    return 'ok';
  } catch (error) {
    const message = error instanceof EventRejectedError ? error.reason : (error as Error).message;
    toast(message);
    return message;
  }
}

async function openLot(title: string, startPrice: number, increment: number, durationSec: number): Promise<string> {
  if (!client) return 'not connected';
  try {
    const lotId = `lot-${Date.now().toString(36)}`;
    await client.send('lot.open', { lotId, title, startPrice, increment, durationSec }, { idempotencyKey: lotId });
    return lotId;
  } catch (error) {
    const message = error instanceof EventRejectedError ? error.reason : (error as Error).message;
    toast(message);
    return message;
  }
}

async function startCamera(): Promise<void> {
  if (!client) return;
  ui.camera.disabled = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
    ui.video.srcObject = stream;
    ui.video.muted = true;
    // H264 without simulcast: the LL-HLS ladder can then copy it instead of transcoding.
    await client.publish(stream, { simulcast: false, codec: 'H264', appData: { source: 'auctioneer' } });
    ui.badge.textContent = 'You are live';
    ui.camera.textContent = 'Live';
  } catch (error) {
    ui.camera.disabled = false;
    toast(`Camera: ${(error as Error).message}`);
  }
}

/** How the badge names each delivery path. */
const TRANSPORT_LABEL: Record<TransportName, string> = { webrtc: 'WebRTC', moq: 'MoQ', hls: 'LL-HLS' };

/** Watches the first video publisher (the auctioneer) with the chosen transport policy. */
async function watchAuctioneer(): Promise<void> {
  if (!client || player || watching || role === 'auctioneer') return;
  const source = client.producers.find((p) => p.kind === 'video');
  if (!source) return;
  watching = source.identity;
  ui.badge.textContent = `connecting to ${source.identity}…`;
  const via = ui.via.value as 'auto' | TransportName;
  try {
    const p = await client.watch(source.identity, ui.video, { transport: via });
    player = p;
    api.player = p;
    p.on('event', apply);
    p.on('transport', ({ transport }) => (ui.badge.textContent = `${source.identity} · ${TRANSPORT_LABEL[transport]}`));
    p.on('failed', () => stopWatching());
    ui.badge.textContent = `${source.identity} · ${TRANSPORT_LABEL[p.transport ?? 'webrtc']}`;
  } catch (error) {
    toast(`Video: ${(error as Error).message}`);
    stopWatching();
  }
}

function stopWatching(): void {
  player?.close();
  player = undefined;
  api.player = undefined;
  watching = undefined;
  ui.badge.textContent = 'waiting for the auctioneer…';
  // Events the player was holding for their media time are shown now.
  for (const event of received) apply(event);
}

/** Joins on arrival: a first visit bids as a guest; the form (a GET form) rejoins with other settings. */
function start(): void {
  const identity = ui.identity.value.trim() || guestName();
  const room = ui.room.value.trim() || 'auction-demo';
  role = ui.role.value;
  localStorage.setItem('subsec-name', identity);
  ui.me.textContent = `${identity} (${role})`;
  join(room, identity)
    .then((c) => {
      client = c;
      api.client = c;
      ui.roomLabel.textContent = c.room;
      ui.auctioneer.hidden = role !== 'auctioneer';
      bindStatus(c, ui.status);
      c.on('event', (event) => {
        received.push(event);
        if (received.length > 500) received.shift();
        if (!player) apply(event);
      });
      c.on('producerAdded', () => void watchAuctioneer());
      c.on('producerRemoved', (p) => {
        if (p.identity === watching && !c.producers.some((x) => x.identity === watching)) {
          stopWatching();
          // Another auctioneer may be on camera already (a person taking over from the demo).
          void watchAuctioneer();
        }
      });
      c.on('error', ({ message }) => toast(message));
      void watchAuctioneer();
      setInterval(tick, 250);
    })
    .catch((error: Error) => {
      ui.status.dataset.state = 'failed';
      ui.status.textContent = 'not connected';
      (document.getElementById('join-details') as HTMLDetailsElement).open = true;
      toast(`Could not join: ${error.message}`);
    });
}

ui.unmute.addEventListener('click', () => {
  ui.video.muted = !ui.video.muted;
  setIcon(ui.unmute, ui.video.muted ? 'muted' : 'sound', ui.video.muted ? 'Unmute' : 'Mute');
  void ui.video.play().catch(() => undefined);
});
ui.camera.addEventListener('click', () => void startCamera());
ui.sell.addEventListener('click', () => {
  if (current && client) client.send('lot.closed', { lotId: current.lotId }).catch((e: Error) => toast(e instanceof EventRejectedError ? e.reason : e.message));
});
ui.openLot.addEventListener('submit', (e) => {
  e.preventDefault();
  void openLot(ui.lotTitle.value, Number(ui.lotStart.value), Number(ui.lotIncrement.value), Number(ui.lotDuration.value));
});
ui.bidMin.addEventListener('click', () => void bid(minimumBid()));
ui.bidMore.addEventListener('click', () => void bid(minimumBid() + 4 * (current?.increment ?? 0)));
ui.bidForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const amount = Number(ui.bidAmount.value);
  if (amount > 0) void bid(amount);
});

fillIcons();
start();
