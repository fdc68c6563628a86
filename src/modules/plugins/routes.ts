import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CountedPage } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import {
  ConfigBody,
  DryRunQuery,
  ListQuery,
  Plugin,
  PluginWithSecret,
  RegisterPluginBody,
} from './schemas.js';
import type { PluginsService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';
import { locationOf } from '../../http/location.js';

export const pluginsRoutes: FastifyPluginAsyncTypebox<{ plugins: PluginsService }> = async (
  app,
  { plugins },
) => {
  listPluginsRoute(app, plugins);
  registerPluginRoute(app, plugins);
  getPluginRoute(app, plugins);
  configurePluginRoute(app, plugins);
  enablePluginRoute(app, plugins);
  disablePluginRoute(app, plugins);
  unregisterPluginRoute(app, plugins);
};

function listPluginsRoute(app: RouteApp, plugins: PluginsService): void {
  app.get(
    '/',
    {
      config: { scope: 'plugins:read', action: 'plugin.list' },
      schema: {
        operationId: 'listPlugins',
        tags: ['plugins'],
        summary: 'Registered plugins with their health',
        querystring: ListQuery,
        response: { 200: CountedPage(Plugin, 'PluginPage') },
      },
    },
    async (req) => plugins.list(req.query),
  );
}

function registerPluginRoute(app: RouteApp, plugins: PluginsService): void {
  app.post(
    '/',
    {
      config: { scope: 'plugins:write', action: 'plugin.register', location: '/api/plugins/{id}' },
      schema: {
        operationId: 'registerPlugin',
        tags: ['plugins'],
        summary: 'Register an installed module plugin, or a remote http plugin',
        body: RegisterPluginBody,
        response: { 201: PluginWithSecret },
      },
    },
    async (req, reply) => {
      const plugin = await plugins.register(req.ctx, req.body);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .header('location', locationOf(req, plugin))
        .send(plugin);
    },
  );
}

function getPluginRoute(app: RouteApp, plugins: PluginsService): void {
  app.get(
    '/:id',
    {
      config: { scope: 'plugins:read', action: 'plugin.read' },
      schema: {
        operationId: 'getPlugin',
        tags: ['plugins'],
        summary: 'A plugin: manifest, config, health',
        params: IdParams,
        response: { 200: Plugin },
      },
    },
    async (req) => plugins.get(req.params.id),
  );
}

function configurePluginRoute(app: RouteApp, plugins: PluginsService): void {
  app.put(
    '/:id/config',
    {
      config: { scope: 'plugins:write', action: 'plugin.configure' },
      schema: {
        operationId: 'configurePlugin',
        tags: ['plugins'],
        summary: "Replace the config, validated against the plugin's schema",
        params: IdParams,
        querystring: DryRunQuery,
        body: ConfigBody,
        response: { 200: Plugin },
      },
    },
    async (req) => plugins.configure(req.ctx, req.params.id, req.body, req.query.dry_run ?? false),
  );
}

function enablePluginRoute(app: RouteApp, plugins: PluginsService): void {
  app.post(
    '/:id/enable',
    {
      config: { scope: 'plugins:write', action: 'plugin.enable' },
      schema: {
        operationId: 'enablePlugin',
        tags: ['plugins'],
        summary: 'Enable a plugin',
        params: IdParams,
        response: { 200: Plugin },
      },
    },
    async (req) => plugins.enable(req.ctx, req.params.id),
  );
}

function disablePluginRoute(app: RouteApp, plugins: PluginsService): void {
  app.post(
    '/:id/disable',
    {
      config: { scope: 'plugins:write', action: 'plugin.disable' },
      schema: {
        operationId: 'disablePlugin',
        tags: ['plugins'],
        summary: 'Disable a plugin: it is never called while disabled',
        params: IdParams,
        response: { 200: Plugin },
      },
    },
    async (req) => plugins.disable(req.ctx, req.params.id),
  );
}

function unregisterPluginRoute(app: RouteApp, plugins: PluginsService): void {
  app.delete(
    '/:id',
    {
      config: { scope: 'plugins:write', action: 'plugin.unregister' },
      schema: {
        operationId: 'unregisterPlugin',
        tags: ['plugins'],
        summary: 'Unregister a plugin',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Unregistered' }) },
      },
    },
    async (req, reply) => {
      await plugins.unregister(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
}
