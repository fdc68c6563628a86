import { sql } from 'kysely';
import type { Db } from './_lib.js';

/**
 * Who created each webhook endpoint and plugin: their deliveries are filtered by that user's current read
 * permissions. Existing rows take the actor of their latest successful `webhook.create` or `webhook.update`
 * (`plugin.register` or `plugin.configure`) audit row where the audit log still holds it, since whoever last
 * changed where the data goes decides what it may carry; a row left without a creator (the row was purged by retention, or
 * the actor was `system`) receives no events until someone re-saves it (webhooks: `events` or `url`; plugins:
 * its config), which makes that caller its creator.
 *
 * Also a partial index of test deliveries by endpoint and time, for the per-endpoint limit on `POST
 * /api/webhooks/{id}/test`: only test rows enter it, so the fan-out's inserts do not maintain it.
 */
export async function up(db: Db): Promise<void> {
  for (const [table, created, changed] of [
    ['webhooks', 'webhook.create', 'webhook.update'],
    ['plugins', 'plugin.register', 'plugin.configure'],
  ] as const) {
    await db.schema.alterTable(table).addColumn('created_by', 'text').execute();
    await sql`update ${sql.table(table)} set created_by = (
      select a.actor from audit_events a
      where a.action in (${created}, ${changed}) and a.outcome = 'success' and a.target_id = ${sql.table(table)}.id and substr(a.actor, 1, 5) = 'user_'
      order by a.seq desc limit 1
    )`.execute(db);
  }
  await db.schema
    .createIndex('deliveries_tests_idx')
    .on('deliveries')
    .columns(['webhook_id', 'created_at'])
    .where(sql.ref('event_type'), '=', sql.lit('webhook.test'))
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('deliveries_tests_idx').execute();
  await db.schema.alterTable('plugins').dropColumn('created_by').execute();
  await db.schema.alterTable('webhooks').dropColumn('created_by').execute();
}
