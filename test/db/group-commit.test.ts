import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import {
  createTestDatabase,
  forEachDialect,
  type DialectName,
  type TestDatabase,
} from '../helpers/databases.js';

/**
 * Changes that arrive together: on SQLite they commit in one transaction, each in a SAVEPOINT of its own
 * (src/modules/journal/writer.ts); on PostgreSQL each in its own. Either way a change that fails (a duplicate
 * username, a plugin veto) fails alone and is audited as such, and every other change commits, answered only
 * once committed, in a gap-free chain.
 */
forEachDialect((database, dialect) => {
  burst(() => database().url, dialect, 'auto');
  // PostgreSQL may group too (GATEHOUSE_GROUP_COMMIT=on): the head's lock is then taken once per group.
  if (dialect === 'postgres')
    describe('GATEHOUSE_GROUP_COMMIT=on', () => {
      let own: TestDatabase | undefined;
      beforeAll(async () => {
        own = await createTestDatabase('postgres');
      });
      afterAll(async () => own?.drop());
      burst(() => own!.url, dialect, 'on');
    });
});

function burst(url: () => string, dialect: DialectName, mode: 'auto' | 'on'): void {
  let app: TestApp;
  const grouped = dialect === 'sqlite' || mode === 'on';
  beforeAll(async () => {
    app = await startTestApp(url(), { env: { GATEHOUSE_GROUP_COMMIT: mode } });
    const policy = await app.request({
      method: 'POST',
      url: '/api/plugins',
      payload: {
        kind: 'module',
        name: 'username-policy',
        config: { reserved: ['veto-0', 'veto-1', 'veto-2'] },
      },
    });
    expect(policy.statusCode, policy.body).toBe(201);
  });
  afterAll(async () => app?.close());
  const tag = `${mode}-`;

  const auditOf = async (action: string) => {
    const res = await app.request({ method: 'GET', url: `/api/audit?action=${action}&limit=500` });
    return res.json().data as {
      outcome: string;
      target: { id: string | null } | null;
      detail: string | null;
    }[];
  };

  describe('succeeds', () => {
    it('a burst with duplicates and vetoes: each fails alone, every other change commits once', async () => {
      const usersBefore = (await app.request({ method: 'GET', url: '/api/users?limit=500' })).json().data
        .length;
      const createsBefore = (await auditOf('user.create')).length;
      // 30 distinct names, 6 of them sent twice at once, and 3 names the plugin vetoes.
      const names = Array.from({ length: 30 }, (_, i) => `${tag}group-${i}`);
      const burst = [...names, ...names.slice(0, 6), 'veto-0', 'veto-1', 'veto-2'];
      const answers = await Promise.all(
        burst.map((username) => app.request({ method: 'POST', url: '/api/users', payload: { username } })),
      );
      const statuses = answers.map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 201)).toHaveLength(30);
      expect(statuses.filter((s) => s === 409)).toHaveLength(6);
      expect(statuses.filter((s) => s === 422)).toHaveLength(3);
      for (const r of answers.filter((x) => x.statusCode === 409))
        expect(r.json().code).toBe('user.username_taken');

      // Every answered 201 is there, exactly once; nothing else was created.
      const users = (await app.request({ method: 'GET', url: '/api/users?limit=500' })).json().data as {
        id: string;
        username: string;
      }[];
      expect(users.length - usersBefore).toBe(30);
      expect(new Set(users.map((u) => u.username)).size).toBe(users.length);
      const created = answers.filter((r) => r.statusCode === 201).map((r) => r.json().id as string);
      expect(created.every((id) => users.some((u) => u.id === id))).toBe(true);

      // One success row per created user, one error row per duplicate, one denied row per veto.
      const rows = (await auditOf('user.create')).slice(
        0,
        (await auditOf('user.create')).length - createsBefore,
      );
      const success = rows.filter((r) => r.outcome === 'success');
      expect(success).toHaveLength(30);
      expect(new Set(success.map((r) => r.target?.id)).size).toBe(30);
      expect(rows.filter((r) => r.outcome === 'error' && /username_taken/.test(r.detail ?? ''))).toHaveLength(
        6,
      );
      expect(rows.filter((r) => r.outcome === 'denied' && /plugin.denied/.test(r.detail ?? ''))).toHaveLength(
        3,
      );

      const verify = (await app.request({ method: 'GET', url: '/api/audit/verify' })).json();
      expect(verify).toMatchObject({ status: 'ok', broken: null });
      // Changes of the burst ran together, and duplicates failed inside such groups.
      if (grouped) {
        expect(app.journal.stats().largest).toBeGreaterThan(1);
        expect(app.journal.stats().rolledBack).toBeGreaterThan(0);
      }
    });
  });
}
