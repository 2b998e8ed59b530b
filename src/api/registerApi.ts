/** Registers the whole REST API (`/v1/…`) and its OpenAPI document on the HTTP server. */
import type { HttpServer } from '../http/HttpServer';
import { json } from '../http/HttpServer';
import { ApiRouter } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { registerTokenRoutes } from './tokenRoutes';
import { registerRoomRoutes } from './roomRoutes';
import { registerStreamRoutes } from './streamRoutes';
import { registerNodeRoutes } from './nodeRoutes';
import { registerRecordingRoutes } from './recordingRoutes';
import { registerBanRoutes } from './banRoutes';

/** Registers every API route; returns the router (its `openApiDocument()` is served at `/v1/openapi.json`). */
export function registerApi(http: HttpServer, deps: ApiDeps): ApiRouter {
  const api = new ApiRouter(http, { adminKey: deps.adminKey, tokens: deps.tokens, version: deps.version });
  registerTokenRoutes(api, deps);
  registerRoomRoutes(api, deps);
  registerBanRoutes(api, deps);
  registerStreamRoutes(api, deps);
  registerNodeRoutes(api, deps);
  registerRecordingRoutes(api, deps);
  // Generated per request: routes other features add later are included.
  http.route('GET', '/v1/openapi.json', () => json(200, api.openApiDocument()));
  return api;
}
