import { redactUrl } from '../lib/url-secrets.js';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { RecordAudit } from '../change.js';
import { AppError } from '../errors.js';
import type { ConfigDocument } from '../modules/config/schemas.js';
import { auditDenial, type AuditDenialDeps } from './audit-denial.js';
import { authenticate, requireScope, type Authenticator } from './auth.js';
import { byUsername, bySsoTicket, loginLimit, rateLimit } from './rate-limit.js';
import type { createIdempotency } from './idempotency.js';
import { SIGN_IN_BODY_LIMIT } from './server.js';

export type PipelineDeps = {
  authenticate: Authenticator;
  limits: () => ConfigDocument['rate_limits'];
  denial: AuditDenialDeps;
  readAudit: { record: RecordAudit; enabled: () => boolean; logger: Logger };
  idempotency: ReturnType<typeof createIdempotency>;
};

/** Every hook an /api request passes through, in execution order. Keep this file short. */
export function registerPipeline(
  api: FastifyInstance,
  deps: PipelineDeps,
): { loginLimit: ReturnType<typeof loginLimit>; ticketLimit: ReturnType<typeof loginLimit> } {
  api.addHook('onRoute', requireRouteConfig); //               at startup: every route names its scope and action
  api.addHook('onRequest', authenticate(deps.authenticate)); // 1. who: request.principal or null; never answers
  api.addHook('onRequest', rateLimit(api, deps.limits)); //    2. per token, else per IP: RateLimit fields; 429
  api.addHook('onRequest', requireScope()); //                 3. 401 without a principal, 403 without the scope
  // 4. Fastify parses and validates params, query and body (400 problem); login adds its own limit here
  // 5. handler → one service call → change() for writes
  api.addHook('preHandler', deps.idempotency.preHandler); //   4b. Idempotency-Key: replay, 409 or 422
  api.addHook('onError', auditDenial(deps.denial)); //         6. one audit row per 401/403
  api.addHook('onResponse', deps.idempotency.onResponse); //   a failed request frees its key
  api.addHook('onResponse', auditRead(deps.readAudit)); //     7. with audit.log_reads: one row per successful read

  // Unknown /api paths pass the same hooks, so they need a token and are audited and limited too.
  api.setNotFoundHandler(async (request) => {
    throw new AppError(
      'not_found',
      `No route ${request.method} ${redactUrl(request.url.split('?')[0] ?? '')}. See /api/openapi.json.`,
    );
  });
  return {
    loginLimit: loginLimit(api, deps.limits, byUsername),
    ticketLimit: loginLimit(api, deps.limits, bySsoTicket),
  };
}

/** Fails startup when an /api route does not declare `config.scope` and `config.action`. */
function requireRouteConfig(route: RouteOptions): void {
  const config = route.config as { scope?: string; action?: string } | undefined;
  if (!config?.scope || !config.action) {
    throw new Error(`Route ${String(route.method)} ${route.url} must declare config.scope and config.action`);
  }
  // A route anyone may call (sign-in) reads at most a sign-in's worth of body: 8 KiB, not 1 MiB.
  if (config.scope === 'public') route.bodyLimit ??= SIGN_IN_BODY_LIMIT;
}

/**
 * Successful reads are audited when the settings ask for it; reads of the audit log always are (by its
 * service). A callback hook: with `audit.log_reads` off (the default) a response costs a call, not a promise.
 */
function auditRead({ record, enabled, logger }: PipelineDeps['readAudit']) {
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const action = request.routeOptions.config.action;
    if (!enabled() || request.method !== 'GET' || reply.statusCode >= 400 || !action || request.ctx.audited)
      return done();
    const id = (request.params as { id?: unknown } | undefined)?.id;
    record(request.ctx, {
      action,
      target: typeof id === 'string' ? { type: action.split('.')[0] ?? 'unknown', id } : null,
      outcome: 'success',
    })
      .catch((err: unknown) => logger.error({ err }, 'could not audit a read'))
      .finally(done);
  };
}
