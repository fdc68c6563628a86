import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Page } from '../../lib/pagination.js';
import {
  ConfigChange,
  ConfigDocument,
  ConfigVersion,
  DryRunQuery,
  HistoryQuery,
  IfMatchHeaders,
  RollbackBody,
  VersionParams,
} from './schemas.js';
import { etagOf, type ConfigService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';

export const configRoutes: FastifyPluginAsyncTypebox<{ config: ConfigService }> = async (app, { config }) => {
  getConfigRoute(app, config);
  replaceConfigRoute(app, config);
  patchConfigRoute(app, config);
  listConfigHistoryRoute(app, config);
  getConfigVersionRoute(app, config);
  getConfigSchemaRoute(app);
  rollbackConfigRoute(app, config);
};

function getConfigRoute(app: RouteApp, config: ConfigService): void {
  app.get(
    '/',
    {
      config: { scope: 'config:read', action: 'config.read' },
      schema: {
        operationId: 'getConfig',
        tags: ['config'],
        summary: 'The current settings, with their version as a strong ETag',
        response: { 200: ConfigDocument },
      },
    },
    async (_req, reply) => {
      const { version, document } = config.get();
      return reply.header('etag', etagOf(version)).send(document);
    },
  );
}

function replaceConfigRoute(app: RouteApp, config: ConfigService): void {
  app.put(
    '/',
    {
      config: { scope: 'config:write', action: 'config.update' },
      schema: {
        operationId: 'replaceConfig',
        tags: ['config'],
        summary: 'Replace the settings (If-Match: 412 when stale; dry_run validates only)',
        querystring: DryRunQuery,
        headers: IfMatchHeaders,
        body: ConfigDocument,
        response: { 200: ConfigChange },
      },
    },
    async (req, reply) => {
      const result = await config.replace(
        req.ctx,
        req.body,
        req.headers['if-match'],
        req.query.dry_run ?? false,
      );
      return reply
        .header('etag', etagOf(result.dry_run ? config.get().version : result.version))
        .send(result);
    },
  );
}

function patchConfigRoute(app: RouteApp, config: ConfigService): void {
  app.patch(
    '/',
    {
      config: { scope: 'config:write', action: 'config.update' },
      schema: {
        operationId: 'patchConfig',
        tags: ['config'],
        summary: 'Change the settings with a JSON Merge Patch (RFC 7396)',
        consumes: ['application/merge-patch+json', 'application/json'],
        querystring: DryRunQuery,
        headers: IfMatchHeaders,
        body: Type.Object(
          {},
          {
            additionalProperties: true,
            description: 'A merge patch: objects merge, null removes (back to the default).',
          },
        ),
        response: { 200: ConfigChange },
      },
    },
    async (req, reply) => {
      const result = await config.patch(
        req.ctx,
        req.body,
        req.headers['if-match'],
        req.query.dry_run ?? false,
      );
      return reply
        .header('etag', etagOf(result.dry_run ? config.get().version : result.version))
        .send(result);
    },
  );
}

function listConfigHistoryRoute(app: RouteApp, config: ConfigService): void {
  app.get(
    '/history',
    {
      config: { scope: 'config:read', action: 'config.history' },
      schema: {
        operationId: 'listConfigHistory',
        tags: ['config'],
        summary: 'Every version, newest first, with its diff',
        querystring: HistoryQuery,
        response: { 200: Page(ConfigVersion, 'ConfigVersionPage') },
      },
    },
    async (req) => config.history(req.query),
  );
}

function getConfigVersionRoute(app: RouteApp, config: ConfigService): void {
  app.get(
    '/versions/:v',
    {
      config: { scope: 'config:read', action: 'config.read_version' },
      schema: {
        operationId: 'getConfigVersion',
        tags: ['config'],
        summary: 'The settings as they were at a version',
        params: VersionParams,
        response: { 200: ConfigDocument },
      },
    },
    async (req, reply) => reply.header('etag', etagOf(req.params.v)).send(await config.version(req.params.v)),
  );
}

function getConfigSchemaRoute(app: RouteApp): void {
  app.get(
    '/schema',
    {
      config: { scope: 'config:read', action: 'config.read_schema' },
      schema: {
        operationId: 'getConfigSchema',
        tags: ['config'],
        summary: 'The JSON Schema of the settings document',
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => ConfigDocument,
  );
}

function rollbackConfigRoute(app: RouteApp, config: ConfigService): void {
  app.post(
    '/rollback',
    {
      config: { scope: 'config:write', action: 'config.update' },
      schema: {
        operationId: 'rollbackConfig',
        tags: ['config'],
        summary: 'Write a new version equal to an old one',
        headers: IfMatchHeaders,
        body: RollbackBody,
        response: { 200: ConfigChange },
      },
    },
    async (req, reply) => {
      const result = await config.rollback(req.ctx, req.body.version, req.headers['if-match']);
      return reply.header('etag', etagOf(result.version)).send(result);
    },
  );
}
