/**
 * Declares REST routes once — method, path, zod schemas for parameters, query, body and
 * responses, auth — and derives both the validating handler on the {@link HttpServer} and the
 * OpenAPI 3.1 document (`/v1/openapi.json`) from that declaration, so the two cannot drift.
 */
import { z } from 'zod';
import type { HttpRequest, HttpServer } from '../http/HttpServer';
import { json } from '../http/HttpServer';
import { BadRequestError, UnauthorizedError } from '../core/errors';
import type { TokenService, VerifiedToken } from '../auth/tokens';
import { bearerOf, requireAdmin } from './adminAuth';
import { apiSchemas, errorSchema } from './schemas';

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** Who may call a route: the admin key/admin token, any valid client token, or anyone. */
export type RouteAuth = 'admin' | 'token' | 'none';

/** What a handler gets. */
export interface ApiContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  req: HttpRequest;
  /** The verified client token (routes with auth 'token'). */
  token?: VerifiedToken;
}

/** What a handler returns: a status and a JSON body (or none for 204). */
export interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A route declaration. `path` uses OpenAPI templates: `/v1/rooms/{room}`. */
export interface ApiRouteSpec<P extends Schema | undefined, Q extends Schema | undefined, B extends Schema | undefined> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  params?: P;
  query?: Q;
  body?: B;
  /** Success and error responses by status; error statuses default to the `{code, message}` schema. */
  responses: Record<number, { description: string; schema?: Schema }>;
  handler: (ctx: ApiContext<Out<P>, Out<Q>, Out<B>>) => ApiResult | Promise<ApiResult>;
}

/** Options of {@link ApiRouter}. */
export interface ApiRouterOptions {
  adminKey: string;
  tokens: TokenService;
  /** `info.version` of the document. */
  version: string;
}

type AnySpec = ApiRouteSpec<Schema | undefined, Schema | undefined, Schema | undefined>;

/** The REST API's route table and OpenAPI generator. */
export class ApiRouter {
  readonly #http: HttpServer;
  readonly #options: ApiRouterOptions;
  readonly #specs: AnySpec[] = [];

  constructor(http: HttpServer, options: ApiRouterOptions) {
    this.#http = http;
    this.#options = options;
  }

  /** Declared routes (method and OpenAPI path), in registration order. */
  get routes(): Array<{ method: string; path: string }> {
    return this.#specs.map((s) => ({ method: s.method, path: s.path }));
  }

