import type { Db } from './_lib.js';

/**
 * A lease on each plugin's after-hook cursor, so one relay at a time delivers a plugin's after-hooks however
 * many Gatehouse processes share the database: `after_lock_token` names the holder (null: free),
 * `after_locked_until` (epoch ms) is when its lease runs out unless renewed. An expired lease is free to claim.
 */
export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('plugins').addColumn('after_lock_token', 'text').execute();
  await db.schema.alterTable('plugins').addColumn('after_locked_until', 'bigint').execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.alterTable('plugins').dropColumn('after_locked_until').execute();
  await db.schema.alterTable('plugins').dropColumn('after_lock_token').execute();
}
