import { boolType, jsonType, type Db } from './_lib.js';

/**
 * Identity providers (OIDC) and their sign-ins in flight. A provider's client secret is sealed with the secret
 * box (bound to its row). Users linked to a provider carry its subject (`external_id`), unique per provider.
 * An SSO attempt is one row from `start` to the ticket exchange: its state is stored hashed, its PKCE verifier
 * sealed; it is single-use (10 minutes to come back), then carries a one-time ticket (hashed, 60 s).
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('auth_providers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret', 'text', (c) => c.notNull())
    .addColumn('scopes', jsonType(db), (c) => c.notNull())
    .addColumn('role_mapping', jsonType(db), (c) => c.notNull())
    .addColumn('jit', boolType(db), (c) => c.notNull())
    .addColumn('default_roles', jsonType(db), (c) => c.notNull())
    .addColumn('email_domains', jsonType(db))
    .addColumn('enabled', boolType(db), (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('auth_providers_name_key', ['name'])
    .execute();

  await db.schema.alterTable('users').addColumn('external_id', 'text').execute();
  await db.schema.alterTable('users').addColumn('provider_id', 'text').execute();
  await db.schema
    .createIndex('users_provider_external_key')
    .on('users')
    .columns(['provider_id', 'external_id'])
    .unique()
    .execute();

  await db.schema
    .createTable('auth_sso_attempts')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('provider_id', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('return_to', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('ticket_hash', 'text')
    .addColumn('user_id', 'text')
    .addColumn('ticket_expires_at', 'bigint')
    .addColumn('ticket_used_at', 'bigint')
    .addUniqueConstraint('auth_sso_attempts_ticket_hash_key', ['ticket_hash'])
    .execute();
  await db.schema
    .createIndex('auth_sso_attempts_expires_at_idx')
    .on('auth_sso_attempts')
    .columns(['expires_at'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('auth_sso_attempts').execute();
  await db.schema.dropIndex('users_provider_external_key').execute();
  await db.schema.alterTable('users').dropColumn('provider_id').execute();
  await db.schema.alterTable('users').dropColumn('external_id').execute();
  await db.schema.dropTable('auth_providers').execute();
}
