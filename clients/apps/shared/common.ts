/**
 * What the watch-party and auction apps share: joining with a demo token, the connection pill,
 * RTT/latency read-outs and toasts.
 */
import { connect, type ConnectOptions, type SubsecClient } from '../../sdk/src/index';

/** `document.getElementById` that fails loudly when the page lacks the element. */
export function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
}

/** Gets a token for `identity` in `room` from the node's demo endpoint and connects. */
export async function join(room: string, identity: string, options: ConnectOptions = {}): Promise<SubsecClient> {
  const res = await fetch(`/demo/token?room=${encodeURIComponent(room)}&identity=${encodeURIComponent(identity)}`);
  if (!res.ok) throw new Error(`token request failed (${res.status}): ${await res.text()}`);
  const { token, iceServers } = (await res.json()) as { token: string; iceServers?: RTCIceServer[] };
  return connect(location.origin, token, { displayName: identity, ...(iceServers?.length ? { iceServers } : {}), ...options });
}

/** Keeps a `.pill` element showing the client's connection state. */
export function bindStatus(client: SubsecClient, pill: HTMLElement): void {
  const show = (state: string): void => {
    pill.dataset.state = state;
    pill.textContent = state;
  };
  show(client.state);
  client.on('stateChanged', ({ state }) => show(state));
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
/** Shows a short message at the bottom of the page. */
export function toast(message: string, ok = false): void {
  let el = document.querySelector<HTMLDivElement>('.toast');
  if (!el) {
    el = document.createElement('div');
    el.className = 'toast';
    el.setAttribute('role', 'status');
    document.body.append(el);
  }
  el.textContent = message;
  el.classList.toggle('ok', ok);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el!.hidden = true), 3500);
}

/** A name for a first visit. */
export function guestName(): string {
  return `guest-${Math.random().toString(36).slice(2, 6)}`;
}

/** `m:ss` of seconds. */
export function clockText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Text of an element made safe: never innerHTML user input. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = '', className = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}
