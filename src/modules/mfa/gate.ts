import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables.js';
import type { AuthCache } from '../../lib/auth-cache.js';
import type { Principal } from '../../lib/request-ctx.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { MfaStore } from './store.js';

/**
 * Setting `auth.require_mfa_for_roles`: a session whose user holds one of those roles and has no active factor
 * is marked `mustEnrolMfa`, and `requireScope` lets it reach only the routes marked `beforeMfa` (GET /api/me,
 * the /api/me/mfa routes, logout). API tokens are not affected: they are not people signing in.
 *
 * Cost on the hot path: nothing when the setting is empty or the session's user has no role; otherwise one
 * query per user per 500 ms (a cache like the session cache's), cleared at once in this process whenever
 * factors or roles change.
 */
export function createMfaGate(deps: {
  db: Kysely<Tables>;
  store: Pick<MfaStore, 'mustEnrol'>;
  settings: () => ConfigDocument;
  /** Whether a user must enrol, keyed by user and the setting's role names; cleared when roles change too. */
  cache: AuthCache<boolean>;
}) {
  const { cache } = deps;
  return {
    /** The principal, marked when it must enrol a factor before anything else. */
    async mark(principal: Principal): Promise<Principal> {
      if (principal.tokenKind !== 'session' || principal.roleIds.length === 0) return principal;
      const names = deps.settings().auth.require_mfa_for_roles;
      if (names.length === 0) return principal;
      const key = `${principal.userId}\n${names.join('\n')}`;
      const must = await cache.getOrLoad(key, () => deps.store.mustEnrol(deps.db, principal.userId, names));
      return must ? { ...principal, mustEnrolMfa: true } : principal;
    },
    clear: () => cache.clear(),
  };
}
export type MfaGate = ReturnType<typeof createMfaGate>;
