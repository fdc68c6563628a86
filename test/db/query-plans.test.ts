import { CompiledQuery, createQueryId, sql, type RootOperationNode } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { forEachDialect } from '../helpers/databases.js';

/**
 * The plans of queries that run on every worker round, checked on the SQL the code actually sends (captured
 * by a plugin), with the tables shaped as in production and their statistics fresh. A plan that walks rows
 * the query does not want grows with the tables: correct answers, ever slower rounds.
 */
forEachDialect((testDb, dialect) => {
  let database: Database;
  beforeAll(async () => {
    database = createDb(testDb().url);
    await migrateToLatest(database.db);
  });
  afterAll(async () => database.close());

  /** Runs `fn` on a connection that records each query it sends; returns them compiled. */
  async function capture(fn: (db: Database['db']) => Promise<unknown>): Promise<CompiledQuery[]> {
    const nodes: RootOperationNode[] = [];
    const spy = database.db.withPlugin({
      transformQuery: ({ node }) => (nodes.push(node), node),
      transformResult: async ({ result }) => result,
    });
    await fn(spy);
    return nodes.map((n) => database.db.getExecutor().compileQuery(n, createQueryId()));
  }

  async function plan(q: CompiledQuery): Promise<string> {
    const prefix = dialect === 'postgres' ? 'explain (format json) ' : 'explain query plan ';
    const res = await database.db.executeQuery(CompiledQuery.raw(prefix + q.sql, [...q.parameters]));
    return res.rows
      .map((r) =>
        Object.values(r as object)
          .map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
          .join(' '),
      )
      .join('\n');
  }

  async function seedOutbox(from: number, n: number, dispatched: boolean): Promise<void> {
    const rows = Array.from({ length: n }, (_, i) => ({
      id: `evt_plan${String(from + i).padStart(8, '0')}`,
      type: 'user.create',
      data: '{}',
      created_at: 1_000 + from + i,
      dispatched_at: dispatched ? 2_000 + from + i : null,
    }));
    for (let i = 0; i < rows.length; i += 1_000)
      await database.db
        .insertInto('outbox')
        .values(rows.slice(i, i + 1_000))
        .execute();
  }

  describe('succeeds', () => {
    it("the fan-out's claim reads only undispatched events, however many sent ones the outbox keeps", async () => {
      // Twenty thousand events kept for recover (webhooks.retention_days), a backlog waiting for fan-out. Before
      // outbox_undispatched_idx, PostgreSQL walked outbox_created_idx here, filtering out every sent event.
      await seedOutbox(0, 20_000, true);
      await seedOutbox(20_000, 2_000, false);
      await sql`analyze`.execute(database.db);
      const sent = await capture((db) =>
        db.transaction().execute((trx) => database.helpers.claimOutbox(trx, 500, 3_000_000)),
      );
      const claim = sent.find((q) => /update outbox/i.test(q.sql));
      expect(claim, sent.map((q) => q.sql).join('\n')).toBeDefined();
      // SQLite may as well search outbox_pending_idx on dispatched_at: that too reads undispatched rows only.
      expect(await plan(claim!)).toMatch(
        dialect === 'postgres'
          ? /"Index Name": "outbox_undispatched_idx"/
          : /outbox_undispatched_idx|outbox_pending_idx \(dispatched_at=\?\)/,
      );
    });
  });
});
