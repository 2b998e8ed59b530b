/**
 * The pages' icons as inline SVG (24×24, stroked with the text colour), so nothing depends on an
 * emoji font being installed. `icon(name)` gives the markup; `setIcon(button, name, label)` puts
 * one in a button with an accessible name.
 */

const PATHS = {
  logo: '<path d="M4 12h3l2-5 3 10 2-7 1.5 2H20"/>',
  gavel: '<path d="M14 4l6 6M11 7l6 6M12.5 5.5l-4 4M18.5 11.5l-4 4M10.5 11.5L4 18l2 2 6.5-6.5M13 21h8"/>',
  party: '<rect x="3" y="5" width="18" height="12" rx="2"/><path d="M10 9l5 2-5 2zM8 21h8M12 17v4"/>',
  muted: '<path d="M4 9h4l5-4v14l-5-4H4zM17 9l4 6M21 9l-4 6"/>',
  sound: '<path d="M4 9h4l5-4v14l-5-4H4zM17 8.5a5 5 0 0 1 0 7M19.5 6a8.5 8.5 0 0 1 0 12"/>',
  play: '<path d="M7 4.5v15l12-7.5z"/>',
  pause: '<path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z"/>',
  chart: '<path d="M4 20V4M4 20h16M8 16v-5M12 16V8M16 16v-3"/>',
  api: '<path d="M8 7l-5 5 5 5M16 7l5 5-5 5M14 4l-4 16"/>',
  book: '<path d="M4 5a2 2 0 0 1 2-2h13v16H6a2 2 0 0 0-2 2zM4 21V5M8 7h7"/>',
  camera: '<rect x="3" y="6" width="13" height="12" rx="2"/><path d="M16 10l5-3v10l-5-3z"/>',
  refresh: '<path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/>',
} as const;

/** Names of the icons. */
export type IconName = keyof typeof PATHS;

/** SVG markup of an icon (decorative: hidden from screen readers; label its button instead). */
export function icon(name: IconName, className = 'icon'): string {
  return `<svg class="${className}" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`;
}

/** Shows `name` in `button` (replacing its content), named `label` for assistive technology. */
export function setIcon(button: HTMLElement, name: IconName, label: string): void {
  button.innerHTML = icon(name);
  button.setAttribute('aria-label', label);
  button.title = label;
}

/** Fills every `[data-icon]` element of the page with its icon. */
export function fillIcons(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-icon]')) {
    const name = el.dataset.icon as IconName;
    if (name in PATHS) el.innerHTML = icon(name);
  }
}
