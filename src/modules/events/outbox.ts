import type { Trx } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Action } from './catalog.js';

export type Outbox = { insert(trx: Trx, event: { id: string; type: Action; data: unknown }): Promise<void> };

/**
 * Writes one event per successful change, in the change's transaction, so an event exists exactly when its
 * change committed. Delivery reads this table later; nothing in a request makes an HTTP call.
 */
export function createOutbox({ clock }: { clock: Clock }): Outbox {
  return {
    async insert(trx, { id, type, data }) {
      await trx
        .insertInto('outbox')
        .values({ id, type, data: JSON.stringify(data ?? null), created_at: clock.now(), dispatched_at: null })
        .execute();
    },
  };
}
