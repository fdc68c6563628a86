import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makePrincipal, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

/** `?include=total` on the lists that count it: the count of every match, the same on every page. */
forEachDialect((database) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(database().url);
    const allow = await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(allow.statusCode, allow.body).toBe(200);
  });
  afterAll(async () => app?.close());

  const get = (url: string, token?: string) => app.request({ method: 'GET', url, token });
  const post = async (url: string, payload: object) => {
    const res = await app.request({ method: 'POST', url, payload });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };

  /** Walks a list two rows a page with include=total: every page carries the same total, the row count. */
  async function totalsAcrossPages(path: string, token?: string): Promise<number> {
    const sep = path.includes('?') ? '&' : '?';
    let cursor: string | null = null;
    let rows = 0;
    const totals = new Set<number>();
    do {
      const res = await get(
        `${path}${sep}limit=2&include=total${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        token,
      );
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ data: unknown[]; next_cursor: string | null; total: number }>();
      totals.add(body.total);
      rows += body.data.length;
      cursor = body.next_cursor;
    } while (cursor);
    expect([...totals]).toEqual([rows]);
    return rows;
  }

  describe('succeeds', () => {
    it('roles, a role’s members and a user’s roles', async () => {
      const role = await post('/api/roles', { name: 'counted', permissions: ['users:read'] });
      const members: string[] = [];
      for (let i = 0; i < 3; i++) {
        const user = await post('/api/users', { username: `member${i}` });
        members.push(user.id);
        const assigned = await app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${role.id}` });
        expect(assigned.statusCode).toBe(204);
      }
      for (const name of ['extra1', 'extra2']) {
        const extra = await post('/api/roles', { name, permissions: ['roles:read'] });
        await app.request({ method: 'PUT', url: `/api/users/${members[0]}/roles/${extra.id}` });
      }
      // admin, auditor, counted, extra1, extra2
      expect(await totalsAcrossPages('/api/roles')).toBe(5);
      expect(await totalsAcrossPages(`/api/roles/${role.id}/members`)).toBe(3);
      expect(await totalsAcrossPages(`/api/users/${members[0]}/roles`)).toBe(3);
      expect(await totalsAcrossPages(`/api/users/${members[1]}/roles`)).toBe(1);
    });

    it('webhooks and plugins', async () => {
      for (let i = 0; i < 3; i++)
        await post('/api/webhooks', { url: `http://127.0.0.1:9/hook${i}`, events: ['user.*'] });
      for (let i = 0; i < 3; i++)
        await post('/api/plugins', {
          kind: 'http',
          url: `http://127.0.0.1:9/plugin${i}`,
          manifest: { name: `counted${i}`, version: '1.0.0' },
        });
      expect(await totalsAcrossPages('/api/webhooks')).toBe(3);
      expect(await totalsAcrossPages('/api/plugins')).toBe(3);
    });

    it('tokens: all with tokens:read, with user_id one owner’s, without tokens:read only one’s own', async () => {
      const reader = await makePrincipal(app, { permissions: ['tokens:read', 'tokens:write'] });
      const plain = await makePrincipal(app, { permissions: ['roles:read', 'tokens:write'] });
      for (let i = 0; i < 2; i++) {
        const res = await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: `extra${i}`, scopes: ['roles:read'] },
          token: plain.token,
        });
        expect(res.statusCode, res.body).toBe(201);
      }
      const all = (await get('/api/tokens?limit=500')).json().data.length;
      expect(await totalsAcrossPages('/api/tokens', reader.token)).toBe(all);
      expect(await totalsAcrossPages(`/api/tokens?user_id=${plain.userId}`, reader.token)).toBe(3);
      // A caller without tokens:read counts only its own, as it lists only its own.
      expect(await totalsAcrossPages('/api/tokens', plain.token)).toBe(3);
      expect(all).toBeGreaterThan(3);
    });

    it('the audit log, with the same filters as the page', async () => {
      const before: number = (await get('/api/audit?action=user.create&include=total&limit=1')).json().total;
      await post('/api/users', { username: 'audited' });
      const after = (await get('/api/audit?action=user.create&include=total&limit=1')).json();
      expect(after.total).toBe(before + 1);
      expect(after.data).toHaveLength(1);
      const roleCreations = await totalsAcrossPages('/api/audit?action=role.create');
      expect(roleCreations).toBeGreaterThan(2);
      expect(await totalsAcrossPages('/api/audit?action=role.create&order=asc')).toBe(roleCreations);
      expect((await get('/api/audit?include=total&since=2999-01-01T00:00:00.000Z')).json()).toMatchObject({
        data: [],
        total: 0,
      });
    });

    it('without include=total the answers are as before: no total', async () => {
      for (const path of [
        '/api/roles',
        '/api/tokens',
        '/api/webhooks',
        '/api/plugins',
        '/api/audit',
        '/api/users',
      ]) {
        const body = (await get(path)).json();
        expect(Object.keys(body).sort(), path).toEqual(['data', 'next_cursor']);
      }
    });
  });

  describe('rejects', () => {
    const paths = ['/api/users', '/api/roles', '/api/tokens', '/api/webhooks', '/api/plugins', '/api/audit'];
    for (const path of paths) {
      for (const include of ['count', 'total,owner', 'TOTAL', '']) {
        it(`${path}?include=${include}: 400 naming /include`, async () => {
          const problem = expectProblem(await get(`${path}?include=${include}`), 400, 'validation_failed');
          expect(problem.errors?.[0]).toMatchObject({ in: 'query', pointer: '/include' });
        });
      }
    }

    it('include=total needs the list’s own read permission', async () => {
      const other = await makePrincipal(app, { permissions: ['users:read'] });
      for (const [path, scope] of [
        ['/api/roles', 'roles:read'],
        ['/api/webhooks', 'webhooks:read'],
        ['/api/plugins', 'plugins:read'],
        ['/api/audit', 'audit:read'],
      ] as const) {
        const problem = expectProblem(await get(`${path}?include=total`, other.token), 403, 'forbidden');
        expect(problem.required_permission).toBe(scope);
      }
    });
  });

  describe('audit', () => {
    it('a counted list changes nothing but the audit log’s own audit.query row', async () => {
      const before = await counts(app);
      await get('/api/roles?include=total');
      await get('/api/tokens?include=total');
      expect(await counts(app)).toEqual(before);
      await get('/api/audit?include=total');
      const after = await counts(app);
      expect(after.audit - before.audit).toBe(1);
      expect(after.outbox).toBe(before.outbox);
    });
  });
});
