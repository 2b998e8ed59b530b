/** `/healthz` (process alive), `/readyz` (workers up, not draining) and `/metrics`. */
import type { HttpServer } from '../http/HttpServer';
import { json } from '../http/HttpServer';
import type { SfuMetrics } from '../metrics/SfuMetrics';
import type { WorkerPool } from '../sfu/WorkerPool';

/** Registers the health and metrics routes. */
export function registerHealthRoutes(http: HttpServer, deps: { pool: WorkerPool; metrics: SfuMetrics; isDraining: () => boolean }): void {
  http.route('GET', '/healthz', () => json(200, { status: 'ok' }));
  http.route('GET', '/readyz', () => {
    const workers = deps.pool.workers.length;
    if (deps.isDraining()) return json(503, { status: 'draining', workers });
    if (workers === 0) return json(503, { status: 'no-workers', workers });
    return json(200, { status: 'ready', workers });
  });
  http.route('GET', '/metrics', async () => {
    const { contentType, body } = await deps.metrics.render();
    return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body };
  });
}
