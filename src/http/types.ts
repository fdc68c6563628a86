import type { AppError } from '../errors.js';
import type { Action } from '../modules/events/catalog.js';
import type { Principal, RequestCtx } from '../lib/request-ctx.js';

/** `config.scope` of a route: a permission, any valid token, a console session, or no token at all. */
export type RouteScope = string;

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestCtx;
    principal: Principal | null;
    /** Why there is no principal: no Authorization header, or one that did not identify a live token. */
    authFailure: 'missing' | 'invalid' | null;
    /** Credentials sent in a refused form (twice, or in the query string): answered 400 by `requireScope`. */
    authRefusal: AppError | null;
  }
  interface FastifyContextConfig {
    scope?: RouteScope;
    action?: Action;
  }
}
