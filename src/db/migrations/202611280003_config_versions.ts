import { jsonType, type Db } from './_lib.js';

/** Every version of the settings document; the highest version is current. */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('config_versions')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('document', jsonType(db), (c) => c.notNull())
    .addColumn('diff', jsonType(db), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('actor_name', 'text')
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('config_versions').execute();
}
