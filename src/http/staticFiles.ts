/** Serves files from a directory under a URL prefix (demo page, SDK bundle). */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { HttpServer } from './HttpServer';
import { NotFoundError } from '../core/errors';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Registers `GET <prefix>/*` serving files of `dir` (index.html for directories). */
export function serveStatic(http: HttpServer, prefix: string, dir: string): void {
  const root = path.resolve(dir);
  const pattern = prefix === '/' ? '/*' : `${prefix.replace(/\/$/, '')}/*`;
  http.route('GET', pattern, async (req) => {
    let rel = req.params['*'] ?? '';
    try {
      rel = decodeURIComponent(rel);
    } catch {
      throw new NotFoundError('not found');
    }
    let file = path.resolve(root, rel || 'index.html');
    if (file !== root && !file.startsWith(root + path.sep)) throw new NotFoundError('not found');
    let stat = await fs.stat(file).catch(() => undefined);
    if (stat?.isDirectory()) {
      file = path.join(file, 'index.html');
      stat = await fs.stat(file).catch(() => undefined);
    }
    if (!stat?.isFile()) throw new NotFoundError(`no file ${rel}`);
    const body = await fs.readFile(file);
    return {
      status: 200,
      headers: { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' },
      body,
    };
  });
}
