import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

/** Makes every audit insert fail inside the database, the way a full disk or a broken table would. */
async function breakAuditInserts(app: TestApp, broken: boolean): Promise<void> {
  const { db, dialect } = app.database;
  if (dialect === 'sqlite') {
    await sql
      .raw(
        broken
          ? "create trigger audit_fail before insert on audit_events begin select raise(abort, 'audit insert refused'); end"
          : 'drop trigger audit_fail',
      )
      .execute(db);
    return;
  }
  await sql
    .raw(
      broken
        ? `create or replace function audit_fail() returns trigger as $$ begin raise exception 'audit insert refused'; end $$ language plpgsql;
       create trigger audit_fail before insert on audit_events for each row execute function audit_fail();`
        : 'drop trigger audit_fail on audit_events',
    )
    .execute(db);
}

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  describe('rejects', () => {
    it('no audit row, no change: a create whose audit insert fails answers 503 and leaves nothing', async () => {
      const before = await counts(app);
      await breakAuditInserts(app, true);
      try {
        const body = makeUser();
        const res = await app.request({ method: 'POST', url: '/api/users', payload: body });
        expectProblem(res, 503, 'unavailable');
        expect(res.headers['retry-after']).toBeDefined();
        expect(await counts(app)).toEqual(before);
        const found = await app.request({ method: 'GET', url: `/api/users?q=${body.username as string}` });
        expect(found.json().data).toEqual([]);
      } finally {
        await breakAuditInserts(app, false);
      }
      expect((await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).statusCode).toBe(
        201,
      );
    });
  });

  describe('succeeds', () => {
    it('concurrent creates each get one audit row, in an unbroken chain', async () => {
      const results = await Promise.all(
        Array.from({ length: 30 }, () =>
          app.request({ method: 'POST', url: '/api/users', payload: makeUser() }),
        ),
      );
      expect(results.map((r) => r.statusCode)).toEqual(Array(30).fill(201));
      const rows = await app.database.db
        .selectFrom('audit_events')
        .select(['seq', 'prev_hash', 'hash', 'target_id', 'action'])
        .orderBy('seq')
        .execute();
      rows.forEach((row, i) => {
        expect(Number(row.seq)).toBe(i + 1);
        if (i > 0) expect(row.prev_hash).toBe(rows[i - 1]!.hash);
      });
      for (const r of results)
        expect(
          rows.filter((row) => row.target_id === r.json().id && row.action === 'user.create'),
        ).toHaveLength(1);
    });
  });
});
