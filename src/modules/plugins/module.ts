import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { PluginHost } from '../../plugins/host.js';
import type { ConfigDocument } from '../config/schemas.js';
import { pluginsRoutes } from './routes.js';
import { createPluginsService } from './service.js';

export function createPluginsModule(deps: { db: Kysely<Tables>; change: Change; ids: Ids; clock: Clock; host: PluginHost; settings: () => ConfigDocument; exportsDir: string }) {
  const service = createPluginsService(deps);
  return { service, routes: (api: FastifyInstance) => api.register(pluginsRoutes, { prefix: '/plugins', plugins: service }) };
}
