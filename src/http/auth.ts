import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { hasScope } from '../lib/request-ctx.js';
import type { Principal } from '../lib/request-ctx.js';

/** Resolves a bearer secret (`gth_…` token or `gts_…` session) to a principal, or null. */
export type Authenticator = (secret: string) => Promise<Principal | null>;

const BEARER = /^Bearer[ ]+(\S{1,256})[ ]*$/i;

/**
 * onRequest hook 1: identifies the caller from `Authorization: Bearer <token>` and builds `request.ctx`.
 * It never answers; `requireScope` decides. Sets `Gatehouse-Token-Expires-At` for a token.
 */
export function authenticate(resolve: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    let principal = null;
    if (header !== undefined) {
      const secret = BEARER.exec(header)?.[1];
      principal = secret ? await resolve(secret) : null;
    }
    request.principal = principal;
    request.authFailure = principal ? null : header === undefined ? 'missing' : 'invalid';
    request.ctx = {
      requestId: request.id,
      ip: request.ip ?? null,
      userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
      principal,
    };
    if (principal?.expiresAt) reply.header('gatehouse-token-expires-at', new Date(principal.expiresAt).toISOString());
  };
}

/**
 * onRequest hook 3: 401 without a principal (with `WWW-Authenticate`), 403 without the route's scope
 * (naming it in `required_permission`). A route without `config.scope` (the /api not-found handler)
 * needs any valid token.
 */
export function requireScope() {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const scope = request.routeOptions.config.scope ?? 'token';
    if (scope === 'public') return;
    if (!request.principal) {
      const invalid = request.authFailure === 'invalid';
      reply.header('www-authenticate', invalid ? 'Bearer error="invalid_token"' : 'Bearer');
      throw new AppError(
        'unauthenticated',
        invalid
          ? 'The token is malformed, unknown, revoked or expired. Create a new one, or sign in again.'
          : 'Send a token: Authorization: Bearer <token>.',
      );
    }
    if (scope === 'token') return;
    if (scope === 'session' && request.principal.tokenKind === 'session') return;
    if (!hasScope(request.principal.scopes, scope)) {
      throw new AppError('forbidden', `This token lacks the ${scope} permission.`, { required_permission: scope });
    }
  };
}
