import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ROLE,
  AUDITOR_ROLE,
  counts,
  expectProblem,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const createRole = (payload: unknown) =>
    app.request({ method: 'POST', url: '/api/roles', payload: payload as object });

  describe('succeeds', () => {
    it('has the built-in admin (*) and auditor (every :read but tokens:read) from the first start', async () => {
      const { data } = (await app.request({ method: 'GET', url: '/api/roles' })).json();
      expect(data.map((r: { name: string }) => r.name)).toEqual(['admin', 'auditor']);
      expect(data[0]).toMatchObject({ id: ADMIN_ROLE, permissions: ['*'], builtin: true });
      expect(data[1]).toMatchObject({ id: AUDITOR_ROLE, builtin: true });
      expect([...data[1].permissions].sort()).toEqual([
        'audit:read',
        'auth:read',
        'config:read',
        'plugins:read',
        'roles:read',
        'users:read',
        'webhooks:read',
      ]);
    });

    it('creates, reads, updates the fields present, lists and deletes a role', async () => {
      const res = await createRole({
        name: 'support',
        description: 'Helpdesk',
        permissions: ['users:read', 'users:write'],
      });
      expect(res.statusCode).toBe(201);
      const role = res.json();
      expect(role).toMatchObject({
        id: expect.stringMatching(/^role_/),
        name: 'support',
        description: 'Helpdesk',
        builtin: false,
      });
      expect(res.headers.location).toBe(`/api/roles/${role.id}`);
      expect((await app.request({ method: 'GET', url: `/api/roles/${role.id}` })).json()).toEqual(role);
      const upd = await app.request({
        method: 'PUT',
        url: `/api/roles/${role.id}`,
        payload: { permissions: ['users:read'] },
      });
      expect(upd.json()).toMatchObject({
        name: 'support',
        description: 'Helpdesk',
        permissions: ['users:read'],
      });
      expect((await app.request({ method: 'DELETE', url: `/api/roles/${role.id}` })).statusCode).toBe(204);
      expectProblem(await app.request({ method: 'GET', url: `/api/roles/${role.id}` }), 404, 'not_found');
    });

    it("assigns and unassigns idempotently; a user's roles and a role's members page by cursor", async () => {
      const role = (await createRole({ name: 'viewers', permissions: ['users:read'] })).json();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const user = (await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).json();
        ids.push(user.id);
        for (let k = 0; k < 2; k++)
          expect(
            (await app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${role.id}` })).statusCode,
          ).toBe(204);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await app.request({
          method: 'GET',
          url: `/api/roles/${role.id}/members?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        });
        const body = res.json();
        seen.push(...body.data.map((m: { id: string }) => m.id));
        cursor = body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(ids);
      const mine = (await app.request({ method: 'GET', url: `/api/users/${ids[0]}/roles` })).json();
      expect(mine.data.map((r: { id: string }) => r.id)).toEqual([role.id]);
      for (let k = 0; k < 2; k++)
        expect(
          (await app.request({ method: 'DELETE', url: `/api/users/${ids[0]}/roles/${role.id}` })).statusCode,
        ).toBe(204);
      expect((await app.request({ method: 'GET', url: `/api/users/${ids[0]}/roles` })).json().data).toEqual(
        [],
      );
    });

    it('lets the auditor role be edited, but not renamed or emptied', async () => {
      const res = await app.request({
        method: 'PUT',
        url: `/api/roles/${AUDITOR_ROLE}`,
        payload: { description: 'Compliance' },
      });
      expect(res.json()).toMatchObject({ name: 'auditor', description: 'Compliance' });
    });
  });

  describe('rejects', () => {
    const badPermissions = [
      'USERS:READ',
      'users:read ',
      ' users:read',
      'users:admin',
      'users',
      '**',
      'Users:read',
      'users:*',
    ];
    for (const p of badPermissions) {
      it(`permission ${JSON.stringify(p)}: 400, nothing created`, async () => {
        const before = await counts(app);
        const problem = expectProblem(
          await createRole({ name: `bad${badPermissions.indexOf(p)}`, permissions: [p] }),
          400,
          'validation_failed',
        );
        expect(problem.errors?.[0]?.pointer).toBe('/permissions/0');
        expect((await counts(app)).outbox).toBe(before.outbox);
      });
    }

    it('duplicate names (409), bad names and unknown fields (400)', async () => {
      await createRole({ name: 'dupe', permissions: [] });
      expectProblem(await createRole({ name: 'dupe', permissions: [] }), 409, 'role.name_taken');
      expectProblem(await createRole({ name: 'Bad Name', permissions: [] }), 400, 'validation_failed');
      expectProblem(
        await createRole({ name: 'x', permissions: [], builtin: true }),
        400,
        'validation_failed',
      );
      expectProblem(
        await createRole({ name: 'x', permissions: ['users:read', 'users:read'] }),
        400,
        'validation_failed',
      );
    });

    it('built-in roles cannot be deleted, renamed or emptied; admin keeps *', async () => {
      const before = await counts(app);
      expectProblem(
        await app.request({ method: 'DELETE', url: `/api/roles/${ADMIN_ROLE}` }),
        409,
        'role.builtin',
      );
      expectProblem(
        await app.request({ method: 'DELETE', url: `/api/roles/${AUDITOR_ROLE}` }),
        409,
        'role.builtin',
      );
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/roles/${AUDITOR_ROLE}`, payload: { name: 'readers' } }),
        409,
        'role.builtin',
      );
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/roles/${AUDITOR_ROLE}`, payload: { permissions: [] } }),
        409,
        'role.builtin',
      );
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/roles/${ADMIN_ROLE}`,
          payload: { permissions: ['users:read'] },
        }),
        409,
        'role.builtin',
      );
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    it('unknown role or user ids: 404', async () => {
      const user = (await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).json();
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${user.id}/roles/role_01jd8y6v7kf3zr4x6qk9n2m1ab`,
        }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/user_01jd8y6v7kf3zr4x6qk9n2m1ab/roles/${ADMIN_ROLE}`,
        }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/users/nope/roles/${ADMIN_ROLE}` }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({ method: 'GET', url: '/api/roles/role_01jd8y6v7kf3zr4x6qk9n2m1ab/members' }),
        404,
        'not_found',
      );
    });
  });

  describe('audit', () => {
    it('create, update, assign, unassign and delete each write one audit row and one event', async () => {
      const user = (await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).json();
      const steps: [string, () => Promise<unknown>][] = [];
      let roleId = '';
      steps.push([
        'role.create',
        async () => (roleId = (await createRole({ name: 'audited', permissions: ['users:read'] })).json().id),
      ]);
      steps.push([
        'role.update',
        () => app.request({ method: 'PUT', url: `/api/roles/${roleId}`, payload: { description: 'x' } }),
      ]);
      steps.push([
        'role.assign',
        () => app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${roleId}` }),
      ]);
      steps.push([
        'role.unassign',
        () => app.request({ method: 'DELETE', url: `/api/users/${user.id}/roles/${roleId}` }),
      ]);
      steps.push(['role.delete', () => app.request({ method: 'DELETE', url: `/api/roles/${roleId}` })]);
      for (const [action, step] of steps) {
        const before = await counts(app);
        await step();
        const after = await counts(app);
        expect([action, after.audit - before.audit, after.outbox - before.outbox]).toEqual([action, 1, 1]);
        const last = await app.database.db
          .selectFrom('audit_events')
          .select(['action', 'outcome'])
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow();
        expect(last).toEqual({ action, outcome: 'success' });
      }
    });

    it('a repeated assignment changes nothing and writes nothing', async () => {
      const user = (await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).json();
      await app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${AUDITOR_ROLE}` });
      const before = await counts(app);
      await app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${AUDITOR_ROLE}` });
      expect(await counts(app)).toEqual(before);
    });
  });
});
