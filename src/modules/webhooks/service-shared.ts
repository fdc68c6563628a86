import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { checkTargetUrl } from '../../lib/ssrf-guard.js';
import type { ConfigDocument } from '../config/schemas.js';
import { assertMaySubscribe, type CreatorPermissions } from '../events/reach.js';
import { unknownPatterns } from './matching.js';
import type { WebhooksStore } from './store.js';

/** What the webhooks service is built from. */
export type WebhooksDeps = {
  db: Kysely<Tables>;
  change: Change;
  store: WebhooksStore;
  helpers: Pick<DialectHelpers, 'purgeDeliveries'>;
  ids: Ids;
  clock: Clock;
  settings: () => ConfigDocument;
  creatorPermissions: CreatorPermissions;
};
/** A page of a list, as the service answers it. */
export type Page<T> = { data: T[]; next_cursor: string | null; total?: number };
/** The checks the service's use cases share. */
export type WebhooksShared = ReturnType<typeof endpointChecks>;

function webhookId(id: string): string {
  if (!isId('whk', id)) throw new AppError('not_found', 'No webhook has this id.');
  return id;
}

/** Checks shared by the use cases: the target URL, the events, the endpoint limit, and loading an endpoint. */
export function endpointChecks({ db, store, settings }: WebhooksDeps) {
  /** https, or http for private targets when allowed; never an internal address unless allowed. */
  const checkUrl = (raw: string) => checkTargetUrl(raw, settings().webhooks.allow_private_targets);

  /** Known types only, and each exact type one the caller may read (`*`, `user.*` are filtered at delivery). */
  function checkEvents(ctx: RequestCtx, events: string[] | undefined): void {
    const unknown = unknownPatterns(events ?? []);
    if (unknown.length)
      throw fieldError(
        'body',
        '/events',
        `unknown event types: ${unknown.join(', ')} (see GET /api/events/types)`,
      );
    assertMaySubscribe(ctx, events ?? []);
  }

  /** 409 once `webhooks.max_endpoints` exist: with `*` subscriptions, deliveries grow with endpoints × events. */
  async function assertRoomForEndpoint(trx: Kysely<Tables>): Promise<void> {
    const max = settings().webhooks.max_endpoints;
    if ((await store.count(trx)) >= max) {
      throw new AppError(
        'webhook.limit_reached',
        `There are already ${max} webhook endpoints (webhooks.max_endpoints); delete one or raise the setting.`,
        { max_endpoints: max },
      );
    }
  }

  async function load(id: string) {
    return assertFound(await store.find(db, webhookId(id)), 'The webhook');
  }

  return { checkUrl, checkEvents, assertRoomForEndpoint, load };
}
