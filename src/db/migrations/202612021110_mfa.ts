import { enumCheck, type Db } from './_lib.js';

/**
 * Second factors (TOTP and passkeys), recovery codes and the short-lived challenges of the sign-in step and
 * of passkey enrolment. TOTP seeds are sealed with the secret box (never plain); recovery codes and
 * challenge tokens are kept as SHA-256 only (each has at least 80 random bits).
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('mfa_factors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', enumCheck('kind', ['totp', 'webauthn']))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', enumCheck('status', ['pending', 'active']))
    // TOTP: the seed sealed at `mfa_factors.secret:<id>`, and the last time step accepted (replay guard).
    .addColumn('secret', 'text')
    .addColumn('last_step', 'bigint')
    // WebAuthn: the credential id (base64url), its COSE public key (base64url), signature counter, transports.
    .addColumn('credential_id', 'text')
    .addColumn('public_key', 'text')
    .addColumn('counter', 'bigint')
    .addColumn('transports', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('confirmed_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema.createIndex('mfa_factors_user_idx').on('mfa_factors').column('user_id').execute();
  await db.schema
    .createIndex('mfa_factors_credential_key')
    .on('mfa_factors')
    .column('credential_id')
    .unique()
    .execute();

  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addPrimaryKeyConstraint('mfa_recovery_codes_pkey', ['user_id', 'code_hash'])
    .execute();

  await db.schema
    .createTable('mfa_challenges')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', enumCheck('kind', ['login', 'webauthn_register']))
    .addColumn('challenge', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('mfa_challenges_user_idx')
    .on('mfa_challenges')
    .columns(['user_id', 'created_at'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('mfa_challenges').execute();
  await db.schema.dropTable('mfa_recovery_codes').execute();
  await db.schema.dropTable('mfa_factors').execute();
}
