import { sql } from 'kysely';
import { boolType, codePointText, enumCheck, jsonType, type Db } from './_lib.js';

/** Users, tokens, the audit log with its chain head, and the outbox. */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => codePointText(db)(c).notNull())
    .addColumn('email', 'text', codePointText(db))
    .addColumn('display_name', 'text')
    .addColumn('kind', 'text', enumCheck('kind', ['human', 'service']))
    .addColumn('disabled', boolType(db), (c) => c.notNull().defaultTo(sql`false`))
    .addColumn('password_hash', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('users_username_key', ['username'])
    .execute();
  await db.schema.createIndex('users_email_idx').on('users').columns(['email']).execute();

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('scopes', jsonType(db), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addUniqueConstraint('tokens_secret_hash_key', ['secret_hash'])
    .execute();
  await db.schema.createIndex('tokens_user_id_idx').on('tokens').columns(['user_id', 'id']).execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('actor_name', 'text')
    .addColumn('token_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    // The two halves of the action, so `user.*` and a bare verb are index range scans too.
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('verb', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('outcome', 'text', enumCheck('outcome', ['success', 'denied', 'error']))
    .addColumn('request_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('changes', jsonType(db))
    .addColumn('detail', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addUniqueConstraint('audit_events_id_key', ['id'])
    .execute();
  // Every filter is an equality on one of these plus a range on seq (newest first, or after a cursor).
  for (const cols of [
    ['actor'],
    ['actor', 'action'],
    ['action'],
    ['resource'],
    ['verb'],
    ['target_id'],
    ['outcome'],
    ['ts'],
  ]) {
    await db.schema
      .createIndex(`audit_events_${cols.join('_')}_seq_idx`)
      .on('audit_events')
      .columns([...cols, 'seq'])
      .execute();
  }

  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    // Retention deletes the oldest events; the chain then starts after this anchor.
    .addColumn('anchor_seq', 'bigint', (c) => c.notNull())
    .addColumn('anchor_hash', 'text', (c) => c.notNull())
    .execute();
  const genesis = '0'.repeat(64);
  await db
    .insertInto('audit_head')
    .values({ id: 1, seq: 0, hash: genesis, ts: 0, anchor_seq: 0, anchor_hash: genesis })
    .execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', jsonType(db), (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('dispatched_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('outbox_pending_idx')
    .on('outbox')
    .columns(['dispatched_at', 'created_at'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  for (const table of ['outbox', 'audit_head', 'audit_events', 'tokens', 'users']) {
    await db.schema.dropTable(table).execute();
  }
}
