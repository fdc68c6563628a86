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
import type { PluginsStore } from './store.js';

export { createPluginsStore, type PluginsStore } from './store.js';

/** `store` is shared with the plugin host, which loads enabled plugins and moves their cursors through it. */
export function createPluginsModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  ids: Ids;
  clock: Clock;
  host: PluginHost;
  settings: () => ConfigDocument;
  exportsDir: string;
  store: PluginsStore;
  auditHeadSeq: () => Promise<number>;
}) {
  const service = createPluginsService(deps);
  return {
    service,
    routes: (api: FastifyInstance) => api.register(pluginsRoutes, { prefix: '/plugins', plugins: service }),
  };
}
