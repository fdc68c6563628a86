import type { FastifyInstance } from 'fastify';
import type { RecordAudit } from '../../change.js';
import type { StateSources } from './read.js';
import { stateRoutes } from './routes.js';
import { createStateService } from './service.js';

/** Export and plan of the declarative state (issue #19), read through the other modules' services. */
export function createStateModule(deps: { sources: StateSources; record: RecordAudit }) {
  const service = createStateService(deps);
  return {
    service,
    routes: (api: FastifyInstance) => api.register(stateRoutes, { state: service }),
  };
}
