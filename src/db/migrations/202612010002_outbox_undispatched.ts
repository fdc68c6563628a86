import { sql } from 'kysely';
import type { Db } from './_lib.js';

/**
 * Undispatched outbox events in commit order, for the fan-out's claim (`where dispatched_at is null order by
 * created_at, id`). Partial: it holds only what waits for fan-out, so it stays small while the outbox keeps
 * `webhooks.retention_days` of sent events. Without it, PostgreSQL could plan the claim as a walk of
 * `outbox_created_idx` past every dispatched event whenever a backlog waited (EXPLAIN ANALYZE with 20,000
 * kept and 2,000 waiting: 20,005 rows filtered out for 500 taken; test/db/query-plans.test.ts). SQLite
 * searches `outbox_pending_idx` on `dispatched_at` either way.
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createIndex('outbox_undispatched_idx')
    .on('outbox')
    .columns(['created_at', 'id'])
    .where(sql.ref('dispatched_at'), 'is', null)
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('outbox_undispatched_idx').execute();
}
