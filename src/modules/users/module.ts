import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { Passwords } from '../../lib/passwords.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { PrincipalRule } from '../roles/principal-rule.js';
import { usersRoutes } from './routes.js';
import { createUsersService, type Credentials } from './service.js';
import { createUsersStore } from './store.js';

export function createUsersModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  ids: Ids;
  clock: Clock;
  passwords: Passwords;
  assertAnotherAdmin: (trx: Trx, userId: string) => Promise<void>;
  rule: PrincipalRule;
  credentials: Credentials;
  assertAdminWayIn: (trx: Trx, userId: string, except: { password: true }, now: number) => Promise<void>;
  onAccessChange: () => void;
  settings: () => ConfigDocument;
}) {
  const service = createUsersService({ ...deps, store: createUsersStore() });
  return {
    service,
    routes: (api: FastifyInstance) => api.register(usersRoutes, { prefix: '/users', users: service }),
  };
}
