import type { FastifyInstance } from 'fastify';
import { stateRoutes } from './routes.js';
import { createStateService, type StateServiceDeps } from './service.js';

/** Export, plan and apply of the declarative state (issue #19), through the other modules' services. */
export function createStateModule(deps: StateServiceDeps) {
  const service = createStateService(deps);
  return {
    service,
    routes: (api: FastifyInstance) => api.register(stateRoutes, { state: service }),
  };
}
