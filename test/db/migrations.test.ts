import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateDown, migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { forEachDialect } from '../helpers/databases.js';

async function tables(database: Database): Promise<string[]> {
  const names = (await database.db.introspection.getTables()).map((t) => t.name);
  return names.filter((n) => !n.startsWith('kysely_')).sort();
}

forEachDialect((testDb) => {
  let database: Database;
  beforeAll(() => {
    database = createDb(testDb().url);
  });
  afterAll(async () => database?.close());

  describe('succeeds', () => {
    it('runs every migration up, down and up again', async () => {
      const names = Object.keys(migrations);
      expect(names).toEqual([...names].sort());
      expect(await migrateToLatest(database.db)).toEqual(names);
      const after = await tables(database);
      expect(after).toEqual([
        'audit_events',
        'audit_head',
        'audit_streams',
        'auth_providers',
        'auth_sso_attempts',
        'config_versions',
        'deliveries',
        'delivery_attempts',
        'idempotency_keys',
        'mfa_challenges',
        'mfa_factors',
        'mfa_recovery_codes',
        'outbox',
        'plugin_configs',
        'plugins',
        'roles',
        'sessions',
        'tokens',
        'user_roles',
        'users',
        'webhooks',
      ]);
      for (let i = 0; i < names.length; i++) await migrateDown(database.db);
      expect(await tables(database)).toEqual([]);
      expect(await migrateToLatest(database.db)).toEqual(names);
      expect(await tables(database)).toEqual(after);
      expect(await migrateToLatest(database.db)).toEqual([]);
    });

    it('seeds the audit chain head at seq 0', async () => {
      const head = await database.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      expect({
        ...head,
        seq: Number(head.seq),
        ts: Number(head.ts),
        anchor_seq: Number(head.anchor_seq),
      }).toEqual({
        id: 1,
        seq: 0,
        hash: '0'.repeat(64),
        ts: 0,
        anchor_seq: 0,
        anchor_hash: '0'.repeat(64),
        keyed_from: null,
        keyed_mac: null,
        key_id: null,
      });
    });
  });

  describe('rejects', () => {
    it('enforces the enum CHECKs and the username unique key in the database itself', async () => {
      const row = {
        id: 'user_x',
        username: 'dup',
        email: null,
        display_name: null,
        kind: 'human' as const,
        disabled: false,
        password_hash: null,
        created_at: 1,
        updated_at: 1,
      };
      await database.db.insertInto('users').values(row).execute();
      await expect(
        database.db
          .insertInto('users')
          .values({ ...row, id: 'user_y' })
          .execute(),
      ).rejects.toThrow();
      await expect(
        sql`insert into users (id, username, kind, disabled, created_at, updated_at) values ('user_z', 'z', 'robot', false, 1, 1)`.execute(
          database.db,
        ),
      ).rejects.toThrow();
    });
  });
});
