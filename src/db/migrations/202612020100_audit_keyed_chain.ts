import type { Db } from './_lib.js';

/**
 * The keyed audit chain's seal on its head: `keyed_from` (the first seq linked by HMAC with the audit key),
 * its MAC and the sealing key's id. Null here: the first start with a key seals the chain at the head it
 * finds (events before it stay plain SHA-256 links), since only the server holds the key.
 */
export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('audit_head').addColumn('keyed_from', 'bigint').execute();
  await db.schema.alterTable('audit_head').addColumn('keyed_mac', 'text').execute();
  await db.schema.alterTable('audit_head').addColumn('key_id', 'text').execute();
}

export async function down(db: Db): Promise<void> {
  for (const column of ['key_id', 'keyed_mac', 'keyed_from'])
    await db.schema.alterTable('audit_head').dropColumn(column).execute();
}
