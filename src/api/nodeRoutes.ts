/** `/v1/nodes`: this node and its load (every node of the cluster once the cascade provides them). */
import type { ApiRouter } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { nodeListSchema } from './schemas';

/** Registers the node routes. */
export function registerNodeRoutes(api: ApiRouter, deps: ApiDeps): void {
  api.add({
    method: 'GET',
    path: '/v1/nodes',
    operationId: 'listNodes',
    tag: 'nodes',
    auth: 'admin',
    summary: 'List nodes with their load',
    responses: { 200: { description: 'The nodes', schema: nodeListSchema } },
    handler: async () => ({ status: 200, body: { nodes: await deps.listNodes() } }),
  });
}
