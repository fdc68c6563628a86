import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, fieldError } from '../errors.js';
import { hasScope } from '../lib/request-ctx.js';
import type { Principal } from '../lib/request-ctx.js';
import { secretQueryParam } from '../lib/url-secrets.js';

/** Resolves a bearer secret (`gth_…` token or `gts_…` session) to a principal, or null. */
export type Authenticator = (secret: string) => Promise<Principal | null>;

const BEARER = /^Bearer[ ]+(\S{1,256})[ ]*$/i;

/** How many times a header was sent: Node keeps only the first `Authorization` and drops the others. */
function occurrences(rawHeaders: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === name) n++;
  return n;
}

/**
 * Credentials sent in a form we refuse whatever the route: two `Authorization` headers (which one counts
 * would depend on the proxy in front), or a token in the query string (logged and cached along the way).
 */
function refusedCredentials(request: FastifyRequest, header: string | undefined): AppError | null {
  if (header !== undefined && occurrences(request.raw.rawHeaders, 'authorization') > 1) {
    return fieldError('headers', '/authorization', 'Send one Authorization header, not several.');
  }
  const param = secretQueryParam(request.query);
  if (param !== undefined) {
    return fieldError(
      'query',
      `/${param}`,
      'Credentials are refused in the URL; send the token as Authorization: Bearer <token>, and rotate it.',
    );
  }
  return null;
}

/**
 * onRequest hook 1: identifies the caller from `Authorization: Bearer <token>` and builds `request.ctx`.
 * It never answers; `requireScope` decides (credentials sent twice or in the URL are kept in
 * `request.authRefusal` and never looked up). Sets `Gatehouse-Token-Expires-At` for a token.
 */
export function authenticate(resolve: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization;
    const refusal = refusedCredentials(request, header);
    let principal = null;
    if (header !== undefined && !refusal) {
      const secret = BEARER.exec(header)?.[1];
      principal = secret ? await resolve(secret) : null;
    }
    request.principal = principal;
    request.authRefusal = refusal;
    request.authFailure = principal ? null : header === undefined ? 'missing' : 'invalid';
    request.ctx = {
      requestId: request.id,
      ip: request.ip ?? null,
      userAgent: request.headers['user-agent']?.slice(0, 512) ?? null,
      principal,
    };
    if (principal?.expiresAt)
      reply.header('gatehouse-token-expires-at', new Date(principal.expiresAt).toISOString());
  };
}

/**
 * onRequest hook 3: 400 for refused credentials (on every route, public ones too), 401 without a principal
 * (with `WWW-Authenticate`), 403 without the route's scope (naming it in `required_permission`). A route
 * without `config.scope` (the /api not-found handler) needs any valid token.
 */
export function requireScope() {
  // A callback hook: a request that passes (nearly all) costs a call, not a promise and a microtask.
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    done(scopeRefusal(request, reply) ?? undefined);
  };
}

/** Why `requireScope` refuses the request (setting `WWW-Authenticate` for a 401), or null. */
function scopeRefusal(request: FastifyRequest, reply: FastifyReply): AppError | null {
  if (request.authRefusal) return request.authRefusal;
  const scope = request.routeOptions.config.scope ?? 'token';
  if (scope === 'public') return null;
  if (!request.principal) {
    const invalid = request.authFailure === 'invalid';
    reply.header('www-authenticate', invalid ? 'Bearer error="invalid_token"' : 'Bearer');
    return new AppError(
      'unauthenticated',
      invalid
        ? 'The token is malformed, unknown, revoked or expired. Create a new one, or sign in again.'
        : 'Send a token: Authorization: Bearer <token>.',
    );
  }
  if (request.principal.mustEnrolMfa && request.routeOptions.config.beforeMfa !== true) {
    return new AppError(
      'mfa_enrollment_required',
      'Your role requires a second factor: enrol one (POST /api/me/mfa/totp or /api/me/mfa/webauthn/register/options) before anything else.',
    );
  }
  if (scope === 'token') return null;
  if (scope === 'session' && request.principal.tokenKind === 'session') return null;
  if (scope === 'session') {
    return new AppError('forbidden', 'Only a console session (gts_…) can do this, not an API token.', {
      required_permission: 'session',
    });
  }
  if (!hasScope(request.principal.scopes, scope)) {
    return new AppError('forbidden', `This token lacks the ${scope} permission.`, {
      required_permission: scope,
    });
  }
  return null;
}
