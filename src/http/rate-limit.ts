import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { ConfigDocument, Limit } from '../modules/config/schemas.js';
import { LimiterUnavailableError } from './rate-limit-store.js';

/** The limit that applies to a request: its name in the RateLimit fields, its numbers, its counter key. */
export type Policy = { name: string; max: number; windowMs: number; key: string };
type Limits = ConfigDocument['rate_limits'];
type Check = (
  req: FastifyRequest,
) => Promise<{ isExceeded: boolean; remaining: number; ttlInSeconds: number }>;

declare module 'fastify' {
  interface FastifyRequest {
    limitPolicy: Policy | null;
  }
}

const policy = (name: string, limit: Limit, id: string): Policy => ({
  name,
  max: limit.max,
  windowMs: limit.window_s * 1000,
  key: `${name}:${id}`,
});

/** Per token: its own override, else the most generous of its owner's roles', else the default; per IP without one. */
export function policyFor(req: FastifyRequest, limits: Limits): Policy {
  const p = req.principal;
  if (!p) return policy('anonymous', limits.anonymous, normalizeIP(req.ip));
  const own = limits.by_token[p.tokenId];
  if (own) return policy('token', own, p.tokenId);
  const roleLimits = p.roleIds.map((id) => limits.by_role[id]).filter((l): l is Limit => l !== undefined);
  if (roleLimits.length > 0) {
    const best = roleLimits.reduce((a, b) => (b.max / b.window_s > a.max / a.window_s ? b : a));
    return policy('role', best, p.tokenId);
  }
  return policy('default', limits.default, p.tokenId);
}

/** `"name";q=600;w=60` and `"name";r=598;t=41`: the IETF draft's structured fields, appended per policy. */
function addFields(reply: FastifyReply, p: Policy, remaining: number, resetS: number): void {
  const append = (header: string, item: string) => {
    const prev = reply.getHeader(header);
    reply.header(header, prev ? `${String(prev)}, ${item}` : item);
  };
  append('ratelimit-policy', `"${p.name}";q=${p.max};w=${p.windowMs / 1000}`);
  append('ratelimit', `"${p.name}";r=${remaining};t=${resetS}`);
}

/** Counts the request against `p`; sets the fields; 429 over the limit, 503 when the store is closed. */
async function apply(check: Check, req: FastifyRequest, reply: FastifyReply, p: Policy): Promise<void> {
  req.limitPolicy = p;
  let result;
  try {
    result = await check(req);
  } catch (err) {
    if (err instanceof LimiterUnavailableError) {
      // The fields still name the policy; no quota is left until the store answers, as Retry-After says.
      addFields(reply, p, 0, 1);
      throw new AppError(
        'unavailable',
        'The rate limiter cannot reach its store and is set to refuse (store_failure: closed).',
        { retry_after_s: 1 },
      );
    }
    throw err;
  }
  const reset = Math.max(0, result.ttlInSeconds);
  addFields(reply, p, result.remaining, reset);
  if (result.isExceeded) {
    throw new AppError(
      'rate_limited',
      `Over the ${p.name} limit of ${p.max} requests per ${p.windowMs / 1000} s; retry in ${reset} s.`,
      { retry_after_s: reset },
    );
  }
}

/** A limiter from the plugin's `createRateLimit()` whose key and numbers come from `request.limitPolicy`. */
function makeCheck(app: FastifyInstance): Check {
  const check = app.createRateLimit({
    keyGenerator: (req) => req.limitPolicy?.key ?? 'none',
    max: (req) => req.limitPolicy?.max ?? 1,
    timeWindow: (req) => req.limitPolicy?.windowMs ?? 1000,
  });
  return async (req) => {
    const r = await check(req);
    return r.isAllowed ? { isExceeded: false, remaining: 0, ttlInSeconds: 0 } : r;
  };
}

/** onRequest hook 2: per token, else per IP, with limits read from the settings snapshot on every request. */
export function rateLimit(app: FastifyInstance, limits: () => Limits) {
  const check = makeCheck(app);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const l = limits();
    if (l.enabled) await apply(check, req, reply, policyFor(req, l));
  };
}

/** What a sign-in attempt is limited by besides its IP: the username it names, or undefined (not limited). */
export type SignInSubject = (req: FastifyRequest) => string | undefined;

/** POST /api/auth/login: the username of the body. */
export const byUsername: SignInSubject = (req) => {
  const username = (req.body as { username?: unknown } | undefined)?.username;
  return typeof username === 'string' ? username : undefined;
};

/** POST /api/auth/oidc/exchange: every ticket exchange from one IP counts in one bucket (tickets are guesses). */
export const bySsoTicket: SignInSubject = () => '#sso-ticket';

/**
 * preHandler for a sign-in route: a second limit (`rate_limits.login`) per IP and `subject`, once the body is
 * parsed.
 */
export function loginLimit(app: FastifyInstance, limits: () => Limits, subject: SignInSubject) {
  const check = makeCheck(app);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const l = limits();
    const name = subject(req);
    if (!l.enabled || name === undefined) return;
    const key = `${normalizeIP(req.ip)}:${name.normalize('NFKC').toLowerCase().slice(0, 256)}`;
    await apply(check, req, reply, policy('login', l.login, key));
  };
}
