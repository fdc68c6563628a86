import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change } from '../../change.js';
import type { Queryable, Tables, Trx } from '../../db/tables.js';
import type { AuthCache } from '../../lib/auth-cache.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { PrincipalRule } from '../roles/principal-rule.js';
import { tokensRoutes } from './routes.js';
import { createTokensService } from './service.js';
import { createTokensStore, type LiveToken } from './store.js';

export function createTokensModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  ids: Ids;
  clock: Clock;
  logger: Logger;
  cache: AuthCache<LiveToken | null>;
  permissionsOf: (q: Queryable, userId: string) => Promise<string[]>;
  rule: PrincipalRule;
  onAccessChange: () => void;
  assertAdminWayIn: (trx: Trx, userId: string, except: { tokenId: string }, now: number) => Promise<void>;
  settings: () => ConfigDocument;
}) {
  const service = createTokensService({ ...deps, store: createTokensStore() });
  return {
    service,
    routes: (api: FastifyInstance) => api.register(tokensRoutes, { prefix: '/tokens', tokens: service }),
  };
}
