import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { stringify } from 'yaml';
import type { RouteApp } from '../../http/route-app.js';
import { Applied, ExportQuery, Plan, PlanBody, PLAN_BODY_LIMIT, StateDocument } from './schemas.js';
import type { StateService } from './service.js';

export const stateRoutes: FastifyPluginAsyncTypebox<{ state: StateService }> = async (app, { state }) => {
  exportStateRoute(app, state);
  getStateSchemaRoute(app);
  planStateRoute(app, state);
  applyStateRoute(app, state);
};

/** YAML when the client asks for it (and not for JSON first); JSON otherwise. */
function wantsYaml(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((t) => t.split(';')[0]?.trim().toLowerCase());
  const yaml = types.findIndex(
    (t) => t === 'application/yaml' || t === 'application/x-yaml' || t === 'text/yaml',
  );
  const json = types.findIndex((t) => t === 'application/json');
  return yaml >= 0 && (json < 0 || yaml < json);
}

function exportStateRoute(app: RouteApp, state: StateService): void {
  app.get(
    '/export',
    {
      config: { scope: 'config:read', action: 'config.export' },
      schema: {
        operationId: 'exportState',
        tags: ['state'],
        summary: 'The declarative state as one document (JSON, or YAML with Accept: application/yaml)',
        querystring: ExportQuery,
        response: {
          200: {
            description: 'Every item keyed by its name, sorted; no secret. Equal states give equal bytes.',
            content: {
              'application/json': { schema: StateDocument },
              'application/yaml': { schema: Type.String() },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const doc = await state.export(req.ctx, req.query.include === 'users');
      reply.header('vary', 'accept').header('cache-control', 'no-store');
      if (wantsYaml(req.headers.accept))
        return reply.type('application/yaml; charset=utf-8').send(stringify(doc));
      // Serialized here, not by the response schema, so the keys keep their sorted order.
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(doc));
    },
  );
}

function getStateSchemaRoute(app: RouteApp): void {
  app.get(
    '/export/schema',
    {
      config: { scope: 'config:read', action: 'config.export_schema' },
      schema: {
        operationId: 'getStateSchema',
        tags: ['state'],
        summary: 'The JSON Schema of the export document (what POST /api/plan accepts)',
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => ({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...StateDocument }),
  );
}

function planStateRoute(app: RouteApp, state: StateService): void {
  app.post(
    '/plan',
    {
      bodyLimit: PLAN_BODY_LIMIT,
      config: { scope: 'config:read', action: 'config.plan' },
      schema: {
        operationId: 'planState',
        tags: ['state'],
        summary: 'What applying a document would change (writes nothing)',
        body: PlanBody,
        response: { 200: Plan },
      },
    },
    async (req) => state.plan(req.ctx, req.body),
  );
}

function applyStateRoute(app: RouteApp, state: StateService): void {
  app.post(
    '/apply',
    {
      bodyLimit: PLAN_BODY_LIMIT,
      config: { scope: 'config:write', action: 'config.apply' },
      schema: {
        operationId: 'applyState',
        tags: ['state'],
        summary: 'Apply a document atomically (If-Match: the snapshot of the plan reviewed)',
        description:
          'Every change through its own service in one transaction, each its own audit event, tied by one `config.apply` event; a plugin veto or any failure changes nothing and names the resource. Needs the write permission of each kind changed. 428 without If-Match, 412 when the state moved since the plan.',
        body: PlanBody,
        response: { 200: Applied },
      },
    },
    async (req, reply) =>
      reply
        .header('cache-control', 'no-store')
        .send(await state.apply(req.ctx, req.body, req.headers['if-match'])),
  );
}
