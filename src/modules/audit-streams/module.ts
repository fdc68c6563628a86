import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import { createOutbound } from '../../lib/ssrf-guard.js';
import type { AuditService } from '../audit/service.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Outbox } from '../events/outbox.js';
import type { CreatorPermissions } from '../events/reach.js';
import { createStreamRelay } from './relay.js';
import { auditStreamsRoutes } from './routes.js';
import { createAuditStreamsService } from './service.js';
import { createAuditStreamsStore } from './store.js';

/** Audit streams: their API under /api/audit/streams and the relay that sends them the log. */
export function createAuditStreamsModule(deps: {
  db: Kysely<Tables>;
  /** The relay's connections (`Database.background`); `db` when not given. */
  background?: Kysely<Tables>;
  change: Change;
  ids: Ids;
  clock: Clock;
  logger: Logger;
  settings: () => ConfigDocument;
  audit: Pick<AuditService, 'headSeq' | 'follow'>;
  creatorPermissions: CreatorPermissions;
  outbox?: Pick<Outbox, 'onCommitted'>;
}) {
  const store = createAuditStreamsStore();
  const service = createAuditStreamsService({ ...deps, store });
  // Its own dispatchers, under the webhooks' target policy (the same setting, read at each send).
  const outbound = createOutbound(() => deps.settings().webhooks.allow_private_targets);
  const relay = createStreamRelay({
    ...deps,
    db: deps.background ?? deps.db,
    store,
    streams: service,
    dispatcher: () => outbound.dispatcher(),
  });
  return {
    service,
    relay,
    close: () => outbound.close(),
    routes: (api: FastifyInstance) =>
      api.register(auditStreamsRoutes, { prefix: '/audit/streams', streams: service }),
  };
}
