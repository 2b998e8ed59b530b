/**
 * The API reference as a page: `GET /v1/docs` renders the node's own OpenAPI document
 * (`/v1/openapi.json`) with Swagger UI, served from the installed `swagger-ui-dist` package at
 * `/v1/docs/assets/…` — nothing is fetched from elsewhere (the spec validator badge is off).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { HttpServer } from '../http/HttpServer';
import { NotFoundError } from '../core/errors';
import { projectRoot } from '../config/loadConfig';

/** The files of swagger-ui-dist the page loads, with their content types. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** The page; `demo` adds links to the start page and the docs (served only with `http.demo`). */
const page = (demo: boolean): string => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>API reference · subsec</title>
    <link rel="icon" href="/v1/docs/assets/favicon-32x32.png" />
    <link rel="stylesheet" href="/v1/docs/assets/swagger-ui.css" />
    <style>
      body { margin: 0; font-family: system-ui, sans-serif; }
      .top { display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; align-items: center; padding: 0.6rem 1rem; background: #12151b; color: #e9ecf1; }
      .top a { color: #ffb020; }
      .top strong { font-size: 1.1rem; }
      .swagger-ui .wrapper { padding: 0 0.75rem; }
      .swagger-ui .opblock .opblock-summary { flex-wrap: wrap; }
      .swagger-ui .opblock .opblock-summary-path, .swagger-ui .opblock .opblock-summary-description { word-break: break-word; min-width: 0; }
      .swagger-ui pre, .swagger-ui .microlight { white-space: pre-wrap; word-break: break-word; }
      .swagger-ui table { table-layout: fixed; width: 100%; }
      .swagger-ui .info .title small pre { white-space: normal; }
    </style>
  </head>
  <body>
    <nav class="top" aria-label="subsec"><strong>subsec API</strong>${demo ? '<a href="/">Start page</a>' : ''}<a href="/v1/openapi.json">openapi.json</a>${demo ? '<a href="/docs/api.md">docs/api.md</a>' : ''}</nav>
    <main id="swagger-ui"></main>
    <script src="/v1/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/v1/docs/init.js"></script>
  </body>
</html>
`;

const INIT = `// Renders the node's OpenAPI document; no validator badge (it would call an outside service).
window.ui = SwaggerUIBundle({
  url: '/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/** Where swagger-ui-dist is installed. */
function swaggerUiDir(): string {
  const require = createRequire(path.join(projectRoot, 'package.json'));
  return path.dirname(require.resolve('swagger-ui-dist/package.json'));
}

/** Registers `GET /v1/docs`, its script and the Swagger UI assets; `demo`: link the start page and docs. */
export function registerApiDocsRoutes(http: HttpServer, demo: boolean): void {
  const dir = swaggerUiDir();
  const PAGE = page(demo);
  const html = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' };
  http.route('GET', '/v1/docs', () => ({ status: 200, headers: html, body: PAGE }));
  http.route('GET', '/v1/docs/', () => ({ status: 200, headers: html, body: PAGE }));
  http.route('GET', '/v1/docs/init.js', () => ({
    status: 200,
    headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' },
    body: INIT,
  }));
  http.route('GET', '/v1/docs/assets/:file', async (req) => {
    const name = req.params['file'] ?? '';
    const type = ASSETS[name];
    if (!type) throw new NotFoundError(`no asset ${name}`);
    return { status: 200, headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' }, body: await fs.readFile(path.join(dir, name)) };
  });
}
