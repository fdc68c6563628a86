import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson } from '../../db/codecs.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { DeliveriesTable, Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import { mayReceive, reaches, unreachable, type CreatorPermissions } from '../events/reach.js';
import { payloadOf, subscribed } from './matching.js';
import { pendingDelivery, type WebhooksStore } from './store.js';

const FAN_OUT_BATCH = 500;

type Deps = {
  db: Kysely<Tables>;
  helpers: DialectHelpers;
  store: WebhooksStore;
  clock: Clock;
  ids: Ids;
  logger: Logger;
  creatorPermissions: CreatorPermissions;
};

/**
 * Fans one batch of the outbox out, in one transaction: takes up to FAN_OUT_BATCH undispatched events (marking
 * them dispatched) and inserts one delivery per subscribed endpoint whose creator may currently read the event's
 * resource (permissions looked up once per batch). Returns how many events it took and how many deliveries it made.
 */
export function createFanOut({ db, helpers, store, clock, ids, logger, creatorPermissions }: Deps) {
  return async function fanOut(): Promise<{ events: number; deliveries: number }> {
    return db.transaction().execute(async (trx) => {
      const now = clock.now();
      const events = await helpers.claimOutbox(trx, FAN_OUT_BATCH, now);
      if (events.length === 0) return { events: 0, deliveries: 0 };
      // Read after the claim: an endpoint created before an event committed is in this list.
      const hooks = await store.enabled(trx);
      const reach = await reaches(
        creatorPermissions,
        trx,
        hooks.map((h) => h.created_by),
      );
      const patterns = new Map(hooks.map((w) => [w.id, fromJson<string[]>(w.events)]));
      const rows: DeliveriesTable[] = [];
      const withheld = new Map<string, number>();
      for (const e of events) {
        const data = fromJson<unknown>(e.data);
        // An endpoint receives the events committed from its creation on, not older ones still in the outbox.
        const targets = hooks
          .filter(
            (w) =>
              Number(w.created_at) <= Number(e.created_at) && subscribed(patterns.get(w.id) ?? [], e.type),
          )
          .filter((w) => {
            if (mayReceive(reach(w.created_by), e.type)) return true;
            withheld.set(w.id, (withheld.get(w.id) ?? 0) + 1);
            return false;
          });
        for (const h of targets) {
          rows.push(
            pendingDelivery({
              id: ids.next('dlv'),
              webhookId: h.id,
              eventId: e.id,
              eventType: e.type,
              payload: payloadOf(e.type, Number(e.created_at), data),
              now,
            }),
          );
        }
      }
      await store.insertDeliveries(trx, rows);
      for (const h of hooks) {
        const why = withheld.has(h.id) ? unreachable(reach(h.created_by), h.created_by) : null;
        if (why)
          logger.warn({ webhook: h.id, withheld: withheld.get(h.id) }, `webhook endpoint ${h.id}: ${why}`);
      }
      return { events: events.length, deliveries: rows.length };
    });
  };
}
