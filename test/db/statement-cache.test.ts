import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { forEachDialect } from '../helpers/databases.js';

/**
 * SQLite keeps prepared statements by SQL text (src/db/dialects/sqlite.ts). Reused statements must answer for
 * their new parameters, more distinct texts than the cache holds must still work (oldest out), and a statement
 * that failed must not poison the next use. Run on both dialects: PostgreSQL must answer the same.
 */
forEachDialect((testDb) => {
  let database: Database;
  beforeAll(async () => {
    database = createDb(testDb().url);
    await migrateToLatest(database.db);
  });
  afterAll(async () => database.close());

  describe('succeeds', () => {
    it('answers a reused statement with its new parameters, across more texts than the cache holds', async () => {
      const one = async (n: number) =>
        (await sql<{ v: number }>`select ${n} + 1 as v`.execute(database.db)).rows[0]?.v;
      expect(await one(1)).toBe(2);
      expect(await one(41)).toBe(42);
      // 600 distinct texts (in-lists of growing length) push the first ones out; each still answers right.
      for (let size = 1; size <= 600; size++) {
        const ids = Array.from({ length: size }, (_, i) => `user_${i}`);
        const rows = await database.db.selectFrom('users').select('id').where('id', 'in', ids).execute();
        expect(rows).toEqual([]);
      }
      expect(await one(99)).toBe(100);
    });

    it('a statement that failed works again with good parameters', async () => {
      const insert = (id: string) =>
        database.db
          .insertInto('roles')
          .values({
            id,
            name: id,
            description: '',
            permissions: '[]',
            builtin: false,
            created_at: 1,
            updated_at: 1,
          })
          .execute();
      await insert('role_cache_a');
      await expect(insert('role_cache_a')).rejects.toThrow();
      await insert('role_cache_b');
      const names = await database.db
        .selectFrom('roles')
        .select('name')
        .where('id', 'in', ['role_cache_a', 'role_cache_b'])
        .orderBy('name')
        .execute();
      expect(names.map((r) => r.name)).toEqual(['role_cache_a', 'role_cache_b']);
    });
  });
});
