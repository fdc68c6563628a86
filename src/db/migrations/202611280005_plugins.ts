import { boolType, jsonType, type Db } from './_lib.js';

/** Registered plugins, every config version, and each plugin's position in the audit stream (after-hooks). */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('plugins')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('manifest', jsonType(db), (c) => c.notNull())
    .addColumn('enabled', boolType(db), (c) => c.notNull())
    .addColumn('config', jsonType(db), (c) => c.notNull())
    .addColumn('config_version', 'integer', (c) => c.notNull())
    // Signs calls to an http plugin (Standard Webhooks), so the plugin can verify its caller.
    .addColumn('secret', 'text')
    .addColumn('after_seq', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('plugins_name_key', ['name'])
    .execute();
  await db.schema
    .createTable('plugin_configs')
    .addColumn('plugin_id', 'text', (c) => c.notNull().references('plugins.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('config', jsonType(db), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('plugin_configs_pkey', ['plugin_id', 'version'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('plugin_configs').execute();
  await db.schema.dropTable('plugins').execute();
}
