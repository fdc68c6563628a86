import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Change, RecordAudit } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { AuthCache } from '../../lib/auth-cache.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { PrincipalRule } from '../roles/principal-rule.js';
import type { UsersService } from '../users/service.js';
import { createMfaGate } from './gate.js';
import { loginMfaRoutes, ownMfaRoutes, passkeyRoutes, resetMfaRoutes, totpRoutes } from './routes.js';
import { createMfaLogin, type SignIn } from './service-login.js';
import { createMfaService } from './service.js';
import { createMfaStore } from './store.js';

/** Second factors: enrolment, the sign-in step after the password, the admin reset and the enrolment gate. */
export function createMfaModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  record: RecordAudit;
  ids: Ids;
  clock: Clock;
  secrets: SecretBox;
  settings: () => ConfigDocument;
  users: Pick<UsersService, 'get'>;
  rule: PrincipalRule;
  signIn: SignIn;
  gateCache: AuthCache<boolean>;
}) {
  const store = createMfaStore();
  const gate = createMfaGate({ db: deps.db, store, settings: deps.settings, cache: deps.gateCache });
  const service = createMfaService({ ...deps, store, onFactorsChange: gate.clear });
  const login = createMfaLogin({ ...deps, store });
  return {
    service,
    login,
    gate,
    routes: async (api: FastifyInstance) => {
      const opts = { mfa: service, login };
      await api.register(ownMfaRoutes, opts);
      await api.register(totpRoutes, opts);
      await api.register(passkeyRoutes, opts);
      await api.register(resetMfaRoutes, opts);
      await api.register(loginMfaRoutes, opts);
    },
  };
}
