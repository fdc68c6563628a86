import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { finishDocument } from './openapi-document.js';
import { Problem } from './problem.js';
import { SIGN_IN_BODY_LIMIT } from './server.js';

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

/**
 * Every route documents the problems it can answer, so clients see the error model in the OpenAPI document.
 * Added in the document only (the swagger `transform`), not to the route's own schema: Fastify compiles a
 * serializer for every response schema of every route at start, and these ten-odd per route were half of the
 * start-up CPU. Problems are plain objects the error handler builds; they need no compiled serializer.
 */
export function withErrorResponses(
  route: Pick<RouteOptions, 'url' | 'config' | 'bodyLimit'>,
  original: RouteOptions['schema'],
): Record<string, unknown> {
  const schema: Record<string, unknown> = { ...(original ?? {}) };
  const responses: Record<string, unknown> = {
    ...((schema.response as Record<string, unknown> | undefined) ?? {}),
  };
  schema.response = responses;
  const isApi = route.url.startsWith('/api');
  const scope = route.config?.scope;
  const isPublic = scope === 'public';
  const add = (status: number, description: string) => {
    responses[String(status)] ??= problem(description);
  };
  if (!isApi) return schema;
  // The permission each operation needs, published so clients (and the route security test) can read it.
  schema['x-required-permission'] = scope ?? 'token';
  // Routes that act on a principal say where it is named; the escalation matrix reads this.
  if (route.config?.principal) schema['x-principal-target'] = route.config.principal;
  // Read (and removed) by finishDocument: the 201s that declare `Location` are those that send it.
  if (route.config?.location) schema['x-location'] = route.config.location;
  if (isPublic) schema.security = [];
  add(400, 'Malformed request: the `errors` member points at each offending field.');
  if (!isPublic) {
    add(401, 'No token, or a malformed, unknown, revoked or expired one.');
    add(403, 'The token lacks the permission named in `required_permission`.');
  }
  if (schema.params) add(404, 'No such resource.');
  if (schema.body) {
    add(409, 'Conflicts with the current state.');
    add(
      413,
      route.bodyLimit === SIGN_IN_BODY_LIMIT
        ? 'The body exceeds 8 KiB (the limit of sign-in routes).'
        : 'The body exceeds 1 MiB.',
    );
    add(415, 'The body is not UTF-8 JSON, or is sent with a Content-Encoding.');
    add(422, 'The request breaks a rule (e.g. a plugin denied it).');
  }
  add(429, 'Rate limited; see `Retry-After`.');
  add(500, 'Unexpected server error; the request id helps find it in the logs.');
  add(503, 'Temporarily unavailable (database busy or unreachable); see `Retry-After`.');
  return schema;
}

/** Every tag an operation uses, declared once with what it groups (the contract test checks none is missing). */
export const API_TAGS = [
  { name: 'auth', description: 'Sign-in (password, second factor, OIDC), sessions and identity providers' },
  { name: 'mfa', description: 'Second factors: TOTP, WebAuthn and recovery codes' },
  { name: 'users', description: 'Human users and service accounts' },
  { name: 'roles', description: 'Roles, their permissions and members' },
  { name: 'tokens', description: 'Scoped API tokens' },
  { name: 'audit', description: 'The hash-chained audit log, its export and its streams' },
  { name: 'events', description: 'The event catalogue' },
  { name: 'webhooks', description: 'Signed event deliveries to HTTP endpoints' },
  { name: 'plugins', description: 'Plugins that veto or observe changes' },
  {
    name: 'config',
    description: 'Versioned settings: read, replace, patch, history and rollback (If-Match)',
  },
  { name: 'state', description: 'The whole declarative state: export, plan and apply' },
  { name: 'meta', description: 'The API description itself' },
  { name: 'ops', description: 'Health, readiness and metrics (no token)' },
];

/** What the document says beyond the routes: the `webhooks` the server sends, and their header parameters. */
export type OpenApiExtras = { webhooks: Record<string, unknown>; parameters: Record<string, unknown> };

/** `@fastify/swagger` builds the OpenAPI 3.1 document from the route schemas; `/docs` renders it. */
export async function registerOpenApi(
  app: FastifyInstance,
  version: string,
  extras: OpenApiExtras,
): Promise<void> {
  await app.register(swagger, {
    transform: ({ schema, url, route }) => ({
      schema: schema?.hide ? schema : withErrorResponses(route, schema),
      url,
    }),
    transformObject: (documentObject) =>
      finishDocument(
        (documentObject as { openapiObject: unknown }).openapiObject,
        extras.parameters,
      ) as never,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse API',
        version,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        description:
          'Admin control plane: users, roles, scoped tokens, plugins and configuration, every change audited. ' +
          'Errors are RFC 9457 problem+json; lists are cursor-paginated (`limit`, `cursor`, `next_cursor`).',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: '`gth_…` API token or `gts_…` session token',
          },
        },
      },
      security: [{ bearer: [] }],
      servers: [{ url: '/', description: 'This server (the document is served by the API it describes)' }],
      tags: API_TAGS,
      // Built whole by modules/events/webhooks-document.ts; finishDocument names their schemas.
      webhooks: extras.webhooks as never,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { deepLinking: true } });
}

/** `GET /api/openapi.json`: public, but inside /api so it is rate limited like everything else there. */
export function openApiRoute(api: FastifyInstance, app: FastifyInstance): void {
  api.get(
    '/openapi.json',
    {
      config: { scope: 'public', action: 'openapi.read' },
      schema: {
        operationId: 'getOpenApi',
        tags: ['meta'],
        security: [],
        summary: 'This OpenAPI 3.1 document',
        response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) },
      },
    },
    async () => app.swagger(),
  );
}
