import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ROLE,
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  let manager: Awaited<ReturnType<typeof makePrincipal>>;
  beforeAll(async () => {
    app = await startTestApp(database().url);
    // Manages roles and tokens, reads users; holds nothing else.
    manager = await makePrincipal(app, {
      permissions: ['roles:read', 'roles:write', 'tokens:write', 'users:read'],
    });
  });
  afterAll(async () => app?.close());

  const as = (token: string) => ({ token });
  /** The request is refused with `status`/`code` and nothing changes: no event, the same rows. */
  async function refused(
    send: () => Promise<Awaited<ReturnType<TestApp['request']>>>,
    status: number,
    code: string,
  ) {
    const before = await counts(app);
    const res = await send();
    const problem = expectProblem(res, status, code);
    const after = await counts(app);
    expect(after.outbox).toBe(before.outbox);
    expect(after.users).toBe(before.users);
    expect(after.audit - before.audit).toBe(1);
    return problem;
  }

  describe('rejects: no escalation', () => {
    it('a roles:write holder cannot assign itself admin', async () => {
      const p = await refused(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${manager.userId}/roles/${ADMIN_ROLE}`,
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('*');
      const roles = (await app.request({ method: 'GET', url: `/api/users/${manager.userId}/roles` })).json()
        .data;
      expect(roles.map((r: { id: string }) => r.id)).not.toContain(ADMIN_ROLE);
    });

    it('cannot create a role with a permission it lacks', async () => {
      const p = await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/roles',
            payload: { name: 'sneaky', permissions: ['users:read', 'audit:read'] },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('audit:read');
      await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/roles',
            payload: { name: 'sneaky2', permissions: ['*'] },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
    });

    it('cannot widen its own role', async () => {
      const p = await refused(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/roles/${manager.roleId!}`,
            payload: {
              permissions: ['roles:read', 'roles:write', 'tokens:write', 'users:read', 'users:write'],
            },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('users:write');
    });

    it('cannot edit a role stronger than itself, even to narrow it', async () => {
      const strong = (
        await app.request({
          method: 'POST',
          url: '/api/roles',
          payload: { name: 'strong', permissions: ['audit:read', 'users:read'] },
        })
      ).json();
      await refused(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/roles/${strong.id}`,
            payload: { permissions: ['users:read'] },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
    });

    it('cannot mint a token with * or with a scope it lacks', async () => {
      await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/tokens',
            payload: { name: 'x', scopes: ['*'] },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
      const p = await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/tokens',
            payload: { name: 'x', scopes: ['users:write'] },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('users:write');
    });

    it('cannot mint a token for a stronger service account, even with scopes it holds', async () => {
      const service = await makePrincipal(app, {
        permissions: ['users:read', 'users:write', 'audit:read'],
        kind: 'service',
      });
      const p = await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/tokens',
            payload: { name: 'x', scopes: ['users:read'], user_id: service.userId },
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('audit:read');
    });

    it("cannot rotate a stronger user's token", async () => {
      const strong = await makePrincipal(app, { permissions: ['users:read', 'audit:read'] });
      await refused(
        () =>
          app.request({
            method: 'POST',
            url: `/api/tokens/${strong.tokenId}/rotate`,
            payload: {},
            ...as(manager.token),
          }),
        403,
        'forbidden',
      );
    });

    it('a token narrower than its owner cannot mint beyond the token', async () => {
      const narrow = await makePrincipal(app, {
        permissions: ['tokens:write', 'users:read', 'users:write'],
        scopes: ['tokens:write', 'users:read'],
      });
      await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/tokens',
            payload: { name: 'x', scopes: ['users:write'] },
            ...as(narrow.token),
          }),
        403,
        'forbidden',
      );
    });
  });

  describe('succeeds', () => {
    it('mints within its own scopes, for itself and for a weaker user; unassigns to demote', async () => {
      const own = await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name: 'mine', scopes: ['users:read'] },
        ...as(manager.token),
      });
      expect(own.statusCode, own.body).toBe(201);
      const weak = await makePrincipal(app, { permissions: ['users:read'] });
      const forWeak = await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name: 'w', scopes: ['users:read'], user_id: weak.userId },
        ...as(manager.token),
      });
      expect(forWeak.statusCode, forWeak.body).toBe(201);
      const demote = await app.request({
        method: 'DELETE',
        url: `/api/users/${weak.userId}/roles/${weak.roleId!}`,
        ...as(manager.token),
      });
      expect(demote.statusCode).toBe(204);
    });
  });

  describe('rejects: the last admin stays', () => {
    let otherAdminToken = '';
    // The bootstrap admin is the only admin here.
    it('by deleting the user', async () => {
      await refused(
        () => app.request({ method: 'DELETE', url: `/api/users/${app.adminId}` }),
        409,
        'user.last_admin',
      );
    });
    it('by disabling the user', async () => {
      await refused(
        () => app.request({ method: 'PUT', url: `/api/users/${app.adminId}`, payload: { disabled: true } }),
        409,
        'user.last_admin',
      );
    });
    it('by unassigning the admin role', async () => {
      await refused(
        () => app.request({ method: 'DELETE', url: `/api/users/${app.adminId}/roles/${ADMIN_ROLE}` }),
        409,
        'user.last_admin',
      );
    });
    it('by editing the admin role', async () => {
      await refused(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/roles/${ADMIN_ROLE}`,
            payload: { permissions: ['users:read'] },
          }),
        409,
        'role.builtin',
      );
    });
    it('by deleting the admin role', async () => {
      await refused(
        () => app.request({ method: 'DELETE', url: `/api/roles/${ADMIN_ROLE}` }),
        409,
        'role.builtin',
      );
    });

    it('but an admin can go once another enabled admin exists; a disabled admin does not count', async () => {
      const other = (await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).json();
      await app.request({ method: 'PUT', url: `/api/users/${other.id}/roles/${ADMIN_ROLE}` });
      await app.request({ method: 'PUT', url: `/api/users/${other.id}`, payload: { disabled: true } });
      expectProblem(
        await app.request({ method: 'DELETE', url: `/api/users/${app.adminId}/roles/${ADMIN_ROLE}` }),
        409,
        'user.last_admin',
      );
      await app.request({ method: 'PUT', url: `/api/users/${other.id}`, payload: { disabled: false } });
      // Disabling revoked its tokens; re-enabled, it needs a new one.
      otherAdminToken = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 't', scopes: ['*'], user_id: other.id },
        })
      ).json().secret;
      const res = await app.request({
        method: 'DELETE',
        url: `/api/users/${app.adminId}/roles/${ADMIN_ROLE}`,
      });
      expect(res.statusCode).toBe(204);
    });

    it('two concurrent removals of the last two admins leave one', async () => {
      const a = (
        await app.request({ method: 'POST', url: '/api/users', payload: makeUser(), token: otherAdminToken })
      ).json();
      const b = (
        await app.request({ method: 'POST', url: '/api/users', payload: makeUser(), token: otherAdminToken })
      ).json();
      // The bootstrap admin gave up its role above; the other admin carries on.
      const tokenFor = async (id: string) => {
        await app.request({
          method: 'PUT',
          url: `/api/users/${id}/roles/${ADMIN_ROLE}`,
          token: otherAdminToken,
        });
        return (
          await app.request({
            method: 'POST',
            url: '/api/tokens',
            payload: { name: 't', scopes: ['*'], user_id: id },
            token: otherAdminToken,
          })
        ).json().secret as string;
      };
      const ta = await tokenFor(a.id);
      const tb = await tokenFor(b.id);
      // Remove every other admin first, so exactly a and b remain.
      const members = (
        await app.request({ method: 'GET', url: `/api/roles/${ADMIN_ROLE}/members?limit=500`, token: ta })
      ).json().data;
      for (const m of members)
        if (m.id !== a.id && m.id !== b.id)
          await app.request({ method: 'DELETE', url: `/api/users/${m.id}/roles/${ADMIN_ROLE}`, token: ta });
      const results = await Promise.all([
        app.request({ method: 'DELETE', url: `/api/users/${b.id}/roles/${ADMIN_ROLE}`, token: ta }),
        app.request({ method: 'DELETE', url: `/api/users/${a.id}/roles/${ADMIN_ROLE}`, token: tb }),
      ]);
      expect(results.map((r) => r.statusCode).sort()).toEqual([204, 409]);
      const left = (
        await app.request({
          method: 'GET',
          url: `/api/roles/${ADMIN_ROLE}/members`,
          token: results[0].statusCode === 204 ? ta : tb,
        })
      ).json().data;
      expect(left).toHaveLength(1);
    });
  });
});
