/**
 * Routes of the start page (clients/demo): `GET /demo/info` tells it what this node offers (the
 * synthetic stream's room and identity, whether MoQ and LL-HLS are on, where the apps live), and
 * `/docs/` shows the project's docs (docs/*.md) as text pages, so the start page can link them on
 * a machine without internet.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { json, type HttpServer } from '../http/HttpServer';
import { NotFoundError } from '../core/errors';

/** What `GET /demo/info` answers. */
export interface DemoInfo {
  /** The synthetic stream, when the node runs one. */
  synthetic: { room: string; identity: string } | null;
  moq: boolean;
  hls: boolean;
  qoeDashboard: boolean;
  /** The demo apps' rooms. */
  apps: { auction: string; watchParty: string };
}

const DOC_NAME = /^[a-z0-9-]+\.md$/;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${escapeHtml(title)} · subsec</title><link rel="stylesheet" href="/apps/shared/apps.css" /><link rel="stylesheet" href="/start.css" /></head>
<body><header class="topbar"><h1><a href="/">subsec</a></h1><nav class="links" aria-label="Docs"><a href="/docs/">Docs</a><a href="/v1/docs">API</a></nav></header>
<main class="doc">${body}</main></body></html>`;
}

/** The first `# ` heading of a markdown file, or its name. */
function titleOf(text: string, name: string): string {
  return /^#\s+(.+)$/m.exec(text)?.[1]?.trim() ?? name;
}

/** Registers `GET /demo/info` and the docs pages at `/docs/`. */
export function registerDemoRoutes(http: HttpServer, info: DemoInfo, docsDir: string): void {
  http.route('GET', '/demo/info', () => json(200, info));
  const index = async (): Promise<{ status: number; headers: Record<string, string>; body: string }> => {
    const names = (await fs.readdir(docsDir)).filter((n) => DOC_NAME.test(n)).sort();
    const items = await Promise.all(
      names.map(
        async (n) =>
          `<li><a href="/docs/${n}">${escapeHtml(titleOf(await fs.readFile(path.join(docsDir, n), 'utf8'), n))}</a> <span class="muted">${n}</span></li>`,
      ),
    );
    return {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8' },
      body: page('Docs', `<h2>Docs</h2><ul class="doc-list">${items.join('')}</ul>`),
    };
  };
  http.route('GET', '/docs', index);
  http.route('GET', '/docs/', index);
  http.route('GET', '/docs/:name', async (req) => {
    const name = req.params['name'] ?? '';
    if (!DOC_NAME.test(name)) throw new NotFoundError(`no doc ${name}`);
    const text = await fs.readFile(path.join(docsDir, name), 'utf8').catch(() => {
      throw new NotFoundError(`no doc ${name}`);
    });
    return {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8' },
      body: page(
        titleOf(text, name),
        `<p class="muted"><a href="/docs/">All docs</a> · ${escapeHtml(name)} (markdown)</p><pre class="markdown">${escapeHtml(text)}</pre>`,
      ),
    };
  });
}
