import { AppError } from '../../errors.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { AuthProvidersDeps } from './service.js';
import type { AuthProvider, RoleRule } from './schemas.js';

/** Whether a rule matches the claims: `contains` for a list (or a space-separated string), `equals` for a value. */
export function matches(rule: RoleRule, claims: Record<string, unknown>): boolean {
  const value = claims[rule.claim];
  if ('contains' in rule) {
    if (Array.isArray(value)) return value.some((v) => v === rule.contains);
    return typeof value === 'string' && value.split(/\s+/).includes(rule.contains);
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value) === rule.equals;
  return false;
}

/** With `email_domains` set, a sign-in needs an email (not marked unverified) in one of them. */
export function emailAllowed(
  email: string | null,
  claims: Record<string, unknown>,
  domains: string[],
): boolean {
  if (email === null || claims.email_verified === false) return false;
  const at = email.lastIndexOf('@');
  return at > 0 && domains.includes(email.slice(at + 1));
}

/** Username candidates from the claims, best first. */
export function usernameCandidates(claims: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of ['preferred_username', 'email', 'nickname']) {
    const v = claims[key];
    if (typeof v === 'string' && v.length > 0) out.push(v.slice(0, 256));
  }
  if (typeof claims.email === 'string') out.push(claims.email.split('@')[0] ?? '');
  return out;
}

/**
 * The role mapping, at every sign-in: a role the mapping names is given when one of its rules matches and taken
 * away when none does; roles it does not name are left alone. Changes go through the roles service as the
 * server (`system`), audited like any assignment. Taking away the last admin's role is refused by that
 * service; the sign-in then goes on with the role kept.
 */
export async function applyRoleMapping(
  roles: AuthProvidersDeps['roles'],
  ctx: RequestCtx,
  userId: string,
  provider: Pick<AuthProvider, 'role_mapping'>,
  claims: Record<string, unknown>,
): Promise<void> {
  const named = [...new Set(provider.role_mapping.map((r) => r.role))];
  if (named.length === 0) return;
  const system: RequestCtx = { ...ctx, principal: null, system: true };
  for (const role of await roles.findByNames(named)) {
    const wanted = provider.role_mapping.some((r) => r.role === role.name && matches(r, claims));
    if (wanted) {
      await roles.assign(system, userId, role.id);
      continue;
    }
    try {
      await roles.unassign(system, userId, role.id);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'user.last_admin')) throw err;
    }
  }
}
