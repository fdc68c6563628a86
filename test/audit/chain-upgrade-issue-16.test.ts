import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/create-db.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { AuditEventsTable } from '../../src/db/tables.js';
import { chainHash } from '../../src/modules/journal/event.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const GENESIS = '0'.repeat(64);
const LEGACY = 5;

// A database from before the chain had a key: its events are plain SHA-256 links. The first start with a key
// seals the chain at the next seq; the old links still verify as SHA-256, the new ones only as HMAC.
forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    const legacy = createDb(database().url);
    const { db } = legacy;
    await migrateToLatest(db);
    let prev = GENESIS;
    const ts = Date.now() - 60_000;
    for (let seq = 1; seq <= LEGACY; seq++) {
      const link: Omit<AuditEventsTable, 'hash'> = {
        seq,
        id: `evt_01jz3${String(seq).padStart(21, '0')}`,
        ts: ts + seq,
        actor: 'system',
        actor_name: 'system',
        token_id: null,
        action: 'config.update',
        resource: 'config',
        verb: 'update',
        target_type: 'config',
        target_id: String(seq),
        outcome: 'success',
        request_id: 'legacy',
        ip: null,
        user_agent: null,
        changes: null,
        detail: null,
        prev_hash: prev,
      };
      prev = chainHash(link);
      await db
        .insertInto('audit_events')
        .values({ ...link, hash: prev })
        .execute();
    }
    await db
      .updateTable('audit_head')
      .set({ seq: LEGACY, hash: prev, ts: ts + LEGACY })
      .where('id', '=', 1)
      .execute();
    await legacy.close();
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const verify = async () => (await app.request({ method: 'GET', url: '/api/audit/verify' })).json();

  describe('succeeds', () => {
    it('seals the chain after the old events, says so in an audit.seal event, and verifies both parts', async () => {
      const head = await app.database.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      expect(Number(head.keyed_from)).toBe(LEGACY + 1);
      const seal = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '=', LEGACY + 1)
        .executeTakeFirstOrThrow();
      expect(seal).toMatchObject({
        action: 'audit.seal',
        actor: 'system',
        detail: expect.stringContaining(`seq ${LEGACY + 1}`),
      });
      expect(await verify()).toMatchObject({ status: 'ok', first_seq: 1, broken: null });
    });
  });

  describe('rejects', () => {
    it('an edited old event: hash_mismatch, as before', async () => {
      const { db } = app.database;
      await db.updateTable('audit_events').set({ actor: 'someone' }).where('seq', '=', 3).execute();
      expect((await verify()).broken).toMatchObject({ seq: 3, reason: 'hash_mismatch' });
      await db.updateTable('audit_events').set({ actor: 'system' }).where('seq', '=', 3).execute();
      expect((await verify()).status).toBe('ok');
    });

    it('a start with another key: refused, naming both key ids, before anything is appended', async () => {
      const before = await app.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
      await expect(startTestApp(database().url, { auditKey: randomBytes(32) })).rejects.toThrow(
        /not the one this database's audit chain was sealed with \(key id [0-9a-f]{16}\)/,
      );
      const after = await app.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
      expect(Number(after.seq)).toBe(Number(before.seq));
    });
  });
});
