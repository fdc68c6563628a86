import { sql } from 'kysely';
import { boolType, boolValue, jsonType, type Db } from './_lib.js';

/**
 * Roles and assignments (with the built-in `admin` and `auditor`, fixed ids), console sessions, and the
 * previous secret of a rotated token for its grace period.
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('roles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('permissions', jsonType(db), (c) => c.notNull())
    .addColumn('builtin', boolType(db), (c) => c.notNull().defaultTo(sql`false`))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('roles_name_key', ['name'])
    .execute();

  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_roles_pkey', ['user_id', 'role_id'])
    .execute();
  await db.schema
    .createIndex('user_roles_role_id_idx')
    .on('user_roles')
    .columns(['role_id', 'user_id'])
    .execute();

  const now = Date.now();
  const all = ['users', 'roles', 'plugins', 'config', 'audit', 'webhooks'];
  await db
    .insertInto('roles')
    .values(
      [
        {
          id: 'role_0000000000e008000000000001',
          name: 'admin',
          description: 'Every permission.',
          permissions: JSON.stringify(['*']),
          builtin: true,
          created_at: now,
          updated_at: now,
        },
        {
          id: 'role_0000000000e008000000000002',
          name: 'auditor',
          description: 'Reads everything but tokens; reads the audit log.',
          permissions: JSON.stringify(all.map((r) => `${r}:read`)),
          builtin: true,
          created_at: now,
          updated_at: now,
        },
      ].map((r) => ({ ...r, builtin: boolValue(db, r.builtin) })),
    )
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addUniqueConstraint('sessions_secret_hash_key', ['secret_hash'])
    .execute();
  await db.schema.createIndex('sessions_user_id_idx').on('sessions').columns(['user_id']).execute();

  await db.schema.alterTable('tokens').addColumn('prev_secret_hash', 'text').execute();
  await db.schema.alterTable('tokens').addColumn('prev_valid_until', 'bigint').execute();
  await db.schema
    .createIndex('tokens_prev_secret_hash_idx')
    .on('tokens')
    .columns(['prev_secret_hash'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('tokens_prev_secret_hash_idx').execute();
  await db.schema.alterTable('tokens').dropColumn('prev_valid_until').execute();
  await db.schema.alterTable('tokens').dropColumn('prev_secret_hash').execute();
  for (const table of ['sessions', 'user_roles', 'roles']) await db.schema.dropTable(table).execute();
}
