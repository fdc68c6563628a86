import { enumCheck, jsonType, type Db } from './_lib.js';

/**
 * Audit streams: each row is a receiver of the audit log with its own cursor (`last_seq`, moved only past what
 * the receiver acknowledged), its retry state, and the lease (`lock_token`, `locked_until`) a relay holds
 * while it sends, so two relays never send one stream's batches at once.
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('audit_streams')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('actions', jsonType(db))
    // Kept readable, as webhook secrets are: every batch is signed with it. Returned on create only.
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('status', 'text', enumCheck('status', ['active', 'paused']))
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('lock_token', 'text')
    .addColumn('locked_until', 'bigint')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('audit_streams_name_key', ['name'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('audit_streams').execute();
}