  /** Declares a route and registers its validating handler. */
  add<P extends Schema | undefined = undefined, Q extends Schema | undefined = undefined, B extends Schema | undefined = undefined>(
    spec: ApiRouteSpec<P, Q, B>,
  ): void {
    this.#specs.push(spec as unknown as AnySpec);
    const pattern = spec.path.replace(/\{([^}]+)\}/g, ':$1');
    this.#http.route(spec.method, pattern, async (req) => {
      let token: VerifiedToken | undefined;
      if (spec.auth === 'admin') await requireAdmin(req, this.#options.adminKey, this.#options.tokens);
      else if (spec.auth === 'token') {
        const credential = bearerOf(req);
        if (!credential) throw new UnauthorizedError('Authorization: Bearer <token> required');
        token = await this.#options.tokens.verify(credential);
      }
      const params = parse('path', spec.params, req.params);
      const query = parse('query', spec.query, Object.fromEntries(req.query.entries()));
      let body: unknown;
      if (spec.body) {
        const text = req.body.toString('utf8');
        let raw: unknown = {};
        if (text.trim().length > 0) {
          try {
            raw = JSON.parse(text);
          } catch {
            throw new BadRequestError('body must be JSON');
          }
        }
        body = parse('body', spec.body, raw);
      }
      const result = await spec.handler({ params, query, body, req, token } as ApiContext<Out<P>, Out<Q>, Out<B>>);
      if (result.body === undefined) return { status: result.status, headers: result.headers };
      return json(result.status, result.body, { 'cache-control': 'no-store', ...result.headers });
    });
  }

  /** The OpenAPI 3.1 document of every declared route. */
  openApiDocument(): Record<string, unknown> {
    const components: Record<string, unknown> = {};
    const convert = (schema: Schema, io: 'input' | 'output') => toSchema(schema, io, components);
    const paths: Record<string, Record<string, unknown>> = {};
    for (const spec of this.#specs) {
      const parameters: unknown[] = [];
      for (const [where, schema] of [
        ['path', spec.params],
        ['query', spec.query],
      ] as const) {
        if (!schema) continue;
        const js = convert(schema, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
        for (const [name, prop] of Object.entries(js.properties ?? {})) {
          const { description, ...rest } = prop;
          parameters.push({
            name,
            in: where,
            required: where === 'path' || (js.required ?? []).includes(name),
            ...(description ? { description } : {}),
            schema: rest,
          });
        }
      }
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(spec.responses)) {
        const schema = r.schema ?? (Number(status) >= 400 ? errorSchema : undefined);
        responses[status] = {
          description: r.description,
          ...(schema ? { content: { 'application/json': { schema: convert(schema, 'output') } } } : {}),
        };
      }
      if (spec.auth !== 'none') {
        responses['401'] ??= { description: 'Missing or invalid credentials', content: { 'application/json': { schema: convert(errorSchema, 'output') } } };
        if (spec.auth === 'admin')
          responses['403'] ??= { description: 'The token has no admin grant', content: { 'application/json': { schema: convert(errorSchema, 'output') } } };
      }
      if (spec.params || spec.query || spec.body) {
        responses['400'] ??= { description: 'Malformed request', content: { 'application/json': { schema: convert(errorSchema, 'output') } } };
      }
      const operation: Record<string, unknown> = {
        operationId: spec.operationId,
        summary: spec.summary,
        ...(spec.description ? { description: spec.description } : {}),
        tags: [spec.tag],
        ...(parameters.length ? { parameters } : {}),
        ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: convert(spec.body, 'input') } } } } : {}),
        responses,
        security: spec.auth === 'admin' ? [{ adminKey: [] }] : spec.auth === 'token' ? [{ clientToken: [] }] : [],
      };
      (paths[spec.path] ??= {})[spec.method.toLowerCase()] = operation;
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'subsec REST API',
        version: this.#options.version,
        description:
          'Admin API of a subsec node. Errors are `{code, message}` JSON with a stable code. Lists are paginated with `limit` and an opaque `cursor` (`nextCursor` of the previous page; null on the last page).',
      },
      paths,
      components: {
        schemas: components,
        securitySchemes: {
          adminKey: { type: 'http', scheme: 'bearer', description: "The node's `auth.adminKey`, or a token with the `admin` grant." },
          clientToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A client token from `POST /v1/tokens`.' },
        },
      },
    };
  }
}

/** Validates one part of a request; the error names the part and the field. */
function parse(where: string, schema: Schema | undefined, value: unknown): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : '';
  const unknownKeys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
  throw new BadRequestError(`${where}${field ? ` ${field}` : ''}: ${issue.message}${unknownKeys}`);
}

/**
 * zod → JSON Schema (2020-12, which OpenAPI 3.1 uses). Schemas named in {@link apiSchemas}
 * become `components.schemas` entries referenced by `$ref`.
 */
function toSchema(schema: Schema, io: 'input' | 'output', components: Record<string, unknown>): unknown {
  const js = z.toJSONSchema(schema, { metadata: apiSchemas, io, unrepresentable: 'any' }) as Record<string, unknown>;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v)) {
        if (k === '$ref' && typeof val === 'string' && val.startsWith('#/$defs/')) out[k] = `#/components/schemas/${val.slice(8)}`;
        else if (k !== '$schema' && k !== '$defs') out[k] = rewrite(val);
      }
      return out;
    }
    return v;
  };
  const defs = (js.$defs ?? {}) as Record<string, unknown>;
  for (const [name, def] of Object.entries(defs)) components[name] ??= rewrite(def);
  const id = apiSchemas.get(schema)?.id;
  if (id) {
    components[id] ??= rewrite(js);
    return { $ref: `#/components/schemas/${id}` };
  }
  return rewrite(js);
}
