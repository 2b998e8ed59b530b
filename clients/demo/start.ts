/**
 * The start page served at `/`: the node's synthetic stream played side by side over WebRTC, MoQ
 * and LL-HLS, each with the latency, startup time and bitrate this browser measures
 * ({@link PathTile}), and links to the apps, the QoE dashboard, the API reference and the docs.
 * Bundled by scripts/build-sdk.mjs into clients/dist/start.js.
 *
 * For tests: `window.subsecStart` exposes the client and the tiles.
 */
import { connect, type SubsecClient } from '../sdk/src/index';
import { fillIcons } from '../apps/shared/icons';
import { PathTile } from './PathTile';

/** What `GET /demo/info` answers (src/demo/demoRoutes.ts). */
interface DemoInfo {
  synthetic: { room: string; identity: string } | null;
  moq: boolean;
  hls: boolean;
  qoeDashboard: boolean;
}

interface StartApi {
  client?: SubsecClient;
  tiles: PathTile[];
}

const api: StartApi = { tiles: [] };
(window as unknown as { subsecStart: StartApi }).subsecStart = api;

const status = document.getElementById('status')!;
const notice = document.getElementById('notice')!;

function setStatus(state: string, text = state): void {
  status.dataset.state = state;
  status.textContent = text;
}

function say(text: string): void {
  notice.textContent = text;
  notice.hidden = false;
}

async function main(): Promise<void> {
  fillIcons();
  const info = (await (await fetch('/demo/info')).json()) as DemoInfo;
  if (!info.qoeDashboard) document.getElementById('qoe-link')!.hidden = true;
  const tiles = [...document.querySelectorAll<HTMLElement>('.path')];
  if (!info.synthetic) {
    setStatus('closed', 'no test stream');
    say('This node runs no synthetic stream (synthetic.enabled is off), so there is nothing to play here. The apps below still work.');
    for (const root of tiles) root.dataset.state = 'off';
    return;
  }
  const { room, identity } = info.synthetic;
  const viewer = `viewer-${Math.random().toString(36).slice(2, 7)}`;
  const res = await fetch(`/demo/token?room=${encodeURIComponent(room)}&identity=${encodeURIComponent(viewer)}`);
  if (!res.ok) throw new Error(`token request failed (HTTP ${res.status}): ${await res.text()}`);
  const { token, iceServers } = (await res.json()) as { token: string; iceServers?: RTCIceServer[] };
  setStatus('connecting');
  const client = await connect(location.origin, token, { displayName: viewer, ...(iceServers?.length ? { iceServers } : {}) });
  api.client = client;
  setStatus(client.state);
  client.on('stateChanged', ({ state }) => setStatus(state));
  const clockError = document.getElementById('clock-error')!;
  setInterval(() => {
    const ms = client.clock.uncertaintyMs;
    clockError.textContent = Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : '–';
  }, 1000);
  for (const root of tiles) {
    const tile = new PathTile(root, client, identity);
    api.tiles.push(tile);
    if (tile.path === 'moq' && !client.moqSessionUrl()) tile.off('MoQ is off on this node (moq.enabled)');
    else if (tile.path === 'hls' && !info.hls) tile.off('LL-HLS is off on this node (hls.enabled)');
    else void tile.start();
  }
}

main().catch((error: unknown) => {
  setStatus('failed');
  say(`The start page could not connect: ${error instanceof Error ? error.message : String(error)}`);
});
