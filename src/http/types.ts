import type { AppError } from '../errors.js';
import type { Action } from '../modules/events/catalog.js';
import type { Principal, RequestCtx } from '../lib/request-ctx.js';

/** `config.scope` of a route: a permission, any valid token, a console session, or no token at all. */
export type RouteScope = string;

/** How a route names the principal it acts on (see `principal` in the route config). */
export type PrincipalTarget = 'user' | 'token' | 'body_user_id';

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
    /**
     * Where the route names the principal it acts on, for routes under the principal rule: the path's `id`
     * is a user (`user`), or a token whose owner is the principal (`token`), or the body's `user_id` is
     * (`body_user_id`). Published as `x-principal-target`, from which the escalation matrix is generated.
     */
    principal?: PrincipalTarget;
    /** Reachable by a session that must enrol a second factor first (GET /api/me, /api/me/mfa…, logout). */
    beforeMfa?: boolean;
    /**
     * A create route: the path of what it made, `{id}` standing for the answer's `id`. Its 201 carries it as
     * `Location` (`http/location.ts`), a replay of it too, and only such a 201 declares `Location`.
     */
    location?: string;
  }
}
