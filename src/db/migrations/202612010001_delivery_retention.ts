import type { Db } from './_lib.js';

/**
 * Finished deliveries by age, for the retention purge (`webhooks.retention_days`), and outbox events by
 * time, for `recover`'s window (it paged through a full scan before).
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createIndex('deliveries_finished_idx')
    .on('deliveries')
    .columns(['status', 'updated_at'])
    .execute();
  await db.schema.createIndex('outbox_created_idx').on('outbox').columns(['created_at', 'id']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('outbox_created_idx').execute();
  await db.schema.dropIndex('deliveries_finished_idx').execute();
}
