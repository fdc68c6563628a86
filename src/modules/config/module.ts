import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import { configRoutes } from './routes.js';
import { createConfigService } from './service.js';
import { createConfigStore } from './store.js';

export function createConfigModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  clock: Clock;
  logger: Logger;
  pollMs?: number;
}) {
  const service = createConfigService({ ...deps, store: createConfigStore() });
  return {
    service,
    routes: (api: FastifyInstance) => api.register(configRoutes, { prefix: '/config', config: service }),
  };
}
