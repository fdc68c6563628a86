import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import { rolesRoutes, userRolesRoutes } from './routes.js';
import { createRolesService } from './service.js';
import { createRolesStore } from './store.js';

export function createRolesModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  ids: Ids;
  clock: Clock;
  onAccessChange: () => void;
}) {
  const service = createRolesService({ ...deps, store: createRolesStore() });
  return {
    service,
    routes: async (api: FastifyInstance) => {
      await api.register(rolesRoutes, { prefix: '/roles', roles: service });
      await api.register(userRolesRoutes, { prefix: '/users', roles: service });
    },
  };
}
