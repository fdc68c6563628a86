import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change } from '../../change.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import { createOutbound } from '../../lib/ssrf-guard.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Outbox } from '../events/outbox.js';
import type { CreatorPermissions } from '../events/reach.js';
import { webhooksRoutes } from './routes.js';
import { createWebhooksService } from './service.js';
import { createWebhooksStore } from './store.js';
import { createWebhookWorker } from './worker.js';

export function createWebhooksModule(deps: {
  db: Kysely<Tables>;
  /** The worker's connections (`Database.background`); `db` when not given. */
  background?: Kysely<Tables>;
  helpers: DialectHelpers;
  change: Change;
  ids: Ids;
  clock: Clock;
  logger: Logger;
  settings: () => ConfigDocument;
  outbox?: Pick<Outbox, 'onCommitted'>;
  /** Subscribers' creators' current permissions: what each endpoint may receive. */
  creatorPermissions: CreatorPermissions;
}) {
  const store = createWebhooksStore();
  const service = createWebhooksService({ ...deps, store });
  const outbound = createOutbound(() => deps.settings().webhooks.allow_private_targets);
  const worker = createWebhookWorker({
    ...deps,
    db: deps.background ?? deps.db,
    store,
    webhooks: service,
    dispatcher: () => outbound.dispatcher(),
  });
  return {
    service,
    worker,
    close: () => outbound.close(),
    routes: (api: FastifyInstance) =>
      api.register(webhooksRoutes, { prefix: '/webhooks', webhooks: service }),
  };
}
