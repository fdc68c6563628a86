import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledRead } from '../../src/db/compiled.js';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { forEachDialect } from '../helpers/databases.js';

/**
 * Hot reads are compiled once and run with new values (src/db/compiled.ts). Each call must answer for its own
 * arguments, inside and outside a transaction, a value used twice must be bound twice, and a build that does
 * not pass an argument through as a value must fail loudly instead of running a query without it.
 */
forEachDialect((testDb) => {
  let database: Database;
  const role = (id: string, name: string) => ({
    id,
    name,
    description: '',
    permissions: '[]',
    builtin: false,
    created_at: 1,
    updated_at: 1,
  });
  beforeAll(async () => {
    database = createDb(testDb().url);
    await migrateToLatest(database.db);
    await database.db
      .insertInto('roles')
      .values([role('role_compiled_a', 'compiled-a'), role('role_compiled_b', 'compiled-b')])
      .execute();
  });
  afterAll(async () => database.close());

  const nameOf = compiledRead((q, id: string) => q.selectFrom('roles').select('name').where('id', '=', id));
  const either = compiledRead((q, id: string, limit: number) =>
    q
      .selectFrom('roles')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', id), eb('name', '=', id)]))
      .where('builtin', '=', false)
      .limit(limit),
  );

  describe('succeeds', () => {
    it('answers each call with its own values, in and out of a transaction', async () => {
      expect(await nameOf(database.db, 'role_compiled_a')).toEqual([{ name: 'compiled-a' }]);
      expect(await nameOf(database.db, 'role_compiled_b')).toEqual([{ name: 'compiled-b' }]);
      expect(await nameOf(database.db, 'role_missing')).toEqual([]);
      const inside = await database.db
        .transaction()
        .execute(async (trx) => [await nameOf(trx, 'role_compiled_b'), await nameOf(trx, 'role_compiled_a')]);
      expect(inside).toEqual([[{ name: 'compiled-b' }], [{ name: 'compiled-a' }]]);
    });

    it('binds a value used twice at both places, beside constants of the query', async () => {
      expect(await either(database.db, 'compiled-b', 5)).toEqual([{ id: 'role_compiled_b' }]);
      expect(await either(database.db, 'role_compiled_a', 5)).toEqual([{ id: 'role_compiled_a' }]);
      expect(await either(database.db, 'role_compiled_a', 0)).toEqual([]);
    });
  });

  describe('rejects', () => {
    it('a build that computes with an argument instead of passing it through', async () => {
      const wrong = compiledRead((q, limit: number) =>
        q
          .selectFrom('roles')
          .select('id')
          .limit(limit + 1),
      );
      await expect(wrong(database.db, 1)).rejects.toThrow(/not passed through as values/);
    });
  });
});
