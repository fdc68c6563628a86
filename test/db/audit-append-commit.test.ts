import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { systemCtx } from '../../src/lib/request-ctx.js';
import type { JournalEntry } from '../../src/modules/journal/service.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

// The journal appends a change's audit row last in its transaction: on PostgreSQL the append is sent with the
// COMMIT (src/db/dialects/postgres-commit.ts) and BEGIN waits for the first statement; on SQLite changes that
// arrive together commit in one transaction, each in a SAVEPOINT (src/modules/journal/writer.ts). These pin
// what a transaction must still see and do.
forEachDialect((database, dialect) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const entry = (id: string): JournalEntry => ({
    id,
    action: 'audit.verify',
    target: null,
    outcome: 'success',
    detail: 'append-commit test',
  });
  const find = (id: string) =>
    app.database.db.selectFrom('audit_events').select(['id', 'seq']).where('id', '=', id).executeTakeFirst();
  let n = 0;
  const nextId = () => `evt_01jz2${String(++n).padStart(21, '0')}`;
  const verify = async () => (await app.request({ method: 'GET', url: '/api/audit/verify' })).json();

  describe('succeeds', () => {
    it('a record alone commits it', async () => {
      const id = nextId();
      await app.journal.record(systemCtx('test'), entry(id));
      expect(await find(id)).toBeDefined();
    });

    it('a change with other statements commits with its row, and the chain still verifies', async () => {
      const ids = [nextId(), nextId()];
      await app.journal.commit(systemCtx('test'), async (trx) => {
        await trx.selectFrom('users').select('id').limit(1).execute();
        return { value: null, entry: entry(ids[0]!) };
      });
      await app.journal.record(systemCtx('test'), entry(ids[1]!));
      const [a, b] = [await find(ids[0]!), await find(ids[1]!)];
      expect(Number(b?.seq)).toBe(Number(a?.seq) + 1);
      expect(await verify()).toMatchObject({ status: 'ok' });
    });

    it('changes sent together all commit, in a gap-free chain', async () => {
      const ids = Array.from({ length: 40 }, nextId);
      await Promise.all(ids.map((id) => app.journal.record(systemCtx('test'), entry(id))));
      const seqs = (await Promise.all(ids.map(find))).map((r) => Number(r?.seq)).sort((x, y) => x - y);
      expect(seqs.at(-1)! - seqs[0]!).toBe(ids.length - 1);
      expect(await verify()).toMatchObject({ status: 'ok' });
      // SQLite's one writer runs what waits together as one transaction.
      if (dialect === 'sqlite') expect(app.journal.stats().largest).toBeGreaterThan(1);
    });
  });

  describe('rejects', () => {
    it('a change that fails leaves no row, and the connections are clean for the next one', async () => {
      const id = nextId();
      await expect(
        app.journal.commit(systemCtx('test'), async (trx) => {
          await trx.selectFrom('users').select('id').limit(1).execute();
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect(await find(id)).toBeUndefined();
      // Every pooled connection still works (none was left inside an open or aborted transaction).
      const results = await Promise.all(
        Array.from({ length: 12 }, () =>
          app.database.db.selectFrom('audit_head').select('seq').executeTakeFirst(),
        ),
      );
      expect(results.every((r) => r !== undefined)).toBe(true);
    });

    it('a change that fails among others fails alone: its statements undone, the others committed', async () => {
      const ids = Array.from({ length: 12 }, nextId);
      const results = await Promise.allSettled(
        ids.map((id, i) =>
          app.journal.commit(systemCtx('test'), async (trx) => {
            await trx
              .insertInto('idempotency_keys')
              .values({
                actor: 'journal-test',
                key: id,
                request_hash: 'h',
                created_at: 0,
                status: null,
                response: null,
                completed_at: null,
              })
              .execute();
            if (i % 4 === 1) throw new AppError('conflict', 'one change of the group fails');
            return { value: i, entry: entry(id) };
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(
        ids.map((_, i) => (i % 4 === 1 ? 'rejected' : 'fulfilled')),
      );
      for (const [i, id] of ids.entries()) {
        const kept = await app.database.db
          .selectFrom('idempotency_keys')
          .select('key')
          .where('key', '=', id)
          .executeTakeFirst();
        expect(kept !== undefined, `change ${i}`).toBe(i % 4 !== 1);
        expect((await find(id)) !== undefined, `audit row ${i}`).toBe(i % 4 !== 1);
      }
      expect(await verify()).toMatchObject({ status: 'ok' });
    });
  });
});
