import type { Db } from './_lib.js';

/** Finished deliveries by age, for the retention purge (`webhooks.retention_days`). */
export async function up(db: Db): Promise<void> {
  await db.schema.createIndex('deliveries_finished_idx').on('deliveries').columns(['status', 'updated_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('deliveries_finished_idx').execute();
}
