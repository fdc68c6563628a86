import type { Kysely } from 'kysely';
import { fromJson } from '../../db/codecs.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { DeliveriesTable, Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import { payloadOf, subscribed } from './matching.js';
import { pendingDelivery, type WebhooksStore } from './store.js';

const FAN_OUT_BATCH = 500;

type Deps = { db: Kysely<Tables>; helpers: DialectHelpers; store: WebhooksStore; clock: Clock; ids: Ids };

/**
 * Fans one batch of the outbox out, in one transaction: takes up to FAN_OUT_BATCH undispatched events (marking
 * them dispatched) and inserts one delivery per subscribed endpoint. Returns how many events it took and how
 * many deliveries it made.
 */
export function createFanOut({ db, helpers, store, clock, ids }: Deps) {
  return async function fanOut(): Promise<{ events: number; deliveries: number }> {
    return db.transaction().execute(async (trx) => {
      const now = clock.now();
      const events = await helpers.claimOutbox(trx, FAN_OUT_BATCH, now);
      if (events.length === 0) return { events: 0, deliveries: 0 };
      // Read after the claim: an endpoint created before an event committed is in this list.
      const hooks = await store.enabled(trx);
      const rows: DeliveriesTable[] = [];
      for (const e of events) {
        const data = fromJson<unknown>(e.data);
        // An endpoint receives the events committed from its creation on, not older ones still in the outbox.
        const targets = hooks.filter((w) => Number(w.created_at) <= Number(e.created_at) && subscribed(fromJson<string[]>(w.events), e.type));
        for (const h of targets) {
          rows.push(pendingDelivery({ id: ids.next('dlv'), webhookId: h.id, eventId: e.id, eventType: e.type, payload: payloadOf(e.type, Number(e.created_at), data), now }));
        }
      }
      await store.insertDeliveries(trx, rows);
      return { events: events.length, deliveries: rows.length };
    });
  };
}
