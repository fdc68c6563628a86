import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateDown, migrateToLatest } from '../../src/db/migrate.js';
import { forEachDialect } from '../helpers/databases.js';

/** Whether the subscription-creators migration (issue #16) has run: webhooks have `created_by`. */
async function hasCreators(database: Database): Promise<boolean> {
  const table = (await database.db.introspection.getTables()).find((t) => t.name === 'webhooks');
  return table?.columns.some((c) => c.name === 'created_by') ?? false;
}

forEachDialect((testDb) => {
  let database: Database;
  beforeAll(() => {
    database = createDb(testDb().url);
  });
  afterAll(async () => database?.close());

  describe('succeeds', () => {
    it('backfills created_by from the successful webhook.create / plugin.register audit rows; none found leaves null', async () => {
      await migrateToLatest(database.db);
      while (await hasCreators(database)) await migrateDown(database.db);
      const db = database.db;
      const audit = (seq: number, action: string, target: string, actor: string, outcome = 'success') =>
        sql`
        insert into audit_events (seq, id, ts, actor, action, resource, verb, target_type, target_id, outcome, prev_hash, hash)
        values (${seq}, ${`evt_${seq}`}, 1, ${actor}, ${action}, ${action.split('.')[0]}, ${action.split('.')[1]}, 'x', ${target}, ${outcome}, 'p', 'h')`.execute(
          db,
        );
      for (const id of ['whk_a', 'whk_b', 'whk_c']) {
        await sql`insert into webhooks (id, url, description, events, enabled, secret, created_at, updated_at)
          values (${id}, 'https://example.test/', '', '["*"]', true, 'whsec_x', 1, 1)`.execute(db);
      }
      await sql`insert into plugins (id, name, kind, manifest, enabled, config, config_version, after_seq, created_at, updated_at)
        values ('plugin_a', 'audit-forwarder', 'module', '{}', false, '{}', 1, 0, 1, 1)`.execute(db);
      await audit(101, 'webhook.create', 'whk_a', 'user_alice');
      await audit(102, 'webhook.create', 'whk_b', 'user_mallory', 'denied');
      await audit(103, 'webhook.create', 'whk_c', 'system');
      await audit(104, 'plugin.register', 'plugin_a', 'user_bob');

      await migrateToLatest(database.db);
      const hooks = await db.selectFrom('webhooks').select(['id', 'created_by']).orderBy('id').execute();
      expect(hooks).toEqual([
        { id: 'whk_a', created_by: 'user_alice' },
        { id: 'whk_b', created_by: null },
        { id: 'whk_c', created_by: null },
      ]);
      expect(await db.selectFrom('plugins').select(['id', 'created_by']).execute()).toEqual([
        { id: 'plugin_a', created_by: 'user_bob' },
      ]);
    });
  });
});
