import type { FastifyInstance, RouteOptions } from 'fastify';
import { AppError } from '../errors.js';
import { auditDenial, type AuditDenialDeps } from './audit-denial.js';
import { authenticate, requireScope, type Authenticator } from './auth.js';

export type PipelineDeps = { authenticate: Authenticator; denial: AuditDenialDeps };

/** Every hook an /api request passes through, in execution order. Keep this file short. */
export function registerPipeline(api: FastifyInstance, deps: PipelineDeps): void {
  api.addHook('onRoute', requireRouteConfig); //          at startup: every route names its scope and action
  api.addHook('onRequest', authenticate(deps.authenticate)); // 1. who: request.principal or null; never answers
  // 2. rate limit per token, else per IP (the config issue adds it here)
  api.addHook('onRequest', requireScope()); //            3. 401 without a principal, 403 without the scope
  // 4. Fastify parses and validates params, query and body (400 problem)
  // 5. handler → one service call → change() for writes
  api.addHook('onError', auditDenial(deps.denial)); //    6. one audit row per 401/403

  // Unknown /api paths pass the same hooks, so they need a token and are audited and limited too.
  api.setNotFoundHandler(async (request) => {
    throw new AppError('not_found', `No route ${request.method} ${request.url.split('?')[0]}. See /api/openapi.json.`);
  });
}

/** Fails startup when an /api route does not declare `config.scope` and `config.action`. */
function requireRouteConfig(route: RouteOptions): void {
  const config = route.config as { scope?: string; action?: string } | undefined;
  if (!config?.scope || !config.action) {
    throw new Error(`Route ${String(route.method)} ${route.url} must declare config.scope and config.action`);
  }
}
