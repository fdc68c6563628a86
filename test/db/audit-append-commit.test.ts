import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { systemCtx } from '../../src/lib/request-ctx.js';
import { createAuditLog } from '../../src/modules/audit/append.js';
import { deriveAuditKeys } from '../../src/modules/audit/keys.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

// On PostgreSQL the audit append is held back and sent with the COMMIT (src/db/dialects/postgres-commit.ts), and
// BEGIN waits for a transaction's first statement. These pin what a transaction must still see and do.
forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const audit = () =>
    createAuditLog({
      helpers: app.database.helpers,
      clock: systemClock,
      keys: deriveAuditKeys(app.auditKey),
    });
  const entry = (id: string) => ({
    id,
    action: 'audit.verify' as const,
    target: null,
    outcome: 'success' as const,
    detail: 'append-commit test',
  });
  const find = (id: string) =>
    app.database.db.selectFrom('audit_events').select(['id', 'seq']).where('id', '=', id).executeTakeFirst();
  let n = 0;
  const nextId = () => `evt_01jz2${String(++n).padStart(21, '0')}`;

  describe('succeeds', () => {
    it('a transaction of nothing but an append commits it', async () => {
      const id = nextId();
      await app.database.db.transaction().execute((trx) => audit().append(trx, systemCtx('test'), entry(id)));
      expect(await find(id)).toBeDefined();
    });

    it('a statement after the append still sees it, in order', async () => {
      const id = nextId();
      const seen = await app.database.db.transaction().execute(async (trx) => {
        await audit().append(trx, systemCtx('test'), entry(id));
        return trx.selectFrom('audit_events').select('id').where('id', '=', id).executeTakeFirst();
      });
      expect(seen?.id).toBe(id);
      expect(await find(id)).toBeDefined();
    });

    it('appends after other statements commit with them, and the chain still verifies', async () => {
      const ids = [nextId(), nextId()];
      await app.database.db.transaction().execute(async (trx) => {
        await trx.selectFrom('users').select('id').limit(1).execute();
        await audit().append(trx, systemCtx('test'), entry(ids[0]!));
      });
      await app.database.db
        .transaction()
        .execute((trx) => audit().append(trx, systemCtx('test'), entry(ids[1]!)));
      const [a, b] = [await find(ids[0]!), await find(ids[1]!)];
      expect(Number(b?.seq)).toBe(Number(a?.seq) + 1);
      expect((await app.request({ method: 'GET', url: '/api/audit/verify' })).json()).toMatchObject({
        status: 'ok',
      });
    });
  });

  describe('rejects', () => {
    it('a transaction that fails after its append leaves no row, and its connection is clean for the next one', async () => {
      const id = nextId();
      await expect(
        app.database.db.transaction().execute(async (trx) => {
          await trx.selectFrom('users').select('id').limit(1).execute();
          await audit().append(trx, systemCtx('test'), entry(id));
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
  });
});
