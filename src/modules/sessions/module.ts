import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { ConfigDocument } from '../config/schemas.js';
import type { Kysely } from 'kysely';
import type { Change, RecordAudit } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { AuthCache } from '../../lib/auth-cache.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { Passwords } from '../../lib/passwords.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { UsersService } from '../users/service.js';
import { authRoutes } from './routes.js';
import { createSessionsService } from './service.js';
import { createSessionsStore, type LiveSession } from './store.js';

export function createSessionsModule(deps: {
  db: Kysely<Tables>;
  change: Change;
  record: RecordAudit;
  ids: Ids;
  clock: Clock;
  passwords: Passwords;
  users: Pick<UsersService, 'get'>;
  cache: AuthCache<LiveSession | null>;
  settings: () => ConfigDocument;
  afterPassword?: (ctx: RequestCtx, userId: string) => Promise<void>;
}) {
  const service = createSessionsService({ ...deps, store: createSessionsStore() });
  return {
    service,
    routes: (api: FastifyInstance, loginLimit: preHandlerAsyncHookHandler) =>
      api.register(authRoutes, { sessions: service, loginLimit }),
  };
}
